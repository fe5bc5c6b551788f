-- wrk script: event 1 (setup) for a new call id on every request, every body compared with the
-- exact bytes expected. Driven by bench/load.py (--client wrk), which sets:
--   JAXL_TEMPLATE   a file holding the JSON body, with @CALL_ID@ where the call id goes
--   JAXL_EXPECT     a file holding the exact response body (already checked as JSON)
--   JAXL_CALL_BASE  the first call id (each thread adds its own range)
--   JAXL_PATH       the webhook path (default /webhook/)
-- At the end it prints one line: JSON {...} with requests, errors, mismatches and latencies.

local function slurp(name)
  local f = assert(io.open(name, "rb"))
  local text = f:read("*a")
  f:close()
  return text
end

local template = slurp(os.getenv("JAXL_TEMPLATE"))
local at = string.find(template, "@CALL_ID@", 1, true)
local prefix = string.sub(template, 1, at - 1)
local suffix = string.sub(template, at + string.len("@CALL_ID@"))
local expected = slurp(os.getenv("JAXL_EXPECT"))
local base = tonumber(os.getenv("JAXL_CALL_BASE") or "1000000000000")
local path = os.getenv("JAXL_PATH") or "/webhook/"
local headers = { ["Content-Type"] = "application/json" }

local threads = {}
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

counter = 0
mismatches = 0
bad_status = 0

function init(args)
  base = base + (tid or 0) * 1000000000
end

function request()
  counter = counter + 1
  local body = prefix .. string.format("%d", base + counter) .. suffix
  return wrk.format("POST", path, headers, body)
end

function response(status, hdrs, body)
  if status ~= 200 then
    bad_status = bad_status + 1
  elseif body ~= expected then
    mismatches = mismatches + 1
  end
end

function done(summary, latency, requests)
  local bad, errors = 0, 0
  for _, t in ipairs(threads) do
    bad = bad + t:get("mismatches")
  end
  local e = summary.errors
  errors = e.connect + e.read + e.write + e.status + e.timeout
  io.write(string.format(
    'JSON {"requests": %d, "duration_us": %d, "errors": %d, "mismatches": %d, ' ..
    '"p50_us": %d, "p90_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, errors, bad,
    latency:percentile(50), latency:percentile(90), latency:percentile(99)))
end
