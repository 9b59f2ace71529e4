-- Seed property 18 over fmhost.metrics' histogram, the measure behind every
-- latency and throughput figure fmhost reports (acquire times, the sampler's
-- rates, benchmark percentiles): for any recorded values, with weights, the
-- count, minimum, maximum and mean are exact, every percentile is within the
-- stated relative error of the nearest-rank value of the sorted data (exact
-- below 256), and histograms filled apart (one per thread or per run) merge
-- into exactly the histogram of all the values. A failure names its seed; the
-- seed replays it.
local check = require 'fmhost.check'
local metrics = require 'fmhost.metrics'
local g = check.gen

local REL = 1 / 256 -- FMH_HIST_REL_ERROR, also what README and h:summary() state

-- values of every shape a measurement takes: small exact ones, log-uniform
-- magnitudes up to 2^62, the edges of buckets, and one value repeated
local value = g.frequency {
  { 3, g.int(0, 300) },
  { 4, g.tuple(g.int(0, 61), g.int(0, (1 << 30) - 1)):map(function(t)
      local e, f = t[1], t[2]
      return (1 << e) + ((f << e) >> 30) -- 2^e .. 2^(e+1)-1
    end) },
  { 2, g.tuple(g.int(1, 62), g.elements { -1, 0, 1 }):map(function(t) return (1 << t[1]) + t[2] end) },
  { 1, g.constant(123456789) },
}

local record = g.tuple(value, g.frequency { { 4, g.constant(1) }, { 1, g.int(0, 7) } })

local QS = { 0, 0.1, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 100 }

describe('metrics properties', function()
  it('Feature: flink-mysql-connector-test, Property 18: a histogram reports exact counts and percentiles within its bound, and merges exactly', function()
    check.property {
      name = 'Feature: flink-mysql-connector-test, Property 18: performance metrics collection',
      gen = g.record { records = g.array(record, { min = 1, max = 400 }), split = g.int(0, 400),
                       q = g.float(0, 100) },
      fn = function(v)
        local h, a, b = metrics.histogram(), metrics.histogram(), metrics.histogram()
        local sorted, sum = {}, 0
        for i, r in ipairs(v.records) do
          local x, w = r[1], r[2]
          h:record(x, w)
          if i <= v.split then a:record(x, w) else b:record(x, w) end
          for _ = 1, w do sorted[#sorted + 1] = x end
          sum = sum + (x + 0.0) * w -- as the histogram sums: in doubles
        end
        table.sort(sorted)
        local n = #sorted
        assert(h:count() == n, ('count %d, %d values recorded'):format(h:count(), n))
        if n == 0 then
          assert(h:min() == nil and h:max() == nil and h:percentile(50) == nil, 'an empty histogram reports values')
          return
        end
        assert(h:min() == sorted[1] and h:max() == sorted[n], ('min %d max %d, the data %d .. %d'):format(
          h:min(), h:max(), sorted[1], sorted[n]))
        assert(math.abs(h:mean() - sum / n) <= 1e-12 * math.max(1, sum / n), 'mean ' .. h:mean())
        local qs = { v.q, table.unpack(QS) }
        for _, q in ipairs(qs) do
          local want = sorted[math.max(1, math.ceil(q / 100 * n))]
          local got = h:percentile(q)
          local bound = want < 256 and 0 or want * REL
          assert(math.abs(got - want) <= bound,
                 ('p%s = %d, the nearest-rank value is %d (off by %g, bound %g)'):format(q, got, want,
                                                                                       math.abs(got - want), bound))
        end
        local s = h:summary()
        for k, q in pairs { p50 = 50, p90 = 90, p95 = 95, p99 = 99, p999 = 99.9 } do
          assert(s[k] == h:percentile(q), ('summary %s = %s, percentile %s'):format(k, tostring(s[k]),
                                                                                   tostring(h:percentile(q))))
        end
        -- filled apart, merged: the same histogram
        a:merge(b)
        assert(a:count() == n and a:min() == h:min() and a:max() == h:max(), 'the merge lost counts or extremes')
        for _, q in ipairs(qs) do
          assert(a:percentile(q) == h:percentile(q), ('merged p%s = %d, whole p%s = %d'):format(q, a:percentile(q), q,
                                                                                             h:percentile(q)))
        end
      end,
    }
  end)
end)
