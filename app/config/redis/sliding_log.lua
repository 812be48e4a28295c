-- The rate limiter's sliding log (detail_project/sliding_log.py explains it).
-- KEYS[1] = log key; ARGV[1] = limit; ARGV[2] = window in microseconds.
-- Returns +/- (count * (window_s + 1) + reset_s), positive when admitted.
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local log = redis.call('GET', key) or ''
local floor = now - window
local start, oldest = #log + 1, now
for i = 1, #log, 8 do
  local stamp = struct.unpack('<d', log, i)
  if stamp > floor then
    start, oldest = i, stamp
    break
  end
end
local count = (#log - start + 1) / 8
local seconds = math.ceil(window / 1000000)
local reset = math.min(seconds, math.max(1, math.ceil((oldest + window - now) / 1000000)))
if count >= limit then
  return -(count * (seconds + 1) + reset)
end
redis.call('SET', key, string.sub(log, start) .. struct.pack('<d', now),
           'PX', math.ceil(window / 1000))
return (count + 1) * (seconds + 1) + reset
