-- wrk script for bench/httpload.py. Latencies are microseconds.
--
-- Clients: with a pool size as the script's argument (`-- 16384`), every
-- request carries `X-Forwarded-For: 10.a.b.c` from a pool of that many
-- addresses, as a proxy in front of the app would send for many clients
-- (the bench inventory trusts the controller as that proxy). The requests
-- are formatted once per thread; each thread starts at its own place in the
-- pool. The -H headers (Host, and Connection or Accept-Encoding when given)
-- are kept.
--
-- Addresses: with WRK_ADDRESSES in the environment ("ip:port ip:port ..."),
-- wrk connects there instead of resolving the URL's host, which stays the
-- name the requests ask for (Host, TLS server name); thread i takes address
-- i modulo their count (two threads on two app hosts: one each). Every
-- address is kept: one that does not answer fails the run (wrk's own
-- resolver would drop it and measure the others).
local pool = {}
local size = 0
local index = 0
local threads = 0
local addresses = os.getenv("WRK_ADDRESSES") or ""

if addresses ~= "" then
  wrk.resolve = function(host, service)
    local addrs = {}
    for ip, port in addresses:gmatch("(%S+):(%d+)") do
      addrs[#addrs + 1] = wrk.lookup(ip, port)[1]
    end
    wrk.addrs = addrs
  end
end

setup = function(thread)
  thread:set("offset", threads * 7919)
  if addresses ~= "" then
    thread.addr = wrk.addrs[threads % #wrk.addrs + 1]
  end
  threads = threads + 1
end

init = function(args)
  size = tonumber(args[1] or "0") or 0
  for i = 0, size - 1 do
    local headers = {}
    for name, value in pairs(wrk.headers) do
      headers[name] = value
    end
    headers["X-Forwarded-For"] = string.format(
      "10.%d.%d.%d", math.floor(i / 65536) % 256, math.floor(i / 256) % 256, i % 256)
    pool[i + 1] = wrk.format(nil, nil, headers)
  end
  if size > 0 then
    index = (offset or 0) % size
  end
end

request = function()
  if size == 0 then
    return wrk.format()
  end
  index = index % size + 1
  return pool[index]
end

-- wrk's summary as one JSON line (wrk prints percentiles only as rounded
-- text otherwise).
done = function(summary, latency, requests)
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
      .. '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
