-- One header, its value picked at random from a file of values (keys or tokens) per request.
-- Env: VALUES_FILE (one value per line), HEADER (ApiKey or Authorization), PATH_ (request path)
-- Every request is formatted once, at start: wrk calls `request` for each request it sends,
-- and formatting there (a table and a string built per request) cost wrk's one thread about
-- a sixth of hello's rate, which the rows compare against (docs/performance.md, round 13).
local values = {}
local header = os.getenv("HEADER") or "ApiKey"
local path = os.getenv("PATH_") or "/v1/users/info"
local method = os.getenv("METHOD") or "GET"
for line in io.lines(os.getenv("VALUES_FILE")) do
  if #line > 0 then values[#values + 1] = line end
end
local requests = {}
local count = 0
math.randomseed(os.time())
init = function(args)
  for i, value in ipairs(values) do
    requests[i] = wrk.format(method, path, { [header] = value })
  end
  count = #requests
end
request = function()
  return requests[math.random(count)]
end
