-- POSTs the bodies of a file (one JSON document per line) in turn over keep-alive.
-- wrk -s rotate.lua URL -- PATH BODIES_FILE API_KEY
local bodies, index, path = {}, 0, "/"
local threads = {}
function setup(thread)
  thread:set("offset", #threads * 97)
  table.insert(threads, thread)
end
function init(args)
  path = args[1]
  for line in io.lines(args[2]) do bodies[#bodies + 1] = line end
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. args[3]
  index = offset or 0
end
function request()
  index = index % #bodies + 1
  return wrk.format("POST", path, nil, bodies[index])
end
function done(summary, latency, requests)
  local cdf = {}
  for _, p in ipairs({1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 97, 98, 99, 99.5, 99.9}) do
    cdf[#cdf + 1] = string.format("[%g,%d]", p, latency:percentile(p))
  end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"non2xx":%d,"socket_errors":%d,"mean_us":%.1f,' ..
    '"max_us":%d,"cdf":[%s]}\n', summary.requests, summary.duration, e.status,
    e.connect + e.read + e.write + e.timeout, latency.mean, latency.max, table.concat(cdf, ",")))
end
