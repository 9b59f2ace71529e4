-- The HTML report: one self-contained file (inline CSS and SVG; no script,
-- font or anything fetched) and a JSON file with the same data beside it.
--
--   local H = require 'fmhost.htmlreport'
--   H.write(run, dir)   -> html_path, json_path     (dir/index.html, dir/index.json)
--   H.html(run)         -> text
--   H.from_run{junit=, bench=, out=, pipelines=, title=}   what ./test.sh calls:
--                          JUnit + build/bench/*.json + property coverage
--                          (+ every pipelines/*.json under out, see below)
--
-- run = {
--   title = 'fmhost test run', generated = 'ISO time',
--   tests = {passed=, failed=, skipped=, time=, cases={{name, classname, status, message, time}}},
--   pipelines = { {
--     name = 'orders', verdict = 'ok' | 'FAIL' | ...,
--     counts = {expected=, actual=, matched=, missing=, extra=, duplicated=, mismatched=},
--     mismatches = { {column=, count=, samples={ {key=, expected=, actual=} } } },
--     series = { {t=s, rows_per_s=} }, faults = { {t=s, what=} },
--     latency = {unit='ms', count=, p50=, p90=, p95=, p99=, p999=, max=},
--     checkpoints = { {t=s, duration_ms=} }, backpressure = { {t=s, ratio=0..1} } } },
--   benchmarks = { {name=, fmhost={rows_per_s=}, baseline={what=, rows_per_s=}, ratio=} },
--   properties = {list from fmhost.properties.coverage}, properties_summary = {...},
-- }
-- Times t are seconds from the pipeline's start. A pipeline run writes its
-- table as JSON into <out>/pipelines/NAME.json for from_run to pick up.
--
-- Every plot is an <svg class="chart" data-chart=KIND> whose points carry
-- their numbers (data-t, data-v) and a <title>, so a reader hovering, and a
-- spec reading the DOM, see the figures the run gave.
local M = {}

local function esc(s)
  return (tostring(s == nil and '' or s):gsub('[&<>"\']', {
    ['&'] = '&amp;', ['<'] = '&lt;', ['>'] = '&gt;', ['"'] = '&quot;', ["'"] = '&#39;' }))
end
M.escape = esc

-- A number as short text: integers plainly, others with up to 6 digits.
local function num(v)
  if type(v) ~= 'number' then return v == nil and '' or tostring(v) end
  if v ~= v then return 'NaN' end
  if math.type(v) == 'integer' or (v == math.floor(v) and math.abs(v) < 2 ^ 53) then
    return string.format('%d', math.floor(v))
  end
  return (string.format('%.6g', v))
end
M.num = num

local function si(v)
  if type(v) ~= 'number' then return '' end
  local a = math.abs(v)
  if a >= 1e9 then return string.format('%.3gG', v / 1e9) end
  if a >= 1e6 then return string.format('%.3gM', v / 1e6) end
  if a >= 1e4 then return string.format('%.3gk', v / 1e3) end
  return num(v)
end

local W, H = 640, 200
local ML, MR, MT, MB = 56, 12, 12, 28

-- Scale helpers over a list of {x, y}.
local function bounds(pts, ymin0)
  local x0, x1, y1 = math.huge, -math.huge, -math.huge
  for _, p in ipairs(pts) do
    x0 = math.min(x0, p[1]); x1 = math.max(x1, p[1]); y1 = math.max(y1, p[2])
  end
  if x0 == math.huge then x0, x1 = 0, 1 end
  if x1 == x0 then x1 = x0 + 1 end
  if y1 <= (ymin0 or 0) then y1 = (ymin0 or 0) + 1 end
  return x0, x1, ymin0 or 0, y1
end

-- The start of a chart of height h: <svg class="chart" data-chart=KIND> and its title.
local function open_chart(out, kind, label, h)
  out[#out + 1] = ('<svg class="chart" data-chart="%s" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s">')
    :format(esc(kind), W, h, W, h, esc(label))
  out[#out + 1] = ('<title>%s</title>'):format(esc(label))
end

-- The end of a chart (with "no data" across it when empty): the SVG text.
local function close_chart(out, empty)
  if empty then
    out[#out + 1] = ('<text class="empty" x="%d" y="%d" text-anchor="middle">no data</text>'):format(W // 2, H // 2)
  end
  out[#out + 1] = '</svg>'
  return table.concat(out, '\n')
end

local function axes(out, x0, x1, y0, y1, xunit, yfmt)
  local pw, ph = W - ML - MR, H - MT - MB
  out[#out + 1] = ('<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>'):format(ML, MT + ph, ML + pw, MT + ph)
  out[#out + 1] = ('<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>'):format(ML, MT, ML, MT + ph)
  for k = 0, 2 do
    local v = y0 + (y1 - y0) * k / 2
    local y = MT + ph - ph * k / 2
    out[#out + 1] = ('<text class="tick" x="%d" y="%.1f" text-anchor="end">%s</text>'):format(ML - 4, y + 4, esc(yfmt(v)))
    if k > 0 then out[#out + 1] = ('<line class="grid" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>'):format(ML, y, ML + pw, y) end
  end
  out[#out + 1] = ('<text class="tick" x="%d" y="%d">%s%s</text>'):format(ML, H - 8, esc(num(x0)), xunit)
  out[#out + 1] = ('<text class="tick" x="%d" y="%d" text-anchor="end">%s%s</text>'):format(ML + pw, H - 8, esc(num(x1)), xunit)
end

-- A line chart: pts = {{t, v}, ...}; markers = {{t, label}} drawn as
-- vertical lines (fault markers).
function M.line_chart(kind, label, pts, opts)
  opts = opts or {}
  local out = {}
  local x0, x1, y0, y1 = bounds(pts, 0)
  if opts.ymax then y1 = math.max(opts.ymax, y1) end
  for _, m in ipairs(opts.markers or {}) do x0 = math.min(x0, m[1]); x1 = math.max(x1, m[1]) end
  local pw, ph = W - ML - MR, H - MT - MB
  local function X(t) return ML + (t - x0) / (x1 - x0) * pw end
  local function Y(v) return MT + ph - (v - y0) / (y1 - y0) * ph end
  open_chart(out, kind, label, H)
  axes(out, x0, x1, y0, y1, ' s', opts.yfmt or si)
  local coords = {}
  for _, p in ipairs(pts) do coords[#coords + 1] = ('%.1f,%.1f'):format(X(p[1]), Y(p[2])) end
  if #coords > 0 then
    out[#out + 1] = ('<polyline class="series" points="%s"/>'):format(table.concat(coords, ' '))
  end
  for _, p in ipairs(pts) do
    out[#out + 1] = ('<circle class="point" cx="%.1f" cy="%.1f" r="2.5" data-t="%s" data-v="%s"><title>t=%s s: %s</title></circle>')
      :format(X(p[1]), Y(p[2]), esc(num(p[1])), esc(num(p[2])), esc(num(p[1])), esc((opts.vfmt or num)(p[2])))
  end
  for _, m in ipairs(opts.markers or {}) do
    local x = X(m[1])
    out[#out + 1] = ('<g class="fault" data-t="%s" data-what="%s"><line x1="%.1f" y1="%d" x2="%.1f" y2="%d"/>'
      .. '<text x="%.1f" y="%d">%s</text><title>%s at %s s</title></g>')
      :format(esc(num(m[1])), esc(m[2]), x, MT, x, MT + ph, x + 3, MT + 10, esc(m[2]), esc(m[2]), esc(num(m[1])))
  end
  return close_chart(out, #pts == 0)
end

-- Vertical bars at times: pts = {{t, v}}.
function M.bar_chart(kind, label, pts, opts)
  opts = opts or {}
  local out = {}
  local x0, x1, y0, y1 = bounds(pts, 0)
  local pw, ph = W - ML - MR, H - MT - MB
  local bw = math.max(2, math.min(24, pw / math.max(#pts, 1) * 0.6))
  local function X(t) return ML + bw / 2 + (t - x0) / (x1 - x0) * (pw - bw) end
  local function Y(v) return MT + ph - (v - y0) / (y1 - y0) * ph end
  open_chart(out, kind, label, H)
  axes(out, x0, x1, y0, y1, ' s', si)
  for _, p in ipairs(pts) do
    local y = Y(p[2])
    out[#out + 1] = ('<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f" data-t="%s" data-v="%s"><title>t=%s s: %s%s</title></rect>')
      :format(X(p[1]) - bw / 2, y, bw, MT + ph - y, esc(num(p[1])), esc(num(p[2])), esc(num(p[1])), esc(num(p[2])),
        esc(opts.unit or ''))
  end
  return close_chart(out, #pts == 0)
end

-- Horizontal bars, one per {label, value}.
function M.hbar_chart(kind, label, rows, unit)
  local out = {}
  local vmax = 0
  for _, r in ipairs(rows) do vmax = math.max(vmax, r[2]) end
  if vmax <= 0 then vmax = 1 end
  local rh, lw = 22, 70
  local h = MT + #rows * rh + 8
  open_chart(out, kind, label, h)
  for i, r in ipairs(rows) do
    local y = MT + (i - 1) * rh
    local w = (W - lw - 140) * r[2] / vmax
    out[#out + 1] = ('<text class="tick" x="%d" y="%d" text-anchor="end">%s</text>'):format(lw - 6, y + 15, esc(r[1]))
    out[#out + 1] = ('<rect class="bar" x="%d" y="%d" width="%.1f" height="16" data-q="%s" data-v="%s"><title>%s: %s %s</title></rect>')
      :format(lw, y + 2, math.max(w, 1), esc(r[1]), esc(num(r[2])), esc(r[1]), esc(num(r[2])), esc(unit or ''))
    out[#out + 1] = ('<text class="value" x="%.1f" y="%d">%s %s</text>'):format(lw + math.max(w, 1) + 6, y + 15,
      esc(num(r[2])), esc(unit or ''))
  end
  return close_chart(out, false)
end

local CSS = [[
body{font-family:sans-serif;margin:24px;color:#222;background:#fff;max-width:1100px}
h1{font-size:22px}h2{font-size:18px;border-bottom:1px solid #ccc;padding-bottom:4px;margin-top:32px}
h3{font-size:15px;margin-bottom:4px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f0f0f0}td.n{text-align:right;font-variant-numeric:tabular-nums}
.passed,.ok{color:#17692b;font-weight:bold}.failed,.FAIL,.fail{color:#b3141b;font-weight:bold}
.skipped,.not-run{color:#8a6d00}.uncovered{color:#777;font-style:italic}
svg.chart{display:block;margin:6px 0 14px 0;background:#fafafa;border:1px solid #e4e4e4}
svg .axis{stroke:#555;stroke-width:1}svg .grid{stroke:#ddd;stroke-width:1}
svg .tick{font-size:11px;fill:#444}svg .value{font-size:11px;fill:#222}
svg .series{fill:none;stroke:#1f5fbf;stroke-width:2}svg .point{fill:#1f5fbf}
svg .bar{fill:#3c8d3c}svg .fault line{stroke:#c0392b;stroke-width:2;stroke-dasharray:4 3}
svg .fault text{font-size:11px;fill:#c0392b}svg .empty{font-size:14px;fill:#999}
.summary{font-size:16px;margin:8px 0}.muted{color:#666;font-size:12px}
]]

local function result_class(r)
  return (tostring(r or ''):gsub(' ', '-'))
end

local function counts_table(c)
  local keys = { 'expected', 'actual', 'matched', 'missing', 'extra', 'duplicated', 'mismatched' }
  local head, row = {}, {}
  for _, k in ipairs(keys) do
    if c[k] ~= nil then
      head[#head + 1] = '<th>' .. k .. '</th>'
      row[#row + 1] = ('<td class="n" data-count="%s">%s</td>'):format(k, esc(num(c[k])))
    end
  end
  for k, v in pairs(c) do
    local known = false
    for _, kk in ipairs(keys) do if kk == k then known = true end end
    if not known then
      head[#head + 1] = '<th>' .. esc(k) .. '</th>'
      row[#row + 1] = ('<td class="n" data-count="%s">%s</td>'):format(esc(k), esc(num(v)))
    end
  end
  return '<table class="counts"><tr>' .. table.concat(head) .. '</tr><tr>' .. table.concat(row) .. '</tr></table>'
end

local function pipeline_section(p, out)
  out[#out + 1] = ('<section class="pipeline" data-pipeline="%s">'):format(esc(p.name))
  out[#out + 1] = ('<h3>%s — <span class="verdict %s">%s</span></h3>'):format(esc(p.name), esc(p.verdict), esc(p.verdict or '?'))
  if p.counts then out[#out + 1] = counts_table(p.counts) end
  if p.mismatches and #p.mismatches > 0 then
    out[#out + 1] = '<table class="mismatches"><tr><th>column</th><th>values differing</th><th>key</th><th>expected</th><th>actual</th></tr>'
    for _, m in ipairs(p.mismatches) do
      local samples = m.samples or {}
      local n = math.max(#samples, 1)
      for i = 1, n do
        local s = samples[i] or {}
        out[#out + 1] = '<tr>' .. (i == 1 and ('<td rowspan="%d" data-column="%s">%s</td><td class="n" rowspan="%d">%s</td>')
          :format(n, esc(m.column), esc(m.column), n, esc(num(m.count))) or '')
          .. ('<td>%s</td><td>%s</td><td>%s</td></tr>'):format(esc(num(s.key)), esc(num(s.expected)), esc(num(s.actual)))
      end
    end
    out[#out + 1] = '</table>'
  end
  local markers = {}
  for _, f in ipairs(p.faults or {}) do markers[#markers + 1] = { f.t, f.what } end
  local tp = {}
  for _, s in ipairs(p.series or {}) do tp[#tp + 1] = { s.t, s.rows_per_s } end
  out[#out + 1] = '<div class="muted">throughput (rows/s) over time, faults marked</div>'
  out[#out + 1] = M.line_chart('throughput', p.name .. ': rows per second', tp, { markers = markers })
  if p.latency and p.latency.count ~= 0 then
    local l = p.latency
    local rows = {}
    for _, q in ipairs({ 'p50', 'p90', 'p95', 'p99', 'p999', 'max' }) do
      if l[q] then rows[#rows + 1] = { q, l[q] } end
    end
    out[#out + 1] = ('<div class="muted">latency distribution (%s samples)</div>'):format(esc(num(l.count)))
    out[#out + 1] = M.hbar_chart('latency', p.name .. ': latency percentiles', rows, l.unit or 'ms')
  end
  local cp = {}
  for _, c in ipairs(p.checkpoints or {}) do cp[#cp + 1] = { c.t, c.duration_ms } end
  if #cp > 0 then
    out[#out + 1] = '<div class="muted">checkpoint durations (ms)</div>'
    out[#out + 1] = M.bar_chart('checkpoints', p.name .. ': checkpoint duration', cp, { unit = ' ms' })
  end
  local bp = {}
  for _, b in ipairs(p.backpressure or {}) do bp[#bp + 1] = { b.t, b.ratio } end
  if #bp > 0 then
    out[#out + 1] = '<div class="muted">backpressure (share of time backpressured)</div>'
    out[#out + 1] = M.line_chart('backpressure', p.name .. ': backpressure', bp,
      { ymax = 1, markers = markers, yfmt = function(v) return string.format('%d%%', math.floor(v * 100 + 0.5)) end })
  end
  out[#out + 1] = '</section>'
end

local function is_empty(run)
  local t = run.tests
  return #(run.pipelines or {}) == 0 and #(run.benchmarks or {}) == 0
    and (not t or ((t.passed or 0) + (t.failed or 0) + (t.skipped or 0)) == 0)
end

function M.html(run)
  local out = {}
  local title = run.title or 'fmhost report'
  out[#out + 1] = '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
  out[#out + 1] = ('<title>%s</title><style>%s</style></head><body>'):format(esc(title), CSS)
  out[#out + 1] = ('<h1>%s</h1>'):format(esc(title))
  if run.generated then out[#out + 1] = ('<div class="muted">generated %s</div>'):format(esc(run.generated)) end
  if is_empty(run) then
    out[#out + 1] = '<p class="summary empty-run" id="empty-run">This run is empty: no test ran, no pipeline ran and no benchmark result was found.</p>'
  end
  local t = run.tests
  if t and ((t.passed or 0) + (t.failed or 0) + (t.skipped or 0)) > 0 then
    out[#out + 1] = '<h2>Tests</h2>'
    out[#out + 1] = ('<p class="summary" id="tests-summary"><span class="passed">%d passed</span>, <span class="failed">%d failed</span>, %d skipped — %.1f s</p>')
      :format(t.passed or 0, t.failed or 0, t.skipped or 0, t.time or 0)
    local failed = {}
    for _, c in ipairs(t.cases or {}) do if c.status == 'failed' then failed[#failed + 1] = c end end
    if #failed > 0 then
      out[#out + 1] = '<table class="failures"><tr><th>failed</th><th>where</th><th>first line</th></tr>'
      for _, c in ipairs(failed) do
        out[#out + 1] = ('<tr><td>%s</td><td>%s</td><td>%s</td></tr>'):format(esc(c.name), esc(c.classname),
          esc((tostring(c.message or '')):match('[^\n]*'):sub(1, 300)))
      end
      out[#out + 1] = '</table>'
    end
  end
  if #(run.pipelines or {}) > 0 then
    out[#out + 1] = '<h2>Pipelines</h2>'
    for _, p in ipairs(run.pipelines) do pipeline_section(p, out) end
  end
  if #(run.benchmarks or {}) > 0 then
    out[#out + 1] = '<h2>Benchmarks</h2>'
    out[#out + 1] = '<table class="benchmarks"><tr><th>benchmark</th><th>fmhost rows/s</th><th>baseline</th><th>baseline rows/s</th><th>ratio</th></tr>'
    local rows = {}
    for _, b in ipairs(run.benchmarks) do
      local f, bl = b.fmhost or {}, b.baseline or {}
      out[#out + 1] = ('<tr data-bench="%s"><td>%s</td><td class="n">%s</td><td>%s</td><td class="n">%s</td><td class="n">%s</td></tr>')
        :format(esc(b.name), esc(b.name), esc(si(f.rows_per_s)), esc(bl.what), esc(si(bl.rows_per_s)),
          esc(b.ratio and string.format('%.2f', b.ratio) or ''))
      if b.ratio then rows[#rows + 1] = { b.name, tonumber(string.format('%.2f', b.ratio)) } end
    end
    out[#out + 1] = '</table>'
    if #rows > 0 then out[#out + 1] = M.hbar_chart('benchmarks', 'fmhost / baseline ratio', rows, '×') end
  end
  if run.properties then
    local s = run.properties_summary or {}
    out[#out + 1] = '<h2>Seed properties</h2>'
    out[#out + 1] = ('<p class="summary" id="properties-summary">%d properties: %d covered by specs (%d passed, %d failed), %d without a spec</p>')
      :format(s.total or #run.properties, s.covered or 0, s.passed or 0, s.failed or 0, s.uncovered or 0)
    out[#out + 1] = '<table class="properties"><tr><th>#</th><th>property</th><th>specs checking it</th><th>last result</th></tr>'
    for _, p in ipairs(run.properties) do
      local specs = {}
      for _, sp in ipairs(p.specs or {}) do
        specs[#specs + 1] = ('<div><span class="%s">%s</span> %s:%d — %s</div>'):format(result_class(sp.result),
          esc(sp.result), esc(sp.file), sp.line or 0, esc(sp.name))
      end
      out[#out + 1] = ('<tr data-property="%d"><td class="n">%d</td><td><b>%s</b><br><span class="muted">%s</span></td><td>%s</td><td class="%s">%s</td></tr>')
        :format(p.n, p.n, esc(p.title), esc(p.text), #specs > 0 and table.concat(specs) or '<span class="uncovered">none</span>',
          result_class(p.result), esc(p.result))
    end
    out[#out + 1] = '</table>'
  end
  out[#out + 1] = '</body></html>\n'
  return table.concat(out, '\n')
end

local function mkdir_p(dir)
  local lfs = require 'lfs'
  local path = dir:sub(1, 1) == '/' and '' or '.'
  for part in dir:gmatch('[^/]+') do
    path = path .. '/' .. part
    if not lfs.attributes(path, 'mode') then
      local ok, err = lfs.mkdir(path)
      if not ok and not lfs.attributes(path, 'mode') then return nil, err end
    end
  end
  return true
end

local write_file = require('fmhost.files').write

-- Write dir/index.html and dir/index.json; returns both paths.
function M.write(run, dir)
  assert(type(run) == 'table', 'htmlreport.write: run must be a table')
  local ok, err = mkdir_p(dir)
  if not ok then return nil, 'cannot make ' .. dir .. ': ' .. tostring(err) end
  run.empty = is_empty(run)
  local html, json = dir .. '/index.html', dir .. '/index.json'
  ok, err = write_file(html, M.html(run))
  if not ok then return nil, err end
  local cjson = require 'cjson'
  ok, err = write_file(json, cjson.encode(run) .. '\n')
  if not ok then return nil, err end
  return html, json
end

local function read_json(path)
  local f = io.open(path, 'rb')
  if not f then return nil end
  local s = f:read('a')
  f:close()
  local ok, v = pcall(require('cjson').decode, s)
  return ok and v or nil
end

local function json_files(dir)
  local lfs = require 'lfs'
  local out = {}
  if not lfs.attributes(dir, 'mode') then return out end
  for e in lfs.dir(dir) do if e:match('%.json$') then out[#out + 1] = dir .. '/' .. e end end
  table.sort(out)
  return out
end

-- The report of a spec run. opts: junit (build/junit.xml), bench
-- (build/bench), out (build/report), title.
function M.from_run(opts)
  opts = opts or {}
  local root = rawget(_G, '_FMHOST_ROOT') or '.'
  local out = opts.out or (root .. '/build/report')
  local run = { title = opts.title or 'fmhost test run', generated = os.date('!%Y-%m-%dT%H:%M:%SZ'),
                pipelines = {}, benchmarks = {} }
  local junit = opts.junit or (root .. '/build/junit.xml')
  local r = io.open(junit, 'rb') and require('fmhost.report').parse_junit(junit)
  if r then run.tests = r end
  for _, f in ipairs(json_files(opts.bench or (root .. '/build/bench'))) do
    local b = read_json(f)
    if type(b) == 'table' and b.name then run.benchmarks[#run.benchmarks + 1] = b end
  end
  for _, f in ipairs(json_files(opts.pipelines or (out .. '/pipelines'))) do
    local p = read_json(f)
    if type(p) == 'table' and p.name then run.pipelines[#run.pipelines + 1] = p end
  end
  local props, summary = require('fmhost.properties').coverage { junit = junit, seed = opts.seed, specs = opts.specs }
  if props then run.properties, run.properties_summary = props, summary end
  return M.write(run, out)
end

return M
