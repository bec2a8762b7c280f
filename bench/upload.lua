-- POST /uploads (multipart) of a generated Apogée relevé batch: validation, storage and the
-- treatment registered (202); the split itself runs in the server's workers meanwhile (run.sh
-- then measures how long the queue takes to drain). Env: TOKEN (admin JWT), BODY (multipart
-- body file), BOUNDARY.
package.path = (os.getenv("BENCH_DIR") or "bench") .. "/?.lua;" .. package.path
local report = require("report")
local token = assert(os.getenv("TOKEN"), "TOKEN not set")
local f = assert(io.open(assert(os.getenv("BODY"), "BODY not set"), "rb"))
wrk.method = "POST"
wrk.path = "/uploads"
wrk.body = f:read("*a")
f:close()
wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. assert(os.getenv("BOUNDARY"))
function done(summary, latency, requests) report.done("upload_split", summary, latency) end
