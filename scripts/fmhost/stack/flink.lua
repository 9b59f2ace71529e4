-- The local stack's Flink: a standalone session cluster assembled from
-- Maven Central jars (no tarball) and started with `java` directly:
-- a JobManager, one or more TaskManagers and the SQL Gateway, each its own
-- JVM in its own session, bound to 127.0.0.1.
--
--   <stack.dir>/flink/jars/flink-<v>/lib/          runtime, table, formats, log4j2 (every JVM)
--   <stack.dir>/flink/jars/flink-<v>/opt/          flink-sql-gateway (the gateway only)
--   <stack.dir>/flink/jars/jdbc-<c>_mysql-<m>/     flink-connector-jdbc + mysql-connector-j
--                                                  (on the classpath while flink.jdbc_connector)
--   <stack.dir>/flink/maven.log                    the last jar fetch's Maven output
--   <stack.dir>/flink/conf/                        config.yaml + log4j.properties, written each start
--   <stack.dir>/flink/log/<name>.log, <name>.out   each JVM's log4j log and its stdout/stderr
--   <stack.dir>/flink/checkpoints, savepoints, tmp, web-upload, plugins
--   <stack.dir>/flink/state.json                   what was started (pids, settings, classpath)
--
-- The jars come from config/flink/pom.xml (`fmhost stack fetch flink`, or
-- on demand at `up`): Maven runs only when a jar directory of the
-- configured versions lacks its jars or holds a damaged one (each folder's
-- .fmhost-jars.sha1 manifest, checked against Maven's .sha1 files, is
-- compared with the jars at every fetch and start), and writes a missing
-- folder into a staging directory that is moved into place only when
-- complete.
--
-- A JVM of ours is recognised by its -Dlog.file=<log dir>/<name>.log
-- argument, so `down` and `status` find every one of them from /proc even
-- when state.json is gone.
--
-- With flink.managed = false nothing is started: up/ensure/status check that
-- flink.rest_url and flink.gateway_url answer.
local proc = require 'fmhost.proc'
local stack = require 'fmhost.stack'
local service = require 'fmhost.stack.service'

local M = { name = 'flink' }

local get = stack.get
local bool, int = service.bool, service.int
local function silent() end

-- Java 17 module flags: the env.java.opts.all list of Flink 1.20's binary
-- distribution, prefixed like its launcher does.
M.JAVA17_OPTS = {
  '-XX:+IgnoreUnrecognizedVMOptions',
  '--add-exports=java.base/sun.net.util=ALL-UNNAMED',
  '--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED',
  '--add-exports=jdk.compiler/com.sun.tools.javac.api=ALL-UNNAMED',
  '--add-exports=jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED',
  '--add-exports=jdk.compiler/com.sun.tools.javac.parser=ALL-UNNAMED',
  '--add-exports=jdk.compiler/com.sun.tools.javac.tree=ALL-UNNAMED',
  '--add-exports=jdk.compiler/com.sun.tools.javac.util=ALL-UNNAMED',
  '--add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED',
  '--add-opens=java.base/java.lang=ALL-UNNAMED',
  '--add-opens=java.base/java.net=ALL-UNNAMED',
  '--add-opens=java.base/java.io=ALL-UNNAMED',
  '--add-opens=java.base/java.nio=ALL-UNNAMED',
  '--add-opens=java.base/sun.nio.ch=ALL-UNNAMED',
  '--add-opens=java.base/java.lang.reflect=ALL-UNNAMED',
  '--add-opens=java.base/java.text=ALL-UNNAMED',
  '--add-opens=java.base/java.time=ALL-UNNAMED',
  '--add-opens=java.base/java.util=ALL-UNNAMED',
  '--add-opens=java.base/java.util.concurrent=ALL-UNNAMED',
  '--add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED',
  '--add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED',
}

M.MAIN = {
  jobmanager = 'org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint',
  taskmanager = 'org.apache.flink.runtime.taskexecutor.TaskManagerRunner',
  gateway = 'org.apache.flink.table.gateway.SqlGateway',
  bju = 'org.apache.flink.runtime.util.bash.BashJavaUtils',
}

local GATEWAY_NAME = 'sql-gateway'

-- --- settings ------------------------------------------------------------------

-- Every path and setting the service uses, from cfg with the defaults of
-- config/default.yaml.
function M.settings(cfg)
  local base = stack.service_dir(cfg, 'flink')
  local s = {
    managed = bool(get(cfg, 'flink.managed'), true),
    version = tostring(get(cfg, 'flink.version')),
    jdbc_version = tostring(get(cfg, 'flink.jdbc_connector_version')),
    mysql_version = tostring(get(cfg, 'flink.mysql_driver_version')),
    connector = bool(get(cfg, 'flink.jdbc_connector'), true),
    nats_connector = bool(get(cfg, 'flink.nats_connector'), true),
    rest_port = int(get(cfg, 'flink.rest_port')),
    rpc_port = int(get(cfg, 'flink.rpc_port')),
    gateway_port = int(get(cfg, 'flink.gateway_port')),
    slots = int(get(cfg, 'flink.slots')),
    jm_memory = tostring(get(cfg, 'flink.jm_memory')),
    tm_memory = tostring(get(cfg, 'flink.tm_memory')),
    gateway_heap = tostring(get(cfg, 'flink.gateway_heap')),
    checkpoint_interval_ms = int(get(cfg, 'flink.checkpoint_interval_ms')),
    restart_attempts = int(get(cfg, 'flink.restart_attempts')),
    restart_delay_ms = int(get(cfg, 'flink.restart_delay_ms')),
    heartbeat_interval_ms = int(get(cfg, 'flink.heartbeat_interval_ms')),
    heartbeat_timeout_ms = int(get(cfg, 'flink.heartbeat_timeout_ms')),
    start_timeout_ms = int(get(cfg, 'flink.start_timeout_ms')),
    stop_timeout_ms = int(get(cfg, 'flink.stop_timeout_ms')),
    fetch_timeout_ms = int(get(cfg, 'flink.fetch_timeout_ms')),
    base = base,
    jars = base .. '/jars',
    conf = base .. '/conf',
    logdir = base .. '/log',
    maven_log = base .. '/maven.log',
    pom = stack.abspath('config/flink/pom.xml'),
    log4j_template = stack.abspath('config/flink/log4j.properties'),
    nats_jar = stack.abspath('connector/target/fmhost-nats-connector.jar'),
  }
  s.lib = s.jars .. '/flink-' .. s.version .. '/lib'
  s.opt = s.jars .. '/flink-' .. s.version .. '/opt'
  s.conn = s.jars .. '/jdbc-' .. s.jdbc_version .. '_mysql-' .. s.mysql_version
  s.rest_url = get(cfg, 'flink.rest_url') or ('http://127.0.0.1:' .. s.rest_port)
  s.gateway_url = get(cfg, 'flink.gateway_url') or ('http://127.0.0.1:' .. s.gateway_port)
  s.rest_url = s.rest_url:gsub('/+$', '')
  s.gateway_url = s.gateway_url:gsub('/+$', '')
  return s
end

-- --- jars ----------------------------------------------------------------------

-- The names in dir in byte order (like LC_ALL=C ls); {} when it is no folder.
local function entries(dir)
  local lfs = require 'lfs'
  local out = {}
  if lfs.attributes(dir, 'mode') ~= 'directory' then return out end
  for e in lfs.dir(dir) do
    if e ~= '.' and e ~= '..' then out[#out + 1] = e end
  end
  table.sort(out)
  return out
end

-- The jar files in dir, in byte order.
local function list_jars(dir)
  local lfs = require 'lfs'
  local out = {}
  for _, e in ipairs(entries(dir)) do
    if e:match('%.jar$') and lfs.attributes(dir .. '/' .. e, 'mode') == 'file' then out[#out + 1] = e end
  end
  return out
end

local function has(list, name)
  for _, e in ipairs(list) do if e == name then return true end end
  return false
end

-- The jar directories of the configured versions, each with the jars that
-- prove it complete (Maven run offline on an unknown version leaves an empty
-- directory behind; a directory alone proves nothing).
function M.jar_sets(s)
  local v = s.version
  return {
    { key = 'lib', dir = s.lib, what = 'Flink ' .. v .. ' runtime',
      need = { 'flink-runtime-' .. v .. '.jar', 'flink-clients-' .. v .. '.jar',
               'flink-table-runtime-' .. v .. '.jar', 'flink-table-planner-loader-' .. v .. '.jar',
               'flink-connector-datagen-' .. v .. '.jar' },
      need_pattern = { '^log4j%-core%-.*%.jar$' } },
    { key = 'opt', dir = s.opt, what = 'Flink ' .. v .. ' SQL Gateway',
      need = { 'flink-sql-gateway-' .. v .. '.jar' } },
    { key = 'conn', dir = s.conn, what = 'JDBC connector ' .. s.jdbc_version .. ' + MySQL driver ' .. s.mysql_version,
      need = { 'flink-connector-jdbc-' .. s.jdbc_version .. '.jar', 'mysql-connector-j-' .. s.mysql_version .. '.jar' } },
  }
end

local function set_complete(set)
  local jars = list_jars(set.dir)
  if #jars == 0 then return false end
  for _, n in ipairs(set.need) do
    if not has(jars, n) then return false end
  end
  for _, pat in ipairs(set.need_pattern or {}) do
    local found = false
    for _, j in ipairs(jars) do if j:match(pat) then found = true; break end end
    if not found then return false end
  end
  return true
end

-- The jar sets that are missing or incomplete (a list, empty when all are there).
function M.missing_jars(s)
  local out = {}
  for _, set in ipairs(M.jar_sets(s)) do
    if not set_complete(set) then out[#out + 1] = set end
  end
  return out
end

local function dir_bytes(dir)
  local lfs = require 'lfs'
  local n, bytes = 0, 0
  for _, j in ipairs(list_jars(dir)) do
    n = n + 1
    bytes = bytes + (lfs.attributes(dir .. '/' .. j, 'size') or 0)
  end
  return n, bytes
end

local function rm_rf(p)
  if p and #p > 1 and p ~= '/' then proc.run { 'rm', '-rf', p, timeout_ms = 120000 } end
end

-- A program on PATH that runs; nil, msg naming the Debian package otherwise.
local function check_tool(argv, package, what)
  argv.timeout_ms = 60000
  local r, err = proc.run(argv)
  if not r then
    if tostring(err):find('No such file', 1, true) or tostring(err):find('not found', 1, true) then
      return nil, string.format('%s (%s) is not installed or not on PATH; install the Debian package %s '
        .. '(tools/setup.sh does)', argv[1], what, package)
    end
    return nil, string.format('%s (%s) cannot run: %s', argv[1], what, tostring(err))
  end
  if not r.ok then
    return nil, string.format('%s (%s) fails: %s', argv[1], what,
      ((r.stderr ~= '' and r.stderr or r.stdout):match('[^\n]+') or ('exit ' .. tostring(r.code))))
  end
  return r
end

function M.check_java()
  local r, err = check_tool({ 'java', '-version' }, 'openjdk-17-jdk-headless', 'Java for Flink')
  if not r then return nil, err end
  local text = r.stderr .. r.stdout
  local v = text:match('version "([^"]+)"')
  local major = v and tonumber(v:match('^1%.(%d+)') or v:match('^(%d+)'))
  if major and major < 11 then
    return nil, string.format('java is version %s; Flink %s needs Java 11 or 17', v, '1.20')
  end
  return v or '?'
end

-- Why a Maven run failed, from its log: (cause, detail line).
function M.maven_failure(log)
  local missing = log:match('Could not find artifact ([%w%.%-_:]+)')
    or log:match('([%w%.%-_]+:[%w%.%-_]+:[%w%.%-_]+:[%w%.%-_]+) was not found in')
  if missing then
    return 'an artifact does not exist on Maven Central: ' .. missing
      .. ' (check flink.version, flink.jdbc_connector_version and flink.mysql_driver_version)'
  end
  local offline = log:match('Cannot access central [^\n]* in offline mode')
  if offline then return 'Maven runs offline and the artifacts are not in ~/.m2' end
  for _, pat in ipairs { 'UnknownHostException', 'Connection refused', 'Network is unreachable',
                         'connect timed out', 'Connect timed out', 'No route to host',
                         'Could not transfer artifact', 'Read timed out', 'PKIX path building failed' } do
    if log:find(pat, 1, true) then
      local line = log:match('[^\n]*' .. pat:gsub('%p', '%%%0') .. '[^\n]*') or pat
      return 'Maven Central is unreachable (' .. pat .. ')', line
    end
  end
  local err = log:match('%[ERROR%] ([^\n]+)')
  return 'Maven failed' .. (err and (': ' .. err) or '')
end

-- --- checking the jars ------------------------------------------------------------
-- A jar that is there may still be damaged (a 0-byte file a killed copy
-- left, a file overwritten): Flink then fails later and far from the cause
-- ("Could not find any factory for identifier 'jdbc'", ClassNotFound). Each
-- jar folder keeps a manifest, MANIFEST_NAME, of every jar's SHA-1 and size,
-- written at fetch once each jar was checked against Maven's own record:
-- the <jar>.sha1 that Maven keeps beside the jar in its local repository
-- (~/.m2), the checksum Maven Central published. Every fetch and every start
-- of the cluster checks the jars against the manifest; a damaged jar is
-- removed and fetched again, and one that cannot be is named.

M.MANIFEST_NAME = '.fmhost-jars.sha1'

local function manifest_path(dir) return dir .. '/' .. M.MANIFEST_NAME end

-- {name = {sha1=, size=}} of a jar folder's manifest, or nil.
function M.read_manifest(dir)
  local text = stack.read_file(manifest_path(dir))
  if not text then return nil end
  local t = {}
  for sha, size, name in text:gmatch('(%x+) (%d+) ([^\n]+)') do
    t[name] = { sha1 = sha:lower(), size = math.tointeger(tonumber(size)) }
  end
  return t
end

local function write_manifest(dir, entries)
  local names = {}
  for n in pairs(entries) do names[#names + 1] = n end
  table.sort(names)
  local lines = { '# written by fmhost stack fetch flink: sha1 size jar, each checked against Maven\'s .sha1' }
  for _, n in ipairs(names) do
    lines[#lines + 1] = string.format('%s %d %s', entries[n].sha1, entries[n].size, n)
  end
  return stack.write_file(manifest_path(dir), table.concat(lines, '\n') .. '\n')
end

-- {path = sha1} of the files in paths (sha1sum, ~0.3 s for all of Flink's
-- jars) | nil, msg.
function M.sha1_files(paths)
  local out = {}
  local i = 1
  while i <= #paths do
    local argv = { 'sha1sum', '--' }
    for j = i, math.min(#paths, i + 199) do argv[#argv + 1] = paths[j] end
    i = i + 200
    argv.timeout_ms = 300000
    local r, err = proc.run(argv)
    if not r then return nil, 'sha1sum (Debian package coreutils) cannot run: ' .. tostring(err) end
    -- a file that cannot be read: sha1sum says so on stderr and goes on
    for sha, path in r.stdout:gmatch('(%x+) [ *]([^\n]+)') do out[path] = sha:lower() end
  end
  return out
end

-- The local Maven repository Maven uses with o.maven_args.
function M.maven_repo(o)
  for _, a in ipairs((o or {}).maven_args or {}) do
    local d = tostring(a):match('^%-Dmaven%.repo%.local=(.+)$')
    if d then return d end
  end
  return (os.getenv('HOME') or '') .. '/.m2/repository'
end

-- {jar name = {path, ...}} for the jars of names found anywhere under repo.
local function repo_index(repo, names)
  local lfs = require 'lfs'
  local found = {}
  local function walk(d, depth)
    if depth > 16 then return end
    local ok, iter, state = pcall(lfs.dir, d)
    if not ok then return end
    for e in iter, state do
      if e ~= '.' and e ~= '..' then
        local p = d .. '/' .. e
        local mode = lfs.attributes(p, 'mode')
        if mode == 'directory' then
          walk(p, depth + 1)
        elseif names[e] and mode == 'file' then
          found[e] = found[e] or {}
          found[e][#found[e] + 1] = p
        end
      end
    end
  end
  walk(repo, 0)
  return found
end

local function kb(n) return n >= 10240 and string.format('%d kB', n // 1024) or string.format('%d bytes', n) end

-- What is wrong with the jar at path whose manifest entry is want, or nil.
local function against_manifest(path, want, size, sha)
  if size == nil then return 'missing' end
  if size ~= want.size then
    return string.format('%s, fetched as %s', size == 0 and '0 bytes' or kb(size), kb(want.size))
  end
  if sha ~= want.sha1 then return string.format('SHA-1 %s, fetched as %s', sha or '?', want.sha1) end
  return nil
end

local function is_zip(path)
  local f = io.open(path, 'rb')
  if not f then return false end
  local head = f:read(4)
  f:close()
  return head == 'PK\3\4'
end

-- Check the jars of folder dir. With its manifest (and not o.recheck): each
-- jar the manifest names must be there with its size and SHA-1. Without
-- (or o.recheck): each jar is compared with Maven's .sha1 in o.repo (one
-- there, else it must at least be a zip file), and the manifest is written
-- when all of them pass. o.quick: sizes only (status).
-- Returns a list of problems {name=, path=, why=, cache=} (cache: the copy in
-- Maven's repository is itself damaged; fetching again cannot help) | nil, msg.
function M.check_jars(dir, o)
  o = o or {}
  local lfs = require 'lfs'
  local problems = {}
  local manifest = not o.recheck and M.read_manifest(dir)
  local jars = list_jars(dir)
  if manifest then
    local names, paths = {}, {}
    for n in pairs(manifest) do names[#names + 1] = n end
    table.sort(names)
    for _, n in ipairs(names) do paths[#paths + 1] = dir .. '/' .. n end
    local sums = {}
    if not o.quick then
      local err
      sums, err = M.sha1_files(paths)
      if not sums then return nil, err end
    end
    for i, n in ipairs(names) do
      local size = lfs.attributes(paths[i], 'size')
      local why
      if o.quick then
        why = size == nil and 'missing' or (size ~= manifest[n].size and against_manifest(paths[i], manifest[n], size, nil))
      else
        why = against_manifest(paths[i], manifest[n], size, sums[paths[i]])
      end
      if why then problems[#problems + 1] = { name = n, path = paths[i], why = why } end
    end
    return problems
  end
  if o.quick then return problems end
  -- no manifest: against Maven's repository
  local want = {}
  for _, j in ipairs(jars) do want[j] = true end
  local index = repo_index(o.repo or M.maven_repo(o), want)
  local paths = {}
  for _, j in ipairs(jars) do
    paths[#paths + 1] = dir .. '/' .. j
    for _, c in ipairs(index[j] or {}) do paths[#paths + 1] = c end
  end
  local sums, err = M.sha1_files(paths)
  if not sums then return nil, err end
  local entries = {}
  for _, j in ipairs(jars) do
    local path = dir .. '/' .. j
    local size = lfs.attributes(path, 'size') or 0
    local sha = sums[path]
    local why, cache
    -- Maven's record: the first 40 hex digits of <jar>.sha1
    local records, matched = {}, false
    for _, c in ipairs(index[j] or {}) do
      local rec = (stack.read_file(c .. '.sha1') or ''):match('^%s*(%x+)')
      rec = rec and #rec == 40 and rec:lower() or nil
      if rec then
        records[#records + 1] = { path = c, sha1 = rec }
        if sha == rec then matched = true end
      end
    end
    if not sha then
      why = 'cannot be read'
    elseif not matched and #records > 0 then
      -- copied from a damaged file in Maven's repository, or damaged here
      for _, rec in ipairs(records) do
        if sums[rec.path] == sha and sha ~= rec.sha1 then
          cache = rec.path
          why = string.format('copied from %s in the Maven repository, which is damaged: SHA-1 %s, its .sha1 says %s',
                              rec.path, sha, rec.sha1)
          break
        end
      end
      if not cache then
        why = string.format('%s, SHA-1 %s; Maven\'s .sha1 says %s', size == 0 and '0 bytes' or kb(size), sha,
                            records[1].sha1)
      end
    elseif #records == 0 and (size == 0 or not is_zip(path)) then
      why = size == 0 and '0 bytes' or 'not a jar (zip) file'
    end
    if why then
      problems[#problems + 1] = { name = j, path = path, why = why, cache = cache }
    else
      entries[j] = { sha1 = sha, size = size }
    end
  end
  if #problems == 0 then
    local ok, werr = write_manifest(dir, entries)
    if not ok then return nil, werr end
  end
  return problems
end

-- The damaged jars of the complete jar folders of s (see M.check_jars; o
-- passed on): a list of problems, each with .set | nil, msg.
function M.damaged_jars(s, o)
  local out = {}
  for _, set in ipairs(M.jar_sets(s)) do
    if set_complete(set) then
      local problems, err = M.check_jars(set.dir, o)
      if not problems then return nil, err end
      for _, p in ipairs(problems) do p.set = set; out[#out + 1] = p end
    end
  end
  return out
end

-- One line naming the damaged jars: "<path> (<why>), ...".
local function name_damage(list)
  local parts = {}
  for _, p in ipairs(list) do parts[#parts + 1] = string.format('%s (%s)', p.path, p.why) end
  return table.concat(parts, ', ')
end

-- Resolve the jars of the configured versions with Maven unless they are
-- all there and intact. o.say: progress; o.force: run Maven even so;
-- o.maven_args: more words for mvn (say, '-o', or '-s', 'settings.xml').
-- Returns true, info | nil, msg.
-- info: {fetched = bool, ms =, jars = n, bytes = n, repaired = {names}}
local function fetch_locked(s, o)
  local say = o.say or silent
  local missing = M.missing_jars(s)
  local repo = M.maven_repo(o)
  local damaged, derr = M.damaged_jars(s, { repo = repo })
  if not damaged then return nil, 'flink: checking the jars failed: ' .. derr end
  local from_cache = {}
  for _, d in ipairs(damaged) do if d.cache then from_cache[#from_cache + 1] = d end end
  if #from_cache > 0 then
    return nil, string.format('flink: damaged jar %s; remove the damaged copy from the Maven repository and '
      .. "run 'fmhost stack fetch flink'", name_damage(from_cache))
  end
  if #missing == 0 and #damaged == 0 and not o.force then
    local n, bytes = 0, 0
    for _, set in ipairs(M.jar_sets(s)) do
      local a, b = dir_bytes(set.dir); n, bytes = n + a, bytes + b
    end
    return true, { fetched = false, jars = n, bytes = bytes }
  end
  local function fail(msg)
    if #damaged > 0 then
      return nil, string.format('flink: damaged jar %s could not be fetched again: %s', name_damage(damaged),
                                (msg:gsub('^flink: ', '')))
    end
    return nil, msg
  end
  local ok, err = check_tool({ 'mvn', '--version' }, 'maven', 'Apache Maven, which fetches Flink\'s jars')
  if not ok then return fail('flink: ' .. err) end
  if not stack.exists(s.pom) then return fail('flink: the pom ' .. s.pom .. ' is missing') end
  -- a damaged jar goes; Maven copies it anew (it keeps a file that is there)
  local repaired = {}
  for _, d in ipairs(damaged) do
    say('flink: %s is damaged (%s); fetching it again', d.path, d.why)
    os.remove(d.path)
    repaired[#repaired + 1] = d.name
  end

  -- complete sets are copied onto themselves (Maven skips files that are
  -- there); missing ones go to a staging directory, moved into place when
  -- Maven succeeded, so an interrupted or failed run leaves nothing half.
  local stage = string.format('%s/.staging-%d', s.jars, proc.getpid())
  rm_rf(stage)
  local target = { lib = s.lib, opt = s.opt, conn = s.conn }
  local dest = {}
  local names = {}
  for _, set in ipairs(M.jar_sets(s)) do
    dest[set.key] = target[set.key]
  end
  for _, set in ipairs(missing) do
    dest[set.key] = stage .. '/' .. set.key
    names[#names + 1] = set.what
  end
  if #repaired > 0 then names[#names + 1] = table.concat(repaired, ', ') end
  if #names == 0 then names[1] = 'every jar again' end
  say('flink: fetching %s with Maven (log: %s)', table.concat(names, ', '), s.maven_log)
  local t0 = proc.now_ms()
  local argv = {
    'mvn', '-B', '-ntp', '-f', s.pom, 'package',
    '-Dflink.version=' .. s.version,
    '-Djdbc.connector.version=' .. s.jdbc_version,
    '-Dmysql.driver.version=' .. s.mysql_version,
    '-Dfmhost.flink.dir=' .. s.base,
    '-Dflink.lib.dir=' .. dest.lib,
    '-Dflink.opt.dir=' .. dest.opt,
    '-Dflink.connector.dir=' .. dest.conn,
    timeout_ms = s.fetch_timeout_ms, max_output = 8 << 20,
  }
  for _, a in ipairs(o.maven_args or {}) do argv[#argv + 1] = a end
  local r, rerr = proc.run(argv)
  local log = r and (r.stdout .. r.stderr) or ''
  if not r then log = log .. ((rerr and rerr ~= '') and ('\nfmhost: ' .. rerr) or '') end
  stack.write_file(s.maven_log, log)
  if not r or not r.ok then
    rm_rf(stage)
    local cause, line = M.maven_failure(log)
    if not r then cause = 'Maven did not finish: ' .. tostring(rerr) end
    return fail(string.format('flink: fetching jars failed: %s; see %s%s', cause, s.maven_log,
      line and ('\n  ' .. line) or ''))
  end
  -- every folder Maven wrote: checked against Maven's .sha1 (the manifest
  -- is written anew), the staged ones then moved into place
  for _, set in ipairs(M.jar_sets(s)) do
    local from = dest[set.key]
    if not set_complete({ dir = from, need = set.need, need_pattern = set.need_pattern }) then
      rm_rf(stage)
      return fail(string.format('flink: Maven succeeded but %s lacks jars of %s; see %s', from, set.what,
                                s.maven_log))
    end
    local problems, cerr = M.check_jars(from, { recheck = true, repo = repo })
    if not problems then rm_rf(stage); return fail('flink: checking the jars failed: ' .. cerr) end
    if #problems > 0 then
      rm_rf(stage)
      return nil, string.format('flink: damaged jar %s after fetching it; see %s', name_damage(problems),
                                s.maven_log)
    end
  end
  for _, set in ipairs(missing) do
    local from = dest[set.key]
    rm_rf(set.dir) -- an empty or incomplete leftover
    local pok, perr = stack.mkdir_p(set.dir:match('^(.*)/[^/]+$'))
    if not pok then rm_rf(stage); return nil, 'flink: ' .. perr end
    local mok, merr = os.rename(from, set.dir)
    if not mok then
      rm_rf(stage)
      return nil, 'flink: cannot move the fetched jars into ' .. set.dir .. ': ' .. tostring(merr)
    end
  end
  rm_rf(stage)
  local n, bytes = 0, 0
  for _, set in ipairs(M.jar_sets(s)) do
    local a, b = dir_bytes(set.dir); n, bytes = n + a, bytes + b
  end
  local ms = proc.now_ms() - t0
  say('flink: jars ready in %.1f s: %d jars, %.1f MB under %s', ms / 1000, n, bytes / 1e6, s.jars)
  return true, { fetched = true, ms = ms, jars = n, bytes = bytes, repaired = repaired }
end

function M.fetch(cfg, o)
  o = o or {}
  local s = M.settings(cfg)
  local ok, err = stack.mkdir_p(s.jars)
  if not ok then return nil, 'flink: ' .. err end
  -- one Maven run at a time per jar cache (its own lock file: up holds the
  -- service's lock while it fetches); the check of the jars too, since it
  -- writes manifests
  local lock, lerr = proc.lock(s.jars .. '/.fetch.lock', s.fetch_timeout_ms)
  if not lock then return nil, 'flink: another fetch holds ' .. s.jars .. '/.fetch.lock: ' .. tostring(lerr) end
  return stack.run_locked(lock, fetch_locked, s, o)
end

-- --- classpath -----------------------------------------------------------------

-- The classpath of a JVM: lib/*.jar in byte order, then the connector's jars
-- when flink.jdbc_connector is on; the gateway adds opt/flink-sql-gateway.
function M.classpath(s, role)
  local parts = {}
  for _, j in ipairs(list_jars(s.lib)) do parts[#parts + 1] = s.lib .. '/' .. j end
  if s.connector then
    for _, j in ipairs(list_jars(s.conn)) do parts[#parts + 1] = s.conn .. '/' .. j end
  end
  if s.nats_connector then parts[#parts + 1] = s.nats_jar end
  if role == 'gateway' then
    parts[#parts + 1] = s.opt .. '/flink-sql-gateway-' .. s.version .. '.jar'
  end
  return table.concat(parts, ':')
end

-- --- config files --------------------------------------------------------------

local function yaml_scalar(v)
  v = tostring(v)
  if v:match('^[%w%./_:-][%w%./_: -]*$') and not v:match('^%-') and not v:match(': ') then return v end
  return '"' .. v:gsub('\\', '\\\\'):gsub('"', '\\"') .. '"'
end

-- The lines of config.yaml: Flink's flat dotted keys.
function M.config_entries(s)
  local e = {
    { 'jobmanager.rpc.address', '127.0.0.1' },
    { 'jobmanager.rpc.port', s.rpc_port },
    { 'jobmanager.bind-host', '127.0.0.1' },
    { 'jobmanager.memory.process.size', s.jm_memory },
    { 'taskmanager.host', '127.0.0.1' },
    { 'taskmanager.bind-host', '127.0.0.1' },
    { 'taskmanager.rpc.port', 0 },
    { 'taskmanager.data.port', 0 },
    { 'taskmanager.numberOfTaskSlots', s.slots },
    { 'taskmanager.memory.process.size', s.tm_memory },
    { 'taskmanager.memory.managed.fraction', '0.1' },
    { 'parallelism.default', 1 },
    { 'rest.address', '127.0.0.1' },
    { 'rest.bind-address', '127.0.0.1' },
    { 'rest.port', s.rest_port },
    { 'blob.server.port', 0 },
    { 'high-availability.type', 'NONE' },
    -- the TaskManager starts beside the JobManager and often asks before the
    -- ResourceManager runs; Flink's default waits 10 s before asking again
    { 'cluster.registration.error-delay', 1000 },
    { 'heartbeat.interval', s.heartbeat_interval_ms },
    { 'heartbeat.timeout', s.heartbeat_timeout_ms },
    -- the standalone ResourceManager fails a slot request it cannot serve at
    -- once, after a start-up period (by default slot.request.timeout); 0 ms
    -- means never: a job whose only TaskManager died waits (up to
    -- slot.request.timeout, 5 min) for a new one instead of spending its
    -- restart attempts on 'not enough resources' at a pace set by how fast
    -- the machine starts a JVM
    { 'resourcemanager.standalone.start-up-time', '0 ms' },
    { 'restart-strategy.type', 'fixed-delay' },
    { 'restart-strategy.fixed-delay.attempts', s.restart_attempts },
    { 'restart-strategy.fixed-delay.delay', s.restart_delay_ms .. ' ms' },
    { 'state.backend.type', 'hashmap' },
    { 'execution.checkpointing.dir', 'file://' .. s.base .. '/checkpoints' },
    { 'execution.checkpointing.savepoint-dir', 'file://' .. s.base .. '/savepoints' },
    { 'web.upload.dir', s.base .. '/web-upload' },
    { 'execution.target', 'remote' },
    { 'sql-gateway.endpoint.rest.address', '127.0.0.1' },
    { 'sql-gateway.endpoint.rest.bind-address', '127.0.0.1' },
    { 'sql-gateway.endpoint.rest.port', s.gateway_port },
    { 'sql-gateway.session.idle-timeout', '10 min' },
  }
  if s.checkpoint_interval_ms and s.checkpoint_interval_ms > 0 then
    e[#e + 1] = { 'execution.checkpointing.interval', s.checkpoint_interval_ms .. ' ms' }
  end
  return e
end

function M.config_yaml(s)
  local lines = { '# written by fmhost from config/ (flink.*) at each start; edits here are lost' }
  for _, kv in ipairs(M.config_entries(s)) do
    lines[#lines + 1] = kv[1] .. ': ' .. yaml_scalar(kv[2])
  end
  return table.concat(lines, '\n') .. '\n'
end

-- Write conf/config.yaml and conf/log4j.properties, and create the folders
-- the config names. Returns true | nil, msg.
function M.write_conf(s)
  for _, d in ipairs { s.conf, s.logdir, s.base .. '/checkpoints', s.base .. '/savepoints',
                       s.base .. '/tmp', s.base .. '/web-upload', s.base .. '/plugins' } do
    local ok, err = stack.mkdir_p(d)
    if not ok then return nil, err end
  end
  local log4j = stack.read_file(s.log4j_template)
  if not log4j then return nil, 'cannot read ' .. s.log4j_template end
  local ok, err = stack.write_file(s.conf .. '/log4j.properties', log4j)
  if not ok then return nil, err end
  return stack.write_file(s.conf .. '/config.yaml', M.config_yaml(s))
end

-- --- command lines -------------------------------------------------------------

local function split_words(line)
  local out = {}
  for w in line:gmatch('%S+') do out[#out + 1] = w end
  return out
end

local function append(t, list)
  for _, v in ipairs(list) do t[#t + 1] = v end
  return t
end

function M.log_file(s, name) return s.logdir .. '/' .. name .. '.log' end
function M.out_file(s, name) return s.logdir .. '/' .. name .. '.out' end

-- Each JVM's temporary folder, <stack.dir>/flink/tmp/<name>: its
-- java.io.tmpdir, which io.tmp.dirs and web.tmpdir default to (config.yaml
-- leaves them out), so everything a JVM unpacks (flink-rpc-akka*.jar,
-- ~21 MB, in every JVM; flink-table-planner_*.jar, ~40 MB, which went to
-- /tmp before; blob and shuffle folders) is in its own folder. A JVM that ends cleanly empties it; M.tidy removes the
-- folders of JVMs that no longer run (a SIGKILL leaves everything).
function M.tmp_dir(s, name) return s.base .. '/tmp/' .. name end

local function common_opts(s, name)
  local log4j = 'file:' .. s.conf .. '/log4j.properties'
  return append(append({}, M.JAVA17_OPTS), {
    '-Duser.timezone=UTC',
    '-Djava.io.tmpdir=' .. M.tmp_dir(s, name),
    '-Dlog.file=' .. M.log_file(s, name),
    '-Dlog4j.configuration=' .. log4j,
    '-Dlog4j.configurationFile=' .. log4j,
  })
end

-- The gateway's heap flags from flink.gateway_heap ("768m", "1g").
local function heap_flags(h)
  local n, unit = h:lower():match('^(%d+)([kmg]?)$')
  if not n then return nil end
  local mb = tonumber(n) * ({ k = 1 / 1024, m = 1, g = 1024, [''] = 1 / 1048576 })[unit]
  if mb >= 256 then return { '-Xms256m', '-Xmx' .. h } end
  return { '-Xmx' .. h }
end

-- argv of a JVM. role: 'jobmanager' | 'taskmanager' | 'gateway'; res: the
-- BashJavaUtils result {jvm = {...}, dyn = {...}} for JM/TM; cp the classpath.
function M.command(s, role, name, res, cp)
  local argv = { 'java' }
  if role == 'gateway' then
    append(argv, heap_flags(s.gateway_heap) or { '-Xmx768m' })
  else
    append(argv, res.jvm)
  end
  append(argv, common_opts(s, name))
  append(argv, { '-classpath', cp, M.MAIN[role] })
  if role == 'jobmanager' then
    append(argv, res.dyn)
    append(argv, { '--configDir', s.conf, '--executionMode', 'cluster' })
  elseif role == 'taskmanager' then
    append(argv, { '--configDir', s.conf })
    append(argv, res.dyn)
  end
  return argv
end

local function jvm_env(s)
  return { FLINK_CONF_DIR = s.conf, FLINK_PLUGINS_DIR = s.base .. '/plugins', FLINK_LOG_DIR = s.logdir,
           JAVA_TOOL_OPTIONS = false, _JAVA_OPTIONS = false }
end

-- BashJavaUtils computes the memory flags Flink's own launcher would pass:
-- line 1 the JVM flags, line 2 the dynamic -D key=value pairs. Results are
-- cached next to the config they were computed from (each run costs ~1 s).
local BJU_WHAT = { jobmanager = 'GET_JM_RESOURCE_PARAMS', taskmanager = 'GET_TM_RESOURCE_PARAMS' }

local function bju_parse(text)
  local lines = {}
  for l in text:gmatch('[^\n]+') do
    local r = l:match('^BASH_JAVA_UTILS_EXEC_RESULT:(.*)$')
    if r then lines[#lines + 1] = r end
  end
  if #lines < 2 then return nil end
  return { jvm = split_words(lines[#lines - 1]), dyn = split_words(lines[#lines]) }
end

local function bju_cache_path(s) return s.conf .. '/memory-params.json' end

local function bju_cached(s, conf_text, cp)
  local text = stack.read_file(bju_cache_path(s))
  if not text then return nil end
  local ok, t = pcall(require('cjson').decode, text)
  if not ok or type(t) ~= 'table' or t.config ~= conf_text or t.lib ~= s.lib then return nil end
  if type(t.jobmanager) ~= 'table' or type(t.taskmanager) ~= 'table' then return nil end
  return t
end

-- Both results {jobmanager = res, taskmanager = res} | nil, msg. The two
-- JVMs run side by side.
function M.memory_params(s, conf_text, cp)
  local cached = bju_cached(s, conf_text, cp)
  if cached then return { jobmanager = cached.jobmanager, taskmanager = cached.taskmanager }, true end
  local procs, outs = {}, {}
  for _, role in ipairs { 'jobmanager', 'taskmanager' } do
    local what = BJU_WHAT[role]
    outs[role] = s.logdir .. '/bju-' .. role .. '.out'
    local p, err = proc.spawn { 'java', '-classpath', cp, M.MAIN.bju, what, '--configDir', s.conf,
                                stdout = outs[role], merge_stderr = true, group = true, env = jvm_env(s) }
    if not p then
      for _, q in pairs(procs) do q:kill_tree('KILL'); q:wait(5000) end
      return nil, 'flink: ' .. err
    end
    procs[role] = p
  end
  local res, failed = {}, nil
  for _, role in ipairs { 'jobmanager', 'taskmanager' } do
    local p = procs[role]
    local exited, code = p:wait(60000)
    if not exited then p:kill_tree('KILL'); p:wait(5000) end
    local text = stack.read_file(outs[role]) or ''
    res[role] = bju_parse(text)
    if not res[role] and not failed then
      local cause
      for l in text:gmatch('[^\n]+') do
        local c = l:match('^Caused by: [%w%.$]*%.([%w$]+: .*)$')
        if c then cause = c end
      end
      cause = cause or (exited and ('exit ' .. tostring(code)) or 'no answer in 60 s')
      failed = string.format('flink: computing the %s memory parameters failed: %s (check flink.%s); see %s',
        role, cause, role == 'jobmanager' and 'jm_memory' or 'tm_memory', outs[role])
    end
  end
  if failed then return nil, failed end
  stack.write_file(bju_cache_path(s), require('cjson').encode {
    config = conf_text, lib = s.lib, jobmanager = res.jobmanager, taskmanager = res.taskmanager })
  return res, false
end

-- --- HTTP probes ---------------------------------------------------------------

-- GET a JSON document through fmhost.flink. Returns the table | nil, msg.
local http_get = service.http_get
M._http_get = http_get

-- A fmhost.flink client for this stack's cluster (or the configured
-- external one). o: timeout_ms, poll_ms.
function M.client(cfg, o)
  local s = M.settings(cfg)
  o = o or {}
  return require('fmhost.flink').client { rest = s.rest_url, gateway = s.gateway_url,
                                          timeout_ms = o.timeout_ms, poll_ms = o.poll_ms }
end

function M.urls(cfg)
  local s = M.settings(cfg)
  return s.rest_url, s.gateway_url
end

-- The JDBC URL and the WITH options of a Flink table on a MariaDB table
-- for cfg.mysql: pipeline authoring, in fmhost.pipeline.sql (jdbc_url,
-- jdbc_options); these two remain for the specs and benches that call them here.
local function mysql_of(cfg)
  return { host = get(cfg, 'mysql.host'), port = int(get(cfg, 'mysql.port')),
           database = get(cfg, 'mysql.database'), user = get(cfg, 'mysql.user'),
           password = get(cfg, 'mysql.password') }
end

function M.jdbc_url(cfg)
  return require('fmhost.pipeline.sql').jdbc_url(mysql_of(cfg))
end

function M.jdbc_options(cfg, table_name, extra)
  return require('fmhost.pipeline.sql').jdbc_options(mysql_of(cfg), table_name, extra)
end

-- --- finding our JVMs ----------------------------------------------------------

local function role_of(argv)
  for _, a in ipairs(argv) do
    if a == M.MAIN.jobmanager then return 'jobmanager' end
    if a == M.MAIN.taskmanager then return 'taskmanager' end
    if a == M.MAIN.gateway then return 'gateway' end
  end
  return nil
end

local function tm_number(name)
  if name == 'taskmanager' then return 1 end
  return math.tointeger(tonumber(name:match('^taskmanager%-(%d+)$')))
end

local function tm_name(n)
  if n == 1 then return 'taskmanager' end
  return 'taskmanager-' .. n
end

-- Every running JVM of this stack, found in /proc by its -Dlog.file
-- argument under our log folder: {jobmanager = p, gateway = p,
-- taskmanagers = {p, ...} (by number)}; p = {pid=, name=, role=, n=}.
function M.find(s)
  local lfs = require 'lfs'
  local prefix = '-Dlog.file=' .. s.logdir .. '/'
  local found = { taskmanagers = {}, all = {} }
  local me = proc.getpid()
  for e in lfs.dir('/proc') do
    local pid = e:match('^%d+$') and math.tointeger(tonumber(e))
    if pid and pid ~= me then
      local argv = proc.cmdline(pid)
      if argv and argv[1] and (argv[1] == 'java' or argv[1]:match('/java$')) then
        local name
        for _, a in ipairs(argv) do
          if a:sub(1, #prefix) == prefix then name = a:sub(#prefix + 1):match('^(.-)%.log$'); break end
        end
        local role = name and role_of(argv)
        if role and proc.pid_alive(pid) then
          local p = { pid = pid, name = name, role = role, argv = argv }
          found.all[#found.all + 1] = p
          if role == 'taskmanager' then
            p.n = tm_number(name) or 0
            found.taskmanagers[#found.taskmanagers + 1] = p
          elseif found[role] == nil or found[role].pid > pid then
            found[role] = p
          end
        end
      end
    end
  end
  table.sort(found.taskmanagers, function(a, b) return a.n < b.n end)
  local rank = { jobmanager = 1, taskmanager = 2, gateway = 3 }
  table.sort(found.all, function(a, b)
    if a.role ~= b.role then return rank[a.role] < rank[b.role] end
    return (a.n or 0) < (b.n or 0)
  end)
  return found
end

-- The resident memory of pid in kB (VmRSS), or nil.
function M.rss_kb(pid)
  return require('fmhost.files').status_kb(pid, 'VmRSS')
end

-- --- up ------------------------------------------------------------------------

-- What a running cluster must match: the settings that go into its JVMs.
local function fingerprint(s, conf_text)
  return {
    version = s.version, connector = s.connector, nats_connector = s.nats_connector,
    jdbc_connector_version = s.connector and s.jdbc_version or nil,
    mysql_driver_version = s.connector and s.mysql_version or nil,
    gateway_heap = s.gateway_heap, config = conf_text,
  }
end

-- The names of the settings in which a running cluster (state st) differs
-- from s; empty when it matches.
local function differences(st, s)
  local out = {}
  -- started by something that kept no record: nothing to compare with, and
  -- no reason to restart a cluster that answers
  if not (st and type(st.fingerprint) == 'table') then return out end
  local want = fingerprint(s, M.config_yaml(s))
  local have = st.fingerprint
  for _, k in ipairs { 'version', 'connector', 'nats_connector', 'jdbc_connector_version', 'mysql_driver_version',
                       'gateway_heap' } do
    if have[k] ~= want[k] then
      out[#out + 1] = string.format('%s %s -> %s', k, tostring(have[k]), tostring(want[k]))
    end
  end
  if have.config ~= want.config then
    local old = {}
    for l in (have.config or ''):gmatch('[^\n]+') do old[l] = true end
    for l in want.config:gmatch('[^\n]+') do
      if not old[l] and not l:match('^#') then out[#out + 1] = l:match('^([^:]+)') or l end
    end
    if #out == 0 then out[#out + 1] = 'config.yaml' end
  end
  return out
end

-- --- leftovers -------------------------------------------------------------------

local function is_jvm_dir(name)
  return name == 'jobmanager' or name == 'taskmanager' or name == GATEWAY_NAME
    or name:match('^taskmanager%-%d+$') ~= nil
end

-- true when no file (of any kind but a folder) is anywhere under dir.
local function holds_no_file(dir)
  local lfs = require 'lfs'
  local ok, iter, state = pcall(lfs.dir, dir)
  if not ok then return false end
  for e in iter, state do
    if e ~= '.' and e ~= '..' then
      local p = dir .. '/' .. e
      local mode = lfs.attributes(p, 'mode')
      if mode ~= 'directory' or not holds_no_file(p) then return false end
    end
  end
  return true
end


local LIVE_JOB = { CREATED = true, INITIALIZING = true, RUNNING = true, RESTARTING = true, FAILING = true,
                   CANCELLING = true, SUSPENDED = true, RECONCILING = true }

-- Remove what the cluster of s left behind and nobody needs any more
-- (found: M.find(s), the JVMs that run):
--  * tmp/<name> of each JVM that does not run: a SIGKILLed JVM leaves ~21 MB
--    of unpacked jars there; with none running, all of tmp/ (also what
--    older fmhost versions put there directly);
--  * checkpoints/<job id> folders without a single file (a job that ended
--    leaves its empty shared/ and taskowned/ behind): all of them when no
--    JVM runs, else those of jobs the JobManager does not list as running.
-- Called with the service's lock held at every start, `up`/ensure and
-- `down`. Returns {tmp = {names}, checkpoints = {job ids}}.
function M.tidy(s, found)
  found = found or M.find(s)
  local live = {}
  for _, p in ipairs(found.all) do live[p.name] = true end
  local none = #found.all == 0
  local removed = { tmp = {}, checkpoints = {} }
  for _, e in ipairs(entries(s.base .. '/tmp')) do
    if (is_jvm_dir(e) and not live[e]) or (none and not is_jvm_dir(e)) then
      rm_rf(s.base .. '/tmp/' .. e)
      removed.tmp[#removed.tmp + 1] = e
    end
  end
  local empty = {}
  for _, e in ipairs(entries(s.base .. '/checkpoints')) do
    if e:match('^%x+$') and holds_no_file(s.base .. '/checkpoints/' .. e) then empty[#empty + 1] = e end
  end
  if #empty > 0 and not none then
    -- listed after the folders were: a job that made a folder is listed
    local jobs = found.jobmanager and http_get(s.rest_url, '/jobs/overview', 5000)
    if not jobs then return removed end -- no answer: nothing is known, nothing goes
    local running = {}
    for _, j in ipairs(jobs.jobs or {}) do
      if LIVE_JOB[j.state] then running[j.jid] = true end
    end
    local keep = {}
    for _, e in ipairs(empty) do if not running[e] then keep[#keep + 1] = e end end
    empty = keep
  end
  for _, e in ipairs(empty) do
    rm_rf(s.base .. '/checkpoints/' .. e)
    removed.checkpoints[#removed.checkpoints + 1] = e
  end
  return removed
end

-- Every JVM in list stopped: SIGTERM to its group, SIGKILL after flink.stop_timeout_ms.
local function stop_pids(s, list)
  return stack.stop_pids('flink', list, s.stop_timeout_ms, { group = true })
end

local function spawn_jvm(s, role, name, res, cp)
  local tok, terr = stack.mkdir_p(M.tmp_dir(s, name))
  if not tok then return nil, 'flink: ' .. terr end
  local argv = M.command(s, role, name, res, cp)
  argv.stdout = M.out_file(s, name)
  argv.merge_stderr = true
  argv.session = true
  argv.cwd = s.base
  argv.env = jvm_env(s)
  local p, err = proc.spawn(argv)
  if not p then return nil, 'flink: ' .. err end
  return { pid = p.pid, name = name, role = role, handle = p,
           log = M.log_file(s, name), out = M.out_file(s, name) }
end

local function state_record(s, procs, extra)
  local t = {
    state = 'starting', started_at = os.time(), version = s.version, connector = s.connector,
    jdbc_connector_version = s.jdbc_version, mysql_driver_version = s.mysql_version,
    rest_port = s.rest_port, rpc_port = s.rpc_port, gateway_port = s.gateway_port,
    rest_url = s.rest_url, gateway_url = s.gateway_url, logdir = s.logdir, conf = s.conf,
    procs = {},
  }
  for _, p in ipairs(procs) do
    t.procs[#t.procs + 1] = { pid = p.pid, name = p.name, role = p.role, log = p.log, out = p.out }
  end
  for k, v in pairs(extra or {}) do t[k] = v end
  return t
end

-- The end of a JVM's log and stdout for an error message.
local function log_excerpt(p, from)
  local parts = {}
  local out = stack.tail(p.out, 6)
  if out ~= '' then parts[#parts + 1] = out end
  local log = stack.tail(p.log, 8, from)
  local errs = {}
  for l in log:gmatch('[^\n]+') do
    if l:match(' ERROR ') or l:match('Exception') then errs[#errs + 1] = l end
  end
  local tail = #errs > 0 and table.concat(errs, '\n', math.max(1, #errs - 7)) or log
  if tail ~= '' then parts[#parts + 1] = tail end
  return table.concat(parts, '\n')
end

-- Readiness: /overview lists `want_tms` TaskManagers with every slot, and
-- the gateway answers /v1/info. Fails early when a JVM exits.
local function wait_ready(s, procs, timeout_ms, want_tms)
  local jm_up, gw_up = false, false
  local last_overview
  local deadline = proc.now_ms() + timeout_ms
  while true do
    for _, p in ipairs(procs) do
      if p.handle and not p.handle:alive() then
        local _, code, sig = p.handle:wait(0)
        return nil, p, string.format('%s exited during start-up (%s)', p.name,
          code and ('status ' .. code) or ('signal ' .. tostring(sig)))
      end
    end
    local ov = http_get(s.rest_url, '/overview', 2000)
    if ov then
      jm_up = true
      last_overview = ov
    end
    if not gw_up then gw_up = http_get(s.gateway_url, '/v1/info', 2000) ~= nil end
    if ov and gw_up and (tonumber(ov.taskmanagers) or 0) >= want_tms
       and (tonumber(ov['slots-total']) or 0) >= want_tms * s.slots then
      return ov
    end
    if proc.now_ms() >= deadline then
      local who, what
      if not jm_up then
        who, what = 'jobmanager', 'the JobManager REST endpoint ' .. s.rest_url .. ' never answered'
      elseif not gw_up then
        who, what = GATEWAY_NAME, 'the SQL Gateway ' .. s.gateway_url .. ' never answered'
      else
        who = 'taskmanager'
        what = string.format('no TaskManager registered with its %d slots (/overview: %d taskmanagers, %d slots)',
          s.slots, tonumber(last_overview.taskmanagers) or 0, tonumber(last_overview['slots-total']) or 0)
      end
      for _, p in ipairs(procs) do if p.name == who or p.role == who then return nil, p, what end end
      return nil, procs[1], what
    end
    proc.sleep(100)
  end
end

local function abort_start(cfg, procs)
  for _, p in ipairs(procs) do
    if proc.pid_alive(p.pid) then proc.kill_tree(p.pid, 'KILL', true) end
  end
  for _, p in ipairs(procs) do proc.wait_pid(p.pid, 10000) end
  stack.clear_state(cfg, 'flink')
end

local function check_ports(s)
  return service.check_ports('flink', {
    { key = 'flink.rest_port', port = s.rest_port, label = true },
    { key = 'flink.rpc_port', port = s.rpc_port, label = true },
    { key = 'flink.gateway_port', port = s.gateway_port, label = true },
  }, { advice = 'nothing was started. Stop that process or ' })
end

-- What must hold before anything is stopped or started: the jars (fetched
-- when missing), java, a usable gateway heap. Returns the java version | nil, msg.
local function prepare(cfg, s, o)
  local fok, ferr = M.fetch(cfg, o)
  if not fok then return nil, ferr end
  local jv, jerr = M.check_java()
  if not jv then return nil, 'flink: ' .. jerr end
  if s.nats_connector and not stack.exists(s.nats_jar) then
    return nil, 'flink: the JetStream connector jar ' .. s.nats_jar .. ' is missing; build it with tools/setup.sh '
      .. '(or set flink.nats_connector=false)'
  end
  if not heap_flags(s.gateway_heap) then
    return nil, string.format("flink: flink.gateway_heap '%s' is not a JVM heap size such as 768m or 1g",
                              s.gateway_heap)
  end
  return jv
end

-- Start JM + TM + gateway (nothing of ours runs). Returns true, info | nil, msg.
local function start_cluster(cfg, s, o, jv)
  local pok, perr = check_ports(s)
  if not pok then return nil, perr end
  M.tidy(s) -- nothing of the cluster runs: what its last JVMs left goes
  local ok, err = M.write_conf(s)
  if not ok then return nil, 'flink: ' .. err end
  local conf_text = M.config_yaml(s)
  local cp = M.classpath(s)
  local t0 = proc.now_ms()

  -- the gateway needs no memory parameters: it starts first, beside BashJavaUtils
  local procs = {}
  local gw, gerr = spawn_jvm(s, 'gateway', GATEWAY_NAME, nil, M.classpath(s, 'gateway'))
  if not gw then return nil, gerr end
  procs[#procs + 1] = gw
  local res, cached = M.memory_params(s, conf_text, cp)
  if not res then abort_start(cfg, procs); return nil, cached end
  for _, role in ipairs { 'jobmanager', 'taskmanager' } do
    local p, serr = spawn_jvm(s, role, role, res[role], cp)
    if not p then abort_start(cfg, procs); return nil, serr end
    table.insert(procs, role == 'jobmanager' and 1 or #procs + 1, p)
  end
  local extra = { fingerprint = fingerprint(s, conf_text), classpath = cp, tm_seq = 1,
                  tm_jvm = res.taskmanager.jvm, tm_dyn = res.taskmanager.dyn, java = jv }
  stack.write_state(cfg, 'flink', state_record(s, procs, extra))

  local ov, bad, why = wait_ready(s, procs, s.start_timeout_ms, 1)
  if not ov then
    abort_start(cfg, procs)
    local excerpt = log_excerpt(bad)
    return nil, string.format('flink: %s; stopped what was started. Read %s (and %s)%s',
      why, bad.log, bad.out, excerpt ~= '' and (', which ends:\n' .. excerpt) or '')
  end
  local ms = proc.now_ms() - t0
  extra.state = 'running'
  extra.start_ms = ms
  extra.flink_version = ov['flink-version']
  stack.write_state(cfg, 'flink', state_record(s, procs, extra))
  return true, { ms = ms, procs = procs, overview = ov, memory_params_cached = cached,
                 version = ov['flink-version'] }
end

-- Start a TaskManager in a running cluster (lock held). Returns true, info | nil, msg.
local function start_tm_locked(cfg, s, n, o)
  local st = stack.read_state(cfg, 'flink')
  local found = M.find(s)
  if not found.jobmanager or not st or not st.classpath then
    return nil, 'flink: the cluster is not running (start it with fmhost stack up flink)'
  end
  -- a new TaskManager gets a number never used in this cluster's life, so
  -- its log file is its own
  local seq = math.tointeger(st.tm_seq) or 1
  for _, p in ipairs(found.taskmanagers) do seq = math.max(seq, p.n) end
  if n == nil then n = seq + 1 end
  if math.type(n) ~= 'integer' or n < 1 then return nil, 'flink: a TaskManager number is an integer >= 1' end
  for _, p in ipairs(found.taskmanagers) do
    if p.n == n then return nil, string.format('flink: %s runs already (pid %d)', p.name, p.pid) end
  end
  local before = {}
  local tms = http_get(s.rest_url, '/taskmanagers', 5000)
  for _, t in ipairs(tms and tms.taskmanagers or {}) do before[t.id] = true end
  local name = tm_name(n)
  M.tidy(s, found) -- a killed TaskManager's folder, say
  local p, err = spawn_jvm(s, 'taskmanager', name, { jvm = st.tm_jvm, dyn = st.tm_dyn }, st.classpath)
  if not p then return nil, err end
  local t0 = proc.now_ms()
  st.tm_seq = math.max(seq, n)
  st.procs = st.procs or {}
  st.procs[#st.procs + 1] = { pid = p.pid, name = name, role = 'taskmanager', log = p.log, out = p.out }
  stack.write_state(cfg, 'flink', st)
  if o.wait == false then return true, { pid = p.pid, name = name, log = p.log } end
  local id = stack.wait_until(o.timeout_ms or s.start_timeout_ms, 100, function()
    if not p.handle:alive() then return 'exited' end
    local now = http_get(s.rest_url, '/taskmanagers', 2000)
    for _, t in ipairs(now and now.taskmanagers or {}) do
      if not before[t.id] then return t.id end
    end
    return nil
  end)
  if not id or id == 'exited' then
    local what = id == 'exited' and 'exited during start-up' or 'did not register with the JobManager in time'
    proc.kill_tree(p.pid, 'KILL', true)
    proc.wait_pid(p.pid, 10000)
    local excerpt = log_excerpt(p)
    return nil, string.format('flink: %s %s (stopped it); read %s%s', name, what, p.log,
      excerpt ~= '' and (', which ends:\n' .. excerpt) or '')
  end
  return true, { pid = p.pid, name = name, n = n, log = p.log, out = p.out, resource_id = id,
                 ms = proc.now_ms() - t0 }
end

local function start_locked(cfg, s, o)
  local say = o.say or silent
  local found = M.find(s)
  local st = stack.read_state(cfg, 'flink')
  if #found.all > 0 then
    -- a JobManager and a gateway run; a missing TaskManager can be added
    -- only with the start record (its classpath and memory flags)
    local complete = found.jobmanager and found.gateway
      and (#found.taskmanagers > 0 or (st and st.classpath and st.tm_jvm))
    local diff = differences(st, s)
    if complete and #diff == 0 then
      if #found.taskmanagers == 0 then
        say('flink: no TaskManager runs; starting one')
        local ok, info = start_tm_locked(cfg, s, nil, {})
        if not ok then return nil, info end
      else
        M.tidy(s, found)
      end
      return true, { already = true, procs = M.find(s).all }
    end
    if complete and not o.restart_on_change then
      M.tidy(s, found)
      return true, { already = true, procs = found.all,
        warning = 'flink: running with other settings than the configuration asks (' .. table.concat(diff, ', ')
          .. "); run 'fmhost stack restart flink' to apply them" }
    end
    local jv, perr = prepare(cfg, s, o)
    if not jv then return nil, perr end
    say('flink: %s; restarting', complete and ('settings changed: ' .. table.concat(diff, ', '))
      or 'the cluster runs only in part')
    local ok, err = stop_pids(s, found.all)
    if not ok then return nil, err end
    stack.clear_state(cfg, 'flink')
    return start_cluster(cfg, s, o, jv)
  end
  local jv, perr = prepare(cfg, s, o)
  if not jv then return nil, perr end
  return start_cluster(cfg, s, o, jv)
end

-- "jobmanager 123, taskmanager 124, ..." for progress lines.
local function pid_list(procs)
  local out = {}
  for _, p in ipairs(procs or {}) do out[#out + 1] = string.format('%s %d', p.name, p.pid) end
  return table.concat(out, ', ')
end

local function stop_locked(cfg, s, o)
  local found = M.find(s)
  if #found.all == 0 then
    stack.clear_state(cfg, 'flink')
    M.tidy(s, found)
    return true, { was_running = false }
  end
  local t0 = proc.now_ms()
  local ok, killed = stop_pids(s, found.all)
  if not ok then return nil, killed end
  stack.clear_state(cfg, 'flink')
  M.tidy(s)
  return true, { was_running = true, procs = found.all, ms = proc.now_ms() - t0, killed = killed }
end

-- --- lifecycle -----------------------------------------------------------------

-- start, up, ensure, stop, down, restart: see fmhost.stack.service.
-- start(cfg, o): the cluster unless it runs; o.say: progress;
-- o.restart_on_change (ensure sets it): restart a running cluster whose
-- settings differ from cfg (a spec's overridden cfg). Returns true, info |
-- nil, msg. info: {already=, ms= (start-up time), procs = {{pid, name,
-- role, log, out}...}, warning=, external=}. stop: every JVM of the
-- cluster, SIGTERM, SIGKILL after flink.stop_timeout_ms. restart: with the
-- settings of cfg (say, a spec's copy with flink.jdbc_connector = false).
service.lifecycle(M, {
  name = 'flink', key = 'flink', settings = M.settings,
  start_locked = start_locked, stop_locked = stop_locked,
  start_lock_ms = function(s) return s.start_timeout_ms + s.fetch_timeout_ms + 60000 end,
  stop_lock_ms = function(s) return s.stop_timeout_ms + 60000 end,
  external = function(s)
    local ov = http_get(s.rest_url, '/overview', 3000)
    local gw = http_get(s.gateway_url, '/v1/info', 3000)
    if ov and gw then return true, { already = true, external = true, overview = ov } end
    return nil, string.format('flink: %s (flink.managed is false, so fmhost starts no cluster)',
      not ov and ('no JobManager answers at ' .. s.rest_url) or ('no SQL Gateway answers at ' .. s.gateway_url))
  end,
  external_where = function(s)
    return string.format('a cluster answers at %s, gateway %s', s.rest_url, s.gateway_url)
  end,
  say_already = function(say, s, info) say('flink: already running (%s)', pid_list(info.procs)) end,
  say_started = function(say, s, info)
    say('flink: started Flink %s (%s): REST %s, SQL Gateway %s, %d slots, JDBC connector %s, in %.2f s',
        info.version or s.version, pid_list(info.procs), s.rest_url, s.gateway_url, s.slots,
        s.connector and s.jdbc_version or 'off', info.ms / 1000)
    say('flink: logs in %s', s.logdir)
  end,
  say_stopped = function(say, s, info)
    say('flink: stopped %s in %.2f s%s', pid_list(info.procs), info.ms / 1000,
        info.killed and ' (some needed SIGKILL)' or '')
  end,
})

-- --- TaskManagers (failure scenarios) ----------------------------------------

-- The running TaskManagers: {{pid=, name=, n=, log=}, ...} by number.
function M.taskmanagers(cfg)
  local s = M.settings(cfg)
  local out = {}
  for _, p in ipairs(M.find(s).taskmanagers) do
    out[#out + 1] = { pid = p.pid, name = p.name, n = p.n, log = M.log_file(s, p.name) }
  end
  return out
end

-- The ResourceID a TaskManager logged at start (its id in /taskmanagers).
function M.resource_id(cfg, name)
  local s = M.settings(cfg)
  local text = stack.read_file(M.log_file(s, name)) or ''
  local id
  for m in text:gmatch('Starting TaskManager with ResourceID: (%S+)') do id = m end
  return id
end

-- Signal TaskManager number n (nil: the lowest running one), by default
-- SIGKILL; a KILL waits until the process is gone.
-- Returns true, {pid=, name=, n=, resource_id=} | nil, msg.
function M.kill_taskmanager(cfg, n, sig)
  sig = sig or 'KILL'
  local s = M.settings(cfg)
  if not s.managed then return nil, 'flink: flink.managed is false; fmhost does not own that cluster' end
  local tms = M.find(s).taskmanagers
  local victim
  for _, p in ipairs(tms) do
    if n == nil or p.n == n then victim = p; break end
  end
  if not victim then
    return nil, n and string.format('flink: TaskManager %d is not running', n) or 'flink: no TaskManager runs'
  end
  local rid = M.resource_id(cfg, victim.name)
  local ok, err = stack.signal_pid('flink', victim, sig)
  if not ok then return nil, err end
  return true, { pid = victim.pid, name = victim.name, n = victim.n, resource_id = rid }
end

-- Start another TaskManager (number n, default the next unused one; its
-- own log <name>.log) and wait until it registers. o.wait=false: do not
-- wait; o.timeout_ms. Returns true, {pid=, name=, n=, log=, resource_id=, ms=} | nil, msg.
function M.start_taskmanager(cfg, n, o)
  o = o or {}
  local s = M.settings(cfg)
  if not s.managed then return nil, 'flink: flink.managed is false; fmhost does not own that cluster' end
  return stack.with_lock(cfg, 'flink', s.start_timeout_ms + 60000, start_tm_locked, cfg, s, n, o)
end

-- --- status --------------------------------------------------------------------

function M.status(cfg)
  local s = M.settings(cfg)
  local fields = {}
  local function add(k, v) fields[#fields + 1] = { k, v } end
  if not s.managed then
    local ov = http_get(s.rest_url, '/overview', 2000)
    local gw = http_get(s.gateway_url, '/v1/info', 2000)
    add('rest', s.rest_url .. (ov and ' (answering)' or ' (NOT answering)'))
    add('gateway', s.gateway_url .. (gw and ' (answering)' or ' (NOT answering)'))
    if ov then add('version', ov['flink-version']) end
    return service.external_status('flink', ov ~= nil and gw ~= nil, fields)
  end
  local found = M.find(s)
  local st = stack.read_state(cfg, 'flink') or {}
  local ov = found.jobmanager and http_get(s.rest_url, '/overview', 2000)
  local gw = found.gateway and http_get(s.gateway_url, '/v1/info', 2000)
  local running = found.jobmanager ~= nil and found.gateway ~= nil and #found.taskmanagers > 0
  for _, p in ipairs(found.all) do
    local rss = M.rss_kb(p.pid)
    add(p.name, string.format('pid %d%s, log %s', p.pid, rss and string.format(', rss %d MB', rss // 1024) or '',
                              M.log_file(s, p.name)))
  end
  add('rest', string.format('%s%s', s.rest_url, found.jobmanager and (ov and ' (answering)' or ' (not answering)') or ''))
  add('rpc', '127.0.0.1:' .. s.rpc_port)
  add('gateway', string.format('%s%s', s.gateway_url, found.gateway and (gw and ' (answering)' or ' (not answering)') or ''))
  if ov then
    add('cluster', string.format('%d taskmanagers, %d slots (%d free), %d jobs running, %d finished, %d failed, %d cancelled',
      ov.taskmanagers or 0, ov['slots-total'] or 0, ov['slots-available'] or 0, ov['jobs-running'] or 0,
      ov['jobs-finished'] or 0, ov['jobs-failed'] or 0, ov['jobs-cancelled'] or 0))
  end
  local fp = st.fingerprint or {}
  local version = (ov and ov['flink-version']) or (running and st.version) or s.version
  local conn_on, jdbc, mysql = s.connector, s.jdbc_version, s.mysql_version
  if running and fp.version then conn_on, jdbc, mysql = fp.connector, fp.jdbc_connector_version, fp.mysql_driver_version end
  add('versions', string.format('Flink %s, JDBC connector %s', version,
    conn_on and (jdbc .. ' + mysql-connector-j ' .. mysql) or 'off (flink.jdbc_connector is false)'))
  if running and #differences(st, s) > 0 then
    add('note', 'runs with other settings than the configuration (' .. table.concat(differences(st, s), ', ')
      .. "); 'fmhost stack restart flink' applies them")
  end
  local missing = M.missing_jars(s)
  local damaged = M.damaged_jars(s, { quick = true }) or {} -- sizes only: the SHA-1s at fetch and start
  add('jars', s.jars .. (#missing > 0 and (' (missing: ' .. missing[1].what .. (#missing > 1 and ', ...' or '')
    .. "; 'fmhost stack fetch flink')") or '')
    .. (#damaged > 0 and (' (damaged: ' .. damaged[1].name .. ' ' .. damaged[1].why .. (#damaged > 1 and ', ...' or '')
    .. "; 'fmhost stack fetch flink' fetches it again)") or ''))
  add('conf', s.conf)
  add('logs', s.logdir)
  if running and st.started_at then
    add('up since', os.date('!%Y-%m-%d %H:%M:%S UTC', math.tointeger(st.started_at) or 0)
      .. (st.start_ms and string.format(' (started in %.2f s)', st.start_ms / 1000) or ''))
  end
  local summary = running and 'running' or (#found.all > 0 and 'running in part' or 'not running')
  return { running = running, managed = true, procs = found.all, overview = ov, version = version,
           rest_url = s.rest_url, gateway_url = s.gateway_url, logdir = s.logdir,
           summary = summary, fields = fields }
end

-- --- commands ------------------------------------------------------------------

M.commands = {
  -- fmhost stack fetch flink [--force]: resolve the jars now
  fetch = function(cfg, words, o)
    local force = false
    for _, w in ipairs(words) do
      if w == '--force' then force = true
      else io.stderr:write('fmhost: stack fetch flink takes only --force\n'); return stack.EXIT_USAGE end
    end
    local ok, info = M.fetch(cfg, { say = o.say, force = force })
    if not ok then io.stderr:write('fmhost: ', info, '\n'); return stack.EXIT_FAIL end
    if not info.fetched then
      o.say('flink: jars present (%d jars, %.1f MB under %s); nothing to fetch', info.jars, info.bytes / 1e6,
            M.settings(cfg).jars)
    end
    return stack.EXIT_OK
  end,
  -- fmhost stack classpath flink [gateway]: the classpath the JVMs get
  classpath = function(cfg, words, o)
    io.stdout:write(M.classpath(M.settings(cfg), words[1] == 'gateway' and 'gateway' or nil), '\n')
    return stack.EXIT_OK
  end,
}

return M
