-- wrk script of the totpkit scaling benchmark: every request verifies one not-yet-used second factor.
--
-- TOTPKIT_BENCH_REQUESTS names a file of prepared requests, one per line: "<path>\t<form body>".
-- Each is sent once, in order; the runner prepares more than a run can send (a request sent twice
-- would be a replay, refused with 422, and the run would fail its every-request-succeeded check).
local requests = {}
local index = 0

function init(args)
  local key = os.getenv("TOTPKIT_BENCH_SECRET_KEY")
  local headers = {
    ["Authorization"] = "Bearer " .. key,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }
  for line in io.lines(os.getenv("TOTPKIT_BENCH_REQUESTS")) do
    local target, body = line:match("^(%S+)\t(.*)$")
    requests[#requests + 1] = wrk.format("POST", target, headers, body)
  end
end

function request()
  index = index % #requests + 1
  return requests[index]
end
