-- Shared by the scenario scripts: one machine-readable line per wrk run.
-- RESULT <scenario> <requests/s> <p50 ms> <p99 ms> <requests> <non-2xx/3xx> <socket errors>
local M = {}
function M.done(scenario, summary, latency)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format("RESULT %s %.0f %.2f %.2f %d %d %d\n", scenario,
    summary.requests / seconds, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.requests, e.status, e.connect + e.read + e.write + e.timeout))
end
return M
