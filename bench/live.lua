-- GET /health/live: no database, no authentication — the ceiling of the HTTP stack.
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
local report = require("report")
wrk.method = "GET"
wrk.path = "/health/live"
function done(summary, latency, requests) report.done("health_live", summary, latency) end
