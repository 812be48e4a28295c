-- A login succeeded (detail_project/login_throttle.py): the same KEYS and tag.
-- Remove this username's entry from the address record (keeping its expiry)
-- and forget the username's and the browser's counts.
local record = redis.call('GET', KEYS[1])
if record then
  local kept = string.gsub(record, ARGV[1] .. '=%d+;', '')
  if kept == '' then
    redis.call('DEL', KEYS[1])
  elseif kept ~= record then
    redis.call('SET', KEYS[1], kept, 'KEEPTTL')
  end
end
redis.call('DEL', KEYS[2])
if KEYS[3] ~= nil then redis.call('DEL', KEYS[3]) end
return 1
