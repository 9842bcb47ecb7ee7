-- The soak's traffic: API keys picked at random from a file, at a paced rate. Of every ten
-- requests, eight ask who the key belongs to, one trades the key for a token, one lists the
-- key owner's keys. Env: VALUES_FILE (one key per line), DELAY_MS (pause before each
-- request, per connection: connections × 1000 / DELAY_MS is the rate).
local values = {}
for line in io.lines(os.getenv("VALUES_FILE")) do
  if #line > 0 then values[#values + 1] = line end
end
local pause = tonumber(os.getenv("DELAY_MS") or "0")
local counter = 0
math.randomseed(os.time())

delay = function()
  return pause
end

request = function()
  counter = counter + 1
  local headers = { ApiKey = values[math.random(#values)] }
  local turn = counter % 10
  if turn == 0 then
    return wrk.format("POST", "/v1/auth/authenticate", headers)
  elseif turn == 5 then
    return wrk.format("GET", "/v1/apiKeys?limit=50", headers)
  end
  return wrk.format("GET", "/v1/users/info", headers)
end
