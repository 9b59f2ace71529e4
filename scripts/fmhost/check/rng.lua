-- The PRNG of fmhost's property checks: splitmix64 on Lua 5.4's 64-bit
-- integers (whose arithmetic wraps), so a check never depends on
-- math.random and a (seed, run) pair names one case on every machine.
--
--   local Rng = require 'fmhost.check.rng'
--   local r = Rng.for_case(seed, run)   -- the stream of one case
--   r:next()        -> any 64-bit integer
--   r:int(lo, hi)   -> integer uniform in [lo, hi] (no modulo bias)
--   r:float()       -> float uniform in [0, 1)
--   r:bool(p)       -> true with probability p (default 0.5)
--   r:split()       -> an independent generator derived from this one
local Rng = {}
Rng.__index = Rng

local GOLDEN = 0x9e3779b97f4a7c15

-- splitmix64's finaliser: a bijection on 64-bit integers
local function mix(z)
  z = (z ~ (z >> 30)) * 0xbf58476d1ce4e5b9
  z = (z ~ (z >> 27)) * 0x94d049bb133111eb
  return z ~ (z >> 31)
end
Rng.mix = mix

function Rng.new(state)
  assert(math.type(state) == 'integer', 'Rng.new needs an integer state')
  return setmetatable({ s = state }, Rng)
end

-- The stream of run `run` under `seed`. Both go through the finaliser so
-- that neighbouring runs (or seeds) do not share shifted streams, which a
-- plain `seed + run * GOLDEN` would give with splitmix.
function Rng.for_case(seed, run)
  return Rng.new(mix(mix(seed ~ 0x243f6a8885a308d3) ~ mix(run * GOLDEN + 0x13198a2e03707344)))
end

function Rng:next()
  local s = self.s + GOLDEN
  self.s = s
  return mix(s)
end

function Rng:split()
  return Rng.new(mix(self:next() ~ 0x452821e638d01377))
end

function Rng:int(lo, hi)
  if hi < lo then error(string.format('Rng:int: empty range [%d, %d]', lo, hi), 2) end
  local span = hi - lo + 1                 -- wraps: 0 stands for 2^64
  if span == 0 then return self:next() end
  if span > 0 then                         -- span < 2^63: draw 63 bits, reject the tail
    local rem = (math.maxinteger % span + 1) % span
    local limit = math.maxinteger - rem
    while true do
      local r = self:next() >> 1
      if r <= limit then return lo + r % span end
    end
  end
  while true do                            -- span >= 2^63: accept at least half the draws
    local r = self:next()
    if math.ult(r, span) then return lo + r end
  end
end

function Rng:float()
  return (self:next() >> 11) * (1.0 / 9007199254740992.0)
end

function Rng:bool(p)
  return self:float() < (p or 0.5)
end

return Rng
