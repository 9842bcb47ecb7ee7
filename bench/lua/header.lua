-- One header, its value picked at random from a file of values (keys or tokens) per request.
-- Env: VALUES_FILE (one value per line), HEADER (ApiKey or Authorization), PATH_ (request path)
local values = {}
local header = os.getenv("HEADER") or "ApiKey"
local path = os.getenv("PATH_") or "/v1/users/info"
local method = os.getenv("METHOD") or "GET"
for line in io.lines(os.getenv("VALUES_FILE")) do
  if #line > 0 then values[#values + 1] = line end
end
math.randomseed(os.time())
request = function()
  local headers = {}
  headers[header] = values[math.random(#values)]
  return wrk.format(method, path, headers)
end
