-- A pipeline result reaches the HTML report: fmhost.pipeline_report turns it
-- into the report's table and writes it where htmlreport.from_run reads it.
local PR = require 'fmhost.pipeline_report'
local H = require 'fmhost.htmlreport'
local T = require 'fmhost.testing'

-- A failed run shaped as fmhost.pipeline.run returns it (verdict from
-- fmhost.validate, a load run's figures, one fault).
local function failed_run()
  return {
    name = 'orders', seed = 7, rows = 3000, ok = false, sink_table = 'pl_orders_out',
    job = { id = 'abc', state = 'FINISHED', restarts = 1 }, job_ok = true,
    faults = { { action = 'kill_taskmanager', t_s = 2.5, ok = true } },
    timings = { total_s = 9.5, job_s = 8.0 },
    verdict = {
      ok = false,
      counts = { expected = 3000, actual = 2990, present = 2990, exact = 2980, differing = 10, missing = 10,
                 extra = 0, duplicated = 0, expected_duplicated = 0 },
      missing = { 2991, 2992 }, extra = {}, duplicated = {},
      columns = { { name = 'id', mismatches = 0 }, { name = 'amount', mismatches = 10 } },
      mismatches = {
        { key = 4, column = 'amount', expected = '12.345', actual = '12.35', reason = 'decimal' },
        { key = 9, column = 'amount', expected = '1.005', actual = '1.01', reason = 'decimal' },
        { key = 11, column = 'amount', expected = '2.125', actual = '2.13', reason = 'decimal' },
      },
    },
    load = { per_s = { 0, 800, 1200, 1100 }, latency = { n = 2990, p50_ms = 120, p90_ms = 300, p99_ms = 900, max_ms = 1500 },
             backpressure = { share = 0.25, busy_share = 0.8 } },
  }
end

describe('pipeline results in the HTML report', function()
  it('turns a failed run into the report table: verdict, counts, the differing column with two samples, figures', function()
    local t = PR.table(failed_run())
    assert.are.equal('orders', t.name)
    assert.are.equal('FAIL', t.verdict)
    assert.matches('10 expected row%(s%) missing', t.cause)
    assert.are.same({ expected = 3000, actual = 2990, matched = 2990, exact = 2980, missing = 10, extra = 0,
                      duplicated = 0, mismatched = 10 }, t.counts)
    assert.are.equal(1, #t.mismatches)
    assert.are.equal('amount', t.mismatches[1].column)
    assert.are.equal(10, t.mismatches[1].count)
    assert.are.same({ { key = '4', expected = '12.345', actual = '12.35' }, { key = '9', expected = '1.005', actual = '1.01' } },
      t.mismatches[1].samples)
    assert.are.same({ { t = 0, rows_per_s = 0 }, { t = 1, rows_per_s = 800 }, { t = 2, rows_per_s = 1200 },
                      { t = 3, rows_per_s = 1100 } }, t.series)
    assert.are.same({ { t = 2.5, what = 'kill_taskmanager' } }, t.faults)
    assert.are.equal(900, t.latency.p99)
    assert.are.equal(0.25, t.backpressure[1].ratio)
  end)

  it('writes the table where from_run finds it, and the page shows the pipeline and its numbers', function()
    local dir = T.tmpdir()
    local path = assert(PR.write(failed_run(), dir .. '/pipelines'))
    assert.are.equal(dir .. '/pipelines/orders.json', path)
    local html = assert(H.from_run { out = dir, junit = dir .. '/none.xml', bench = dir .. '/nobench' })
    local f = assert(io.open(html, 'rb'))
    local page = f:read('a')
    f:close()
    T.rmtree(dir)
    assert.truthy(page:find('orders', 1, true), 'the pipeline is named')
    assert.truthy(page:find('amount', 1, true), 'the differing column is named')
    assert.truthy(page:find('12.35', 1, true), 'a sample value is shown')
    assert.truthy(page:find('data-v="1200"', 1, true), 'the throughput plot carries the run\'s figures')
  end)
end)
