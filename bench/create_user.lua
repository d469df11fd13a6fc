-- wrk script: POST /v1/users with a fresh Idempotency-Key and a unique email on every request, so
-- that every request creates a user (201); a 409 or any other error shows in wrk's counts.
-- Arguments: see wrk_common.lua.
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua"
local common = require("wrk_common")

local counter = 0
local prefix = "bench"

setup = common.setup

init = function(args)
  common.init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  prefix = common.tag .. "-" .. tostring(thread_number or 0)
  math.randomseed(os.time() + (thread_number or 0) * 7919)
end

-- A random version-4 UUID.
local function uuid()
  return string.format("%08x-%04x-4%03x-%04x-%06x%06x", math.random(0, 0xffffffff), math.random(0, 0xffff),
    math.random(0, 0xfff), 0x8000 + math.random(0, 0x3fff), math.random(0, 0xffffff), math.random(0, 0xffffff))
end

request = function()
  counter = counter + 1
  local body = '{"type":"individual","first_name":"Ada","last_name":"Lovelace","email":"' .. prefix .. "-" .. counter ..
    '@example.com","source_of_funds":"salary"}'
  wrk.headers["Idempotency-Key"] = uuid()
  return wrk.format(nil, nil, nil, body)
end

done = common.done
