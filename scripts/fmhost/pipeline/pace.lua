-- The rows a paced source still has to deliver: a list of ranges
-- {{first row, count}, ...}, taken from the front a batch at a time by the
-- pipeline's file and table deliveries (fmhost.pipeline) and its JetStream
-- publishing (fmhost.pipeline_nats).
local M = {}

-- Take up to want rows off the front of ranges (changed in place):
-- the ranges taken, {{first, count}, ...}, empty when none are left.
function M.take(ranges, want)
  local take = {}
  while want > 0 and #ranges > 0 do
    local r = ranges[1]
    local n = math.min(want, r[2])
    take[#take + 1] = { r[1], n }
    r[1], r[2] = r[1] + n, r[2] - n
    if r[2] == 0 then table.remove(ranges, 1) end
    want = want - n
  end
  return take
end

return M
