-- Count one login attempt or refuse it (detail_project/login_throttle.py).
-- KEYS: address record, username record[, browser record]. ARGV: the username's
-- tag, limit, lockout ms, first delay ms, longest delay ms.
-- Returns {0, 0} admitted, {1, ms} address locked, {2, ms} delayed.
local tag, limit, lockout = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local first, longest = tonumber(ARGV[4]), tonumber(ARGV[5])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local record = redis.call('GET', KEYS[1]) or ''
local total, mine = 0, 0
for entry, n in string.gmatch(record, '(%x+)=(%d+);') do
  total = total + tonumber(n)
  if entry == tag then mine = tonumber(n) end
end
if total >= limit then
  redis.call('PEXPIRE', KEYS[1], lockout)
  return {1, lockout}
end
local user = redis.call('GET', KEYS[2]) or '0:0'
local sep = string.find(user, ':', 1, true)
local count, next_at = tonumber(string.sub(user, 1, sep - 1)), tonumber(string.sub(user, sep + 1))
local known = KEYS[3] ~= nil and tonumber(redis.call('GET', KEYS[3]) or '0') < limit
if not known and now < next_at then
  return {2, next_at - now}
end
local kept = string.gsub(record, tag .. '=%d+;', '')
redis.call('SET', KEYS[1], kept .. tag .. '=' .. (mine + 1) .. ';', 'PX', lockout)
count = count + 1
local delay = 0
if count >= limit then delay = math.floor(math.min(first * 2 ^ (count - limit), longest)) end
redis.call('SET', KEYS[2], count .. ':' .. string.format('%d', now + delay), 'PX', delay + lockout)
if KEYS[3] ~= nil then
  redis.call('INCRBY', KEYS[3], 1)
  redis.call('PEXPIRE', KEYS[3], lockout)
end
return {0, 0}
