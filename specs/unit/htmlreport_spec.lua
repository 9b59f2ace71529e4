-- The HTML report rendered by a real browser (Debian's headless chromium):
-- the page is self-contained, its plots are SVG elements carrying the run's
-- numbers (read back from chromium's DOM), the screenshot has the window's
-- size and is not blank (its pixels counted by chromium itself, from a
-- canvas), an empty run says so, and the JSON beside it holds the same data.
local H = require 'fmhost.htmlreport'
local proc = require 'fmhost.proc'
local T = require 'fmhost.testing'
local cjson = require 'cjson'

local function read(path)
  local f = assert(io.open(path, 'rb'))
  local s = f:read('a')
  f:close()
  return s
end

local function chromium(args, dir)
  local argv = { 'chromium', '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                 '--disable-background-networking', '--disable-component-update', '--disable-sync',
                 '--user-data-dir=' .. dir .. '/profile', timeout_ms = 120000, max_output = 64 << 20 }
  for _, a in ipairs(args) do argv[#argv + 1] = a end
  local r = assert(proc.run(argv))
  assert(r.code == 0, 'chromium exited ' .. tostring(r.code) .. ': ' .. r.stderr:sub(-800))
  return r.stdout
end

local B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
local function base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = (a << 16) | ((b or 0) << 8) | (c or 0)
    out[#out + 1] = B64:sub((n >> 18) + 1, (n >> 18) + 1) .. B64:sub((n >> 12 & 63) + 1, (n >> 12 & 63) + 1)
      .. (b and B64:sub((n >> 6 & 63) + 1, (n >> 6 & 63) + 1) or '=') .. (c and B64:sub((n & 63) + 1, (n & 63) + 1) or '=')
  end
  return table.concat(out)
end

local function be32(s, at)
  local a, b, c, d = s:byte(at, at + 3)
  return (a << 24) | (b << 16) | (c << 8) | d
end

local run = {
  title = 'fmhost report spec',
  pipelines = { {
    name = 'orders', verdict = 'FAIL',
    counts = { expected = 1000, actual = 998, matched = 990, missing = 2, mismatched = 8 },
    mismatches = { { column = 'amount', count = 8, samples = { { key = 17, expected = '1.50', actual = '1.5' } } },
                   { column = 'note', count = 1, samples = { { key = 99, expected = 'é', actual = '?' } } } },
    series = { { t = 0, rows_per_s = 100 }, { t = 1, rows_per_s = 2500 }, { t = 2, rows_per_s = 3100 },
               { t = 3, rows_per_s = 0 }, { t = 4, rows_per_s = 2900 } },
    faults = { { t = 3, what = 'taskmanager killed' } },
    latency = { unit = 'ms', count = 5000, p50 = 12, p90 = 40, p95 = 55, p99 = 120, p999 = 300, max = 410 },
    checkpoints = { { t = 1, duration_ms = 230 }, { t = 2, duration_ms = 410 }, { t = 4, duration_ms = 180 } },
    backpressure = { { t = 0, ratio = 0 }, { t = 2, ratio = 0.25 }, { t = 4, ratio = 0.75 } },
  } },
  benchmarks = { { name = 'gen', fmhost = { rows_per_s = 2750000 }, baseline = { what = 'client', rows_per_s = 173000 },
                   ratio = 15.9 } },
}

describe('the HTML report in headless chromium', function()
  local dir, html_path, json_path, dom

  lazy_setup(function()
    dir = T.tmpdir()
    local props, summary = assert(require('fmhost.properties').coverage { junit = dir .. '/none.xml' })
    run.properties, run.properties_summary = props, summary
    html_path, json_path = assert(H.write(run, dir .. '/report'))
    dom = chromium({ '--dump-dom', 'file://' .. html_path }, dir)
  end)
  lazy_teardown(function() if dir then T.rmtree(dir) end end)

  it('is one self-contained file: no script, no external font, stylesheet or image', function()
    local html = read(html_path)
    assert.is_nil(html:find('<script', 1, true))
    assert.is_nil(html:find('https?://'))
    assert.is_nil(html:find('@font-face', 1, true))
    assert.is_nil(html:find('url(', 1, true))
    assert.is_nil(html:find('<link', 1, true))
    assert.is_nil(html:find('<img', 1, true))
  end)

  it("draws the throughput points, fault marker, latency, checkpoints and backpressure with the run's numbers", function()
    local function chart(kind)
      local svg = dom:match('<svg class="chart" data%-chart="' .. kind .. '".-</svg>')
      assert(svg, 'no ' .. kind .. ' chart in the DOM')
      return svg
    end
    local tp = chart('throughput')
    local pts = {}
    for t, v in tp:gmatch('<circle class="point"[^>]- data%-t="([^"]+)" data%-v="([^"]+)"') do pts[#pts + 1] = t .. '=' .. v end
    assert.same({ '0=100', '1=2500', '2=3100', '3=0', '4=2900' }, pts)
    assert.matches('<g class="fault" data%-t="3" data%-what="taskmanager killed">', tp)
    -- the highest point is at the top of the plot, 0 on the axis
    local ys = {}
    for cy in tp:gmatch('<circle class="point" cx="[^"]+" cy="([^"]+)"') do ys[#ys + 1] = tonumber(cy) end
    assert(ys[3] < ys[2] and ys[2] < ys[1] and ys[4] > ys[1], table.concat(ys, ' '))
    local lat = chart('latency')
    local qs = {}
    for q, v in lat:gmatch('data%-q="([^"]+)" data%-v="([^"]+)"') do qs[#qs + 1] = q .. '=' .. v end
    assert.same({ 'p50=12', 'p90=40', 'p95=55', 'p99=120', 'p999=300', 'max=410' }, qs)
    local cps = {}
    for t, v in chart('checkpoints'):gmatch('<rect class="bar"[^>]- data%-t="([^"]+)" data%-v="([^"]+)"') do cps[#cps + 1] = t .. '=' .. v end
    assert.same({ '1=230', '2=410', '4=180' }, cps)
    local bps = {}
    local bp = chart('backpressure')
    for t, v in bp:gmatch('<circle class="point"[^>]- data%-t="([^"]+)" data%-v="([^"]+)"') do bps[#bps + 1] = t .. '=' .. v end
    assert.same({ '0=0', '2=0.25', '4=0.75' }, bps)
    assert.matches('<g class="fault" data%-t="3" data%-what="taskmanager killed">', bp)
    assert.matches('>100%%</text>', bp)
    assert.matches('data%-bench="gen"', dom)
    assert.matches('15%.90', dom)
  end)

  it('shows the verdict, the counts and the mismatching columns with samples', function()
    assert.matches('<span class="verdict FAIL">FAIL</span>', dom)
    assert.matches('<td class="n" data%-count="missing">2</td>', dom)
    assert.matches('data%-column="amount">amount</td><td class="n" rowspan="1">8</td><td>17</td><td>1%.50</td><td>1%.5</td>', dom)
    assert.matches('data%-column="note">note</td>', dom)
  end)

  it('lists all 35 seed properties with the specs that check them', function()
    local n = 0
    for _ in dom:gmatch('<tr data%-property="%d+">') do n = n + 1 end
    assert.equal(35, n)
    local row10 = dom:match('<tr data%-property="10">.-</tr>')
    assert.matches('Numeric precision preservation', row10)
    assert.matches('specs/properties/gen_props_spec%.lua', row10)
    assert.matches('not run', row10)
  end)

  it('renders to a screenshot of the window size that is not blank', function()
    local png = dir .. '/shot.png'
    chromium({ '--screenshot=' .. png, '--window-size=900,1300', 'file://' .. html_path }, dir)
    local bytes = read(png)
    assert.equal('\137PNG\r\n\26\n', bytes:sub(1, 8))
    assert.equal('IHDR', bytes:sub(13, 16))
    assert.equal(900, be32(bytes, 17))
    assert.equal(1300, be32(bytes, 21))
    -- chromium decodes the PNG into a canvas and counts its colours
    local page = dir .. '/count.html'
    local f = assert(io.open(page, 'wb'))
    f:write('<!DOCTYPE html><html><body><pre id="out">pending</pre><img id="i" src="data:image/png;base64,',
      base64(bytes), [[" onload="
      var c=document.createElement('canvas');c.width=this.naturalWidth;c.height=this.naturalHeight;
      var x=c.getContext('2d');x.drawImage(this,0,0);var d=x.getImageData(0,0,c.width,c.height).data;
      var seen={},n=0,blue=0;for(var k=0;k<d.length;k+=4){var key=d[k]+','+d[k+1]+','+d[k+2];
      if(!seen[key]){seen[key]=1;n++;} if(d[k]<60&&d[k+1]>70&&d[k+1]<120&&d[k+2]>170)blue++;}
      document.getElementById('out').textContent='colours='+n+' blue='+blue+' size='+c.width+'x'+c.height;">
      </body></html>]])
    f:close()
    local out = chromium({ '--dump-dom', '--virtual-time-budget=10000', 'file://' .. page }, dir)
    local colours, blue, size = out:match('colours=(%d+) blue=(%d+) size=(%d+x%d+)')
    assert(colours, 'chromium did not count the colours: ' .. out:sub(1, 300))
    assert.equal('900x1300', size)
    assert(tonumber(colours) > 20, 'the screenshot has ' .. colours .. ' colours')
    -- the throughput line (#1f5fbf) is drawn
    assert(tonumber(blue) > 200, 'the series line covers ' .. blue .. ' pixels')
  end)

  it('writes the same data as JSON beside the page', function()
    local doc = cjson.decode(read(json_path))
    assert.equal('orders', doc.pipelines[1].name)
    assert.equal(3100, doc.pipelines[1].series[3].rows_per_s)
    assert.equal(120, doc.pipelines[1].latency.p99)
    assert.equal(35, #doc.properties)
    assert.equal(15.9, doc.benchmarks[1].ratio)
    assert.is_false(doc.empty)
  end)

  it('says so when the run is empty', function()
    local h = assert(H.write({ title = 'nothing' }, dir .. '/empty'))
    local d = chromium({ '--dump-dom', 'file://' .. h }, dir)
    assert.matches('<p class="summary empty%-run" id="empty%-run">This run is empty', d)
    assert.is_nil(d:find('<svg', 1, true))
    assert.is_true(cjson.decode(read(dir .. '/empty/index.json')).empty)
  end)
end)
