-- wrk script: authenticated GET /v1/users/{id} (the URL given to wrk); wrk counts every answer
-- but 2xx/3xx as an error. Arguments: see wrk_common.lua.
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua"
local common = require("wrk_common")

setup = common.setup
init = common.init
done = common.done
