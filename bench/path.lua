-- One GET, over and over: `bench/registry.sh` runs each registry request on its own.
-- Env: TOKEN (bearer), REQUEST_PATH, SCENARIO (the name in the RESULT line).
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
local report = require("report")
local token = os.getenv("TOKEN")
local scenario = os.getenv("SCENARIO") or "path"
wrk.method = "GET"
wrk.path = assert(os.getenv("REQUEST_PATH"), "REQUEST_PATH not set")
if token then wrk.headers["Authorization"] = "Bearer " .. token end
function done(summary, latency, requests) report.done(scenario, summary, latency) end
