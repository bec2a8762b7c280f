-- GET /vaults as a manager of composante 901 (6,000 of the 60,000 vaults): the everyday
-- filtered list — status, composante and a name search, rotating over a few names, and
-- every fifth request an unfiltered first page of the composante.
-- Env: TOKEN (manager JWT).
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
local report = require("report")
local token = assert(os.getenv("TOKEN"), "TOKEN not set")
local paths = {
  "/vaults?status=not_transmitted&composante=901&q=dupont&per_page=50",
  "/vaults?status=not_transmitted&composante=901&q=martin&per_page=50",
  "/vaults?status=not_transmitted,active&composante=901&q=lefevre&per_page=50",
  "/vaults?composante=901&q=3000&per_page=50",
  "/vaults?composante=901&per_page=50",
}
local n = 0
function request()
  n = n + 1
  return wrk.format("GET", paths[(n % #paths) + 1], { ["Authorization"] = "Bearer " .. token })
end
function done(summary, latency, requests) report.done("vaults_filtered", summary, latency) end
