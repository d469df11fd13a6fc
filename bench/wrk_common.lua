-- Shared by bench/get_user.lua and bench/create_user.lua: authenticated headers from the script's
-- arguments, an optional budget of answers per thread (to read memory after an exact count), and a
-- JSON summary line for bench/run.
local common = {}

local threads = 0
-- Numbers the threads 1, 2, … (for unique emails and budget marker files).
function common.setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

-- wrk ... -s SCRIPT URL -- TOKEN API_KEY [BUDGET_PER_THREAD MARKER_PREFIX] [RUN_TAG]
function common.init(args)
  wrk.headers["x-api-key"] = args[2]
  wrk.headers["Authorization"] = "Bearer " .. args[1]
  wrk.headers["X-Api-Version"] = "2026-04-14"
  common.budget = tonumber(args[3] or "0") or 0
  common.marker = args[4]
  common.tag = args[5] or "bench"
  common.answered = 0
  if common.budget > 0 then response = common.response end
end

-- Once this thread's budget of answers is spent: stop it and leave a marker file, so that bench/run
-- can end the run (wrk itself would wait out its duration).
function common.response(status, headers, body)
  common.answered = common.answered + 1
  if common.answered == common.budget then
    if common.marker then
      local file = io.open(common.marker .. tostring(thread_number), "w")
      if file then file:write(tostring(common.answered)); file:close() end
    end
    wrk.thread:stop()
  end
end

function common.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"stdev":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.stdev, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end

return common
