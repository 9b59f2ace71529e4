-- `require "fmhost"` gives one table through which every module loads on
-- first use: fmhost.pool, fmhost.flink, fmhost.check, ... The REPL exposes it
-- as the global `fmhost`.
return setmetatable({}, {
  __index = function(t, name)
    local ok, mod = pcall(require, 'fmhost.' .. name)
    if not ok then error(mod, 2) end
    rawset(t, name, mod)
    return mod
  end,
})
