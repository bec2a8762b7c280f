-- POST /webhooks/digiposte with receipts signed in advance (HMAC-SHA256 of "<ts>.<body>":
-- Lua cannot sign fast enough, so bench_seed writes one signed request per line:
-- "<timestamp>\t<signature>\t<body>"). Every receipt id is unique and names a document that
-- awaits its receipt: the first receipt of a document applies it, the next ones are ignored
-- (final state) — both answer 200. Each thread takes every Nth line (N = threads of all the
-- wrk processes run together, one per instance); a thread that runs out wraps round (then
-- answers are `duplicate`, still 200) and the run reports it.
-- Env: RECEIPTS (file), WRK_THREADS (wrk's -t), WRK_PROCESS (0-based index of this wrk among
-- those run together, default 0), WRK_PROCESSES (how many, default 1).
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
local report = require("report")
local file = assert(os.getenv("RECEIPTS"), "RECEIPTS not set")
-- wrk gives a thread's script no thread count: run.sh passes it (WRK_THREADS = wrk's -t).
local nthreads = tonumber(os.getenv("WRK_THREADS") or "2")
local process = tonumber(os.getenv("WRK_PROCESS") or "0")
local processes = tonumber(os.getenv("WRK_PROCESSES") or "1")
local threads = {}
local counter = 0
function setup(thread)
  thread:set("index", counter)
  thread:set("count", 0)
  counter = counter + 1
  assert(counter <= nthreads, "WRK_THREADS is smaller than wrk's -t")
  table.insert(threads, thread)
end
local lines, step, first, pos, wrapped
function init(args)
  lines = {}
  for line in io.lines(file) do
    local ts, sig, body = line:match("^([^\t]+)\t([^\t]+)\t(.*)$")
    lines[#lines + 1] = { ts, sig, body }
  end
  step = nthreads * processes
  first = process * nthreads + index + 1
  pos = first
  wrapped = 0
end
function request()
  if pos > #lines then
    pos = first
    wrapped = wrapped + 1
    count = wrapped
  end
  local r = lines[pos]
  pos = pos + step
  return wrk.format("POST", "/webhooks/digiposte", {
    ["Content-Type"] = "application/json",
    ["X-Digiposte-Timestamp"] = r[1],
    ["X-Digiposte-Signature"] = r[2],
  }, r[3])
end
function done(summary, latency, requests)
  local wraps = 0
  for _, t in ipairs(threads) do wraps = wraps + (t:get("count") or 0) end
  if wraps > 0 then io.write("NOTE webhook receipts file wrapped " .. wraps .. " times (duplicates answered)\n") end
  report.done("webhook_receipts", summary, latency)
end
