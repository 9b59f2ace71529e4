/* fmhost.validate: Lua face of the validator (compare, checksum, schema and
 * data-quality checks, the verdict and its text).
 *
 * Lua sees:
 *   v.compare{target={pool=, table= | query=, where=, ordered=},
 *             expected={generator=, first=0, count=} | {pool=, table= | query=, where=, ordered=},
 *             key='id' | {'a','b'}, columns={name={ulp=, fsp=, time_zone=, as=, tolerance=, ignore=}},
 *             ignore={names}, max_samples=20, max_value_len=256, time_zone='+00:00',
 *             samples_per_key=2 (0: no limit), allow_extra_columns=false,
 *             log=true|false|'samples', explain=true, label=, progress=isatty(stderr)}
 *       -> verdict | nil, msg, info
 *     progress (default: true when stderr is a terminal): progress lines on stderr while the rows are merged, counted
 *     once per 65536 expected rows, never per row: at a terminal one line rewritten at most once
 *     a second ("validate: 655,360 / 2,000,000 rows  32%  410k rows/s  ETA 0:03"; the total is
 *     known with a generator), otherwise a plain line every 10 s; always a final line
 *     "validate: N rows in M:SS (R rows/s)" with N the expected rows read. false: nothing.
 *     Each column is compared by the EXPECTED side's type (the generator's column, or the expected
 *     table's or query's column), never the target's: DOUBLE data in a FLOAT column, DECIMAL(38,18)
 *     data in a DECIMAL(10,2), a VARCHAR(8) for 64 characters, DATETIME(0) for DATETIME(6), latin1
 *     for utf8mb4 text, TINYINT for INT all show as mismatches (a JSON target of string data
 *     compares as JSON). A column option loosens that one column, only where asked:
 *       as='float'|'double'|'decimal'|'integer'|'temporal'|'json'|'string'|'bytes'  compare so
 *           (as='float': DOUBLE data kept at float precision passes)
 *       ulp=N        DOUBLE/FLOAT: tolerate N units in the last place
 *       fsp=N        temporal: compare cut to N fraction digits (fsp=0: DATETIME(0) passes)
 *       tolerance=x  numbers: tolerate |expected - target| <= x (x >= 0; e.g. 0.005 for a
 *           DECIMAL(10,2) that rounds the data)
 *       time_zone=   temporal: render generated TIMESTAMPs in this zone
 *     A mismatch's detail says what a narrower column did when it can tell: "at float precision",
 *     "rounded to 2 decimal places", "the largest value its column can hold", "the first 8 of 17
 *     characters (cut)", "3 characters became '?'", "cut to 0 fraction digits", "the maximum of
 *     TINYINT", "a shift of +05:30 (a time zone offset?)"; a temporal one says the precision
 *     compared (the expected side's fsp, or fsp=).
 *     log=true: one validate.verdict line (info when ok, else warn, with the first line of the
 *     diagnosis), and each sampled mismatch/missing/extra key at debug level (--log-level debug);
 *     log='samples' logs those at warn; log=false nothing. At most samples_per_key mismatch
 *     samples per key (2; 0 keeps every one, up to max_samples).
 *     explain=true (the default) builds the diagnosis, in bounded memory, from the mismatches,
 *     missing and extra rows only (nothing for equal rows):
 *       patterns = {{column=, kind=, count=, of=, text=, examples={'key 7: '1.2345' -> '1.23''}}}
 *         per column, the narrowings its mismatches fit, each named only where it holds (for
 *         at least 2 mismatches, or all of the column's): kind rounding (N decimal places),
 *         truncation (N characters or bytes), clipping (a type's range: TINYINT, INT UNSIGNED,
 *         DECIMAL(p,s), FLOAT), unsigned (negatives as 0), charset (characters turned into '?':
 *         4-byte ones by utf8mb3, non-Latin-1 ones by latin1), time_shift (a constant +05:30),
 *         dst_shift (-05:00 in winter, -04:00 in summer: a America/New_York vs UTC confusion?),
 *         fsp (fractional seconds cut to N digits), date_only, null_default (NULL as 0, '', the
 *         epoch), float_precision, json_text (the same JSON document in other text). A column
 *         whose mismatches fit none has no pattern.
 *       explain = {{column=, kind=, count=, of=, text=}}: kind missing / extra (a predicate on
 *         one column that the missing (extra) rows, and no other row of their side, satisfy:
 *         NULL, a set of values, >= / <= a bound, a range, a key modulus; checked by one more
 *         pass over that side, only when at least 3 rows are missing (extra) and not in checksum
 *         mode), collapse (the target holds one row per distinct value of a column the missing
 *         rows share: a sink keyed on it?), split (several differing rows per key: an updating
 *         result written without a key?), copies (identical copies per key).
 *       missing_rows / extra_rows = the first 3 such rows, every column ("key 5: id='5', ...").
 *   v.checksum{a={pool=, table=, where=}, b={pool=, table=, where=} | {generator=, first=0, count=},
 *              key='id', chunk_rows=10000, leaf_rows=500, threads=4, parallel=true, retries=2,
 *              budget_s=0, max_rows_per_s=0, progress_s=10, columns=, ignore=, max_samples=,
 *              max_value_len=, time_zone=, log=, hash_at='auto'}  -> verdict (mode 'checksum') | nil, msg, info
 *     Segments of about chunk_rows keys get a (count, sum) per side: hash_at='server' has the server
 *     compute COUNT(*) and the SUM modulo 2^64 of each row's CRC32(h) << 32 | CRC32C(h), h the SHA-1
 *     hex digest of its normalised text (only sums cross the network); 'client' reads the range's
 *     rows over the binary protocol and hashes them here from the same text (a third of the server
 *     CPU); a generator is hashed here, no staging table. When no server hashes (both sides read
 *     here, or one side a generator) the digest is SipHash-1-3 of a packed text under a key drawn
 *     per run; 'udf' has the server compute that same digest natively with the fmhost_rowsum
 *     aggregate (udf/, fmhost/rowsum.h). 'auto' (default): 'udf' when the server answers
 *     fmhost_rowsum, else 'client' for a pool whose host is this machine, 'server' otherwise;
 *     hash_at={a=, b=} sets each side. `threads` segments in flight,
 *     each worker on connections of its own (a and b may be pools on different servers; columns are
 *     matched by name). The worker that finds a segment differing halves it down to leaf_rows rows
 *     (each level hashes one half and derives the other, counts and sums being additive), and
 *     those rows are then compared field by field as compare does. A failing segment is retried
 *     `retries` times on a fresh connection; segments still
 *     failing, or not started when budget_s ran out, make the verdict partial: ok=false,
 *     checksum.partial=true, checksum.partial_detail ("N of M segments verified (1-812); not
 *     checked: segments 813-2000 (keys ...): the time budget ran out"). max_rows_per_s paces the
 *     segments; progress_s logs validate.checksum.progress (segments done, rows/s, ETA). A key
 *     typed differently on the two sides (integer vs string) is an error; a generator's key must
 *     increase with the row. checksum = {chunks=, differing=, queries=, rows_streamed=, row_hash=,
 *     hash_at={a=, b=} ('udf', 'server', 'client', 'generator'), partial=, segments_verified=,
 *     segments_failed=, segments_skipped=, partial_detail=}.
 *   v.schema{pool=, table=, columns={{name=, type=, nullable=, key=, charset=, collation=}...} | generator=g,
 *            exact=false, primary_key={...}} -> {ok=, issues={{column=, what=, expected=, actual=}}, primary_key=}
 *     what: missing, extra, order, type, nullable, key, charset, collation, primary_key. charset=
 *     and collation= (information_schema's CHARACTER_SET_NAME, COLLATION_NAME) are checked when
 *     given; with generator=g every text column (CHAR, VARCHAR, TEXT, ENUM, SET) must be utf8mb4
 *     in the generator's collation (a latin1 column for utf8mb4 data is an issue). A collation is
 *     reported only when the character set matches.
 *   v.quality{pool=, table=, checks={{'row_count', min=, max=}, {'unique', columns=|column=},
 *             {'not_null', column=}, {'accepted', column=, values=}, {'relationship', column=,
 *             ref_table=, ref_column=}}, max_samples=5}
 *       -> {ok=, results={{name=, kind=, ok=, rows=, failing=, groups=, samples=, detail=}...}}
 *   v.format(verdict[, parts]) -> text       v.json_equal(a, b) -> bool, where
 *     parts: a list of the parts to print, in the text's order whatever the list's: 'head' (validate
 *     (stream): FAILED, the generator's seed), 'counts' (rows: expected, target; keys present (exact,
 *     differing), missing, extra, duplicated), 'time', 'columns' (columns missing / only in the target),
 *     'diagnosis' (the explanations, then per column its pattern with two examples), 'rows' (missing /
 *     extra rows shown whole), 'keys' (missing / extra / duplicated keys), 'samples' (mismatches);
 *     default all of them. fmhost.pipeline's diagnosis frames 'counts', 'columns', 'diagnosis', 'rows'.
 *   v.decimal_canon(text) -> canonical text | nil      v.ulp_distance(a, b) -> integer
 *   v.decimal_equal(a, b) -> equal, invalid   (numerically, as the comparator decides)
 * The verdict: {ok=, mode=, counts={expected=, target=, present= (keys in both; matched= is the
 *   same count), exact= (present and equal), differing= (present, some field differs), missing=,
 *   extra=, duplicated=, duplicate_rows=, copies_differing= (extra copies unlike the expected row),
 *   expected_duplicated=, mismatched_rows= (copies included), mismatched_fields=}, missing={keys},
 *   extra={keys}, duplicated={keys}, mismatches={{key=, column=, expected=, actual=, reason=,
 *   detail=}}, columns={{name=, compare=, mismatches=}}, missing_columns=, extra_columns=,
 *   patterns=, explain=, missing_rows=, extra_rows=, rows_per_s=, elapsed_s=, seed=,
 *   range={first, last}, truncated=, checksum={...}}. v.format prints the counts, then the
 *   diagnosis, then the samples (10 of them when there is a diagnosis).
 * A key is its value (integer or string) or, for a composite key, an array of them; SQL NULL is
 * pool.NULL. Values in mismatches are display texts (exact for numbers and strings).
 * The verdict table and format live in bindings/validate/verdict.c. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fmhost/gen_lua.h"
#include "fmhost/interp.h"
#include "fmhost/pool_lua.h"
#include "fmhost/validate.h"
#include "validate/validate_lua.h"


/* A pool and a generator come through their bindings' accessors
 * (fmhost/pool_lua.h, fmhost/gen_lua.h). */

static fmh_pool *to_pool(lua_State *L, int i, const char *what) {
  int closed = 0;
  fmh_pool *p = fmh_lua_topool(L, i, &closed);
  if (closed) luaL_error(L, "%s: the pool is closed", what);
  if (!p) luaL_error(L, "%s: 'pool' must be a pool from fmhost.pool.open", what);
  return p;
}

static const fmh_gen *to_gen(lua_State *L, int i, const char *what) {
  int closed = 0;
  const fmh_gen *g = fmh_lua_togen(L, i, &closed);
  if (closed) luaL_error(L, "%s: the generator is closed", what);
  if (!g) luaL_error(L, "%s: 'generator' must be a generator from fmhost.gen", what);
  return g;
}

/* A "usage" error is the caller's mistake and raises; the rest return
 * nil, msg, info. */
static int fail(lua_State *L, fmh_error *e) { return fmh_fail_or_raise(L, e, NULL, NULL); }

/* --- options ------------------------------------------------------------- */

/* A string field that must be a string when present (pointer held by t). */
static const char *opt_str(lua_State *L, int t, const char *k, const char *what) {
  lua_getfield(L, t, k);
  const char *s = NULL;
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "%s: '%s' must be a string", what, k);
    s = lua_tostring(L, -1);
  }
  lua_pop(L, 1);
  return s;
}

/* Read one side {pool=, table=, query=, where=, ordered=, generator=, first=, count=}. */
static void read_source(lua_State *L, int t, const char *what, fmh_vsource *s, int allow_gen) {
  memset(s, 0, sizeof *s);
  if (lua_type(L, t) != LUA_TTABLE) luaL_error(L, "%s must be a table", what);
  lua_getfield(L, t, "generator");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_getfield(L, t, "gen");
  }
  if (!lua_isnil(L, -1)) {
    if (!allow_gen) luaL_error(L, "%s: a generator cannot stand here", what);
    s->gen = to_gen(L, -1, what);
    s->first = fmh_opt_int(L, t, "first", 0);
    lua_getfield(L, t, "count");
    if (!lua_isinteger(L, -1)) luaL_error(L, "%s: 'count' (an integer) is required with a generator", what);
    s->count = lua_tointeger(L, -1);
    lua_pop(L, 1);
    if (s->first < 0 || s->count < 0) luaL_error(L, "%s: 'first' and 'count' must be >= 0", what);
  }
  lua_pop(L, 1);
  lua_getfield(L, t, "pool");
  if (!lua_isnil(L, -1)) s->pool = to_pool(L, -1, what);
  lua_pop(L, 1);
  s->table = opt_str(L, t, "table", what);
  s->query = opt_str(L, t, "query", what);
  s->where = opt_str(L, t, "where", what);
  s->ordered = fmh_opt_bool(L, t, "ordered", 0);
  if (!s->gen && !s->pool) luaL_error(L, "%s: 'pool' (with 'table' or 'query') or 'generator' is required", what);
}

/* key = 'id' | {'a', 'b'}: names anchored in the options table or the list. */
static int read_key(lua_State *L, int t, const char **names, int max, const char *what) {
  lua_getfield(L, t, "key");
  int n = 0;
  if (lua_type(L, -1) == LUA_TSTRING) {
    names[n++] = lua_tostring(L, -1);
  } else if (lua_type(L, -1) == LUA_TTABLE) {
    int len = (int)luaL_len(L, -1);
    if (len < 1 || len > max) luaL_error(L, "%s: 'key' must list 1 to %d columns", what, max);
    for (int i = 1; i <= len; i++) {
      lua_rawgeti(L, -1, i);
      if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "%s: key[%d] must be a column name", what, i);
      names[n++] = lua_tostring(L, -1);
      lua_pop(L, 1); /* still referenced by the key table */
    }
  } else {
    luaL_error(L, "%s: 'key' (a column name or a list of them) is required", what);
  }
  lua_pop(L, 1); /* the options table keeps it alive */
  return n;
}

/* columns = {name = {ulp=, fsp=, time_zone=, as=, ignore=}} plus ignore = {names}.
 * The array lives in a userdata left on the stack. */
static fmh_vcolopt *read_colopts(lua_State *L, int t, int *n, const char *what) {
  int count = 0;
  lua_getfield(L, t, "columns");
  int ci = lua_gettop(L);
  if (!lua_isnil(L, ci) && !lua_istable(L, ci)) luaL_error(L, "%s: 'columns' must be a table of column options", what);
  if (lua_istable(L, ci)) {
    lua_pushnil(L);
    while (lua_next(L, ci)) {
      count++;
      lua_pop(L, 1);
    }
  }
  lua_getfield(L, t, "ignore");
  int ii = lua_gettop(L);
  if (!lua_isnil(L, ii) && !lua_istable(L, ii)) luaL_error(L, "%s: 'ignore' must be a list of column names", what);
  if (lua_istable(L, ii)) count += (int)luaL_len(L, ii);
  fmh_vcolopt *o = lua_newuserdatauv(L, sizeof *o * (size_t)(count ? count : 1), 0);
  int k = 0;
  if (lua_istable(L, ci)) {
    lua_pushnil(L);
    while (lua_next(L, ci)) {
      if (lua_type(L, -2) != LUA_TSTRING || !lua_istable(L, -1))
        luaL_error(L, "%s: columns must map column names to option tables", what);
      int ot = lua_gettop(L);
      fmh_vcolopt *c = &o[k++];
      memset(c, 0, sizeof *c);
      c->name = lua_tostring(L, -2);
      c->ignore = fmh_opt_bool(L, ot, "ignore", 0);
      c->ulp = (int)fmh_opt_int(L, ot, "ulp", 0);
      c->fsp = (int)fmh_opt_int(L, ot, "fsp", -1);
      c->time_zone = opt_str(L, ot, "time_zone", what);
      c->as = opt_str(L, ot, "as", what);
      lua_getfield(L, ot, "tolerance");
      if (!lua_isnil(L, -1) && !lua_isnumber(L, -1)) luaL_error(L, "%s: columns.%s.tolerance must be a number", what, c->name);
      c->tolerance = lua_tonumber(L, -1);
      lua_pop(L, 2);
    }
  }
  if (lua_istable(L, ii)) {
    int len = (int)luaL_len(L, ii);
    for (int i = 1; i <= len; i++) {
      lua_rawgeti(L, ii, i);
      if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "%s: ignore[%d] must be a column name", what, i);
      fmh_vcolopt *c = &o[k++];
      memset(c, 0, sizeof *c);
      c->name = lua_tostring(L, -1);
      c->ignore = 1;
      c->fsp = -1;
      lua_pop(L, 1);
    }
  }
  /* keep the tables (and so the strings) and the array on the stack */
  *n = k;
  return o;
}

/* Push the verdict and free it; on rc != 0 free it and fail with e. */
static int verdict_or_fail(lua_State *L, int rc, fmh_verdict *v, fmh_error *e) {
  if (rc != 0) {
    fmh_verdict_free(v);
    return fail(L, e);
  }
  fmh_vlua_push_verdict(L, v);
  fmh_verdict_free(v);
  return 1;
}

/* The options compare and checksum share: columns=, ignore=, max_samples=,
 * max_value_len=, time_zone= (*tz kept when absent) and log=. */
static void read_report_opts(lua_State *L, const char *what, const fmh_vcolopt **cols, int *ncols,
                             int *max_samples, size_t *max_value_len, const char **tz, int *log) {
  *cols = read_colopts(L, 1, ncols, what);
  *max_samples = (int)fmh_opt_int(L, 1, "max_samples", 20);
  if (*max_samples == 0) *max_samples = -1;
  lua_Integer mvl = fmh_opt_int(L, 1, "max_value_len", 256);
  if (mvl < 1) luaL_error(L, "%s: max_value_len must be >= 1", what);
  *max_value_len = (size_t)mvl;
  const char *given = opt_str(L, 1, "time_zone", what);
  if (given) *tz = given;
  lua_getfield(L, 1, "log");
  if (lua_isnil(L, -1)) *log = 1;
  else if (lua_type(L, -1) == LUA_TBOOLEAN) *log = lua_toboolean(L, -1);
  else if (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "samples") == 0) *log = 2;
  else luaL_error(L, "%s: 'log' must be true, false or 'samples'", what);
  lua_pop(L, 1);
}

/* --- compare ------------------------------------------------------------- */

static int l_compare(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checkstack(L, 32, "validate.compare");
  const char *what = "validate.compare";
  fmh_vcompare_opts o;
  fmh_vcompare_opts_default(&o);
  lua_getfield(L, 1, "target");
  read_source(L, lua_gettop(L), "validate.compare: target", &o.target, 0);
  lua_getfield(L, 1, "expected");
  read_source(L, lua_gettop(L), "validate.compare: expected", &o.expected, 1);
  const char *keys[16];
  o.nkey = read_key(L, 1, keys, 16, what);
  o.key = keys;
  read_report_opts(L, what, &o.cols, &o.ncols, &o.max_samples, &o.max_value_len, &o.time_zone, &o.log);
  o.samples_per_key = (int)fmh_opt_int(L, 1, "samples_per_key", 2);
  if (o.samples_per_key == 0) o.samples_per_key = -1;
  o.allow_extra_columns = fmh_opt_bool(L, 1, "allow_extra_columns", 0);
  o.explain = fmh_opt_bool(L, 1, "explain", 1);
  o.label = opt_str(L, 1, "label", what);
  o.progress = fmh_opt_bool(L, 1, "progress", isatty(STDERR_FILENO));
  fmh_verdict v;
  fmh_error e = {0};
  return verdict_or_fail(L, fmh_validate_compare(&o, &v, &e), &v, &e);
}

/* --- checksum ---------------------------------------------------------- */

static int l_checksum(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checkstack(L, 32, "validate.checksum");
  const char *what = "validate.checksum";
  fmh_vchecksum_opts o;
  fmh_vchecksum_opts_default(&o);
  lua_getfield(L, 1, "a");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_getfield(L, 1, "target");
  }
  read_source(L, lua_gettop(L), "validate.checksum: a", &o.a, 0);
  lua_getfield(L, 1, "b");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    lua_getfield(L, 1, "expected");
  }
  read_source(L, lua_gettop(L), "validate.checksum: b", &o.b, 1);
  if (!o.a.table || (!o.b.table && !o.b.gen))
    luaL_error(L, "%s: a must be {pool=, table=}, b {pool=, table=} or {generator=, first=, count=}", what);
  const char *keys[1];
  if (read_key(L, 1, keys, 1, what) != 1) luaL_error(L, "%s: 'key' must be one column", what);
  o.key = keys[0];
  lua_Integer cr = fmh_opt_int(L, 1, "chunk_rows", 10000), lr = fmh_opt_int(L, 1, "leaf_rows", 500);
  if (cr < 1 || lr < 1) luaL_error(L, "%s: chunk_rows and leaf_rows must be >= 1", what);
  o.chunk_rows = (uint64_t)cr;
  o.leaf_rows = (uint64_t)lr;
  o.parallel = fmh_opt_bool(L, 1, "parallel", 1);
  o.threads = (int)fmh_opt_int(L, 1, "threads", 4);
  o.retries = (int)fmh_opt_int(L, 1, "retries", 2);
  if (o.threads < 1 || o.threads > 64 || o.retries < 0) luaL_error(L, "%s: threads must be 1..64, retries >= 0", what);
  lua_getfield(L, 1, "budget_s");
  o.budget_s = luaL_optnumber(L, -1, 0);
  lua_getfield(L, 1, "max_rows_per_s");
  o.max_rows_per_s = luaL_optnumber(L, -1, 0);
  lua_getfield(L, 1, "progress_s");
  o.progress_s = luaL_optnumber(L, -1, 10);
  lua_pop(L, 3);
  if (o.budget_s < 0 || o.max_rows_per_s < 0 || o.progress_s < 0)
    luaL_error(L, "%s: budget_s, max_rows_per_s and progress_s must be >= 0", what);
  read_report_opts(L, what, &o.cols, &o.ncols, &o.max_samples, &o.max_value_len, &o.time_zone, &o.log);
  /* hash_at = 'auto' | 'udf' | 'server' | 'client', or {a=, b=}; the strings stay
   * on the stack until the call returns */
  lua_getfield(L, 1, "hash_at");
  if (lua_istable(L, -1)) {
    int t = lua_gettop(L);
    lua_getfield(L, t, "a");
    o.hash_at_a = luaL_optstring(L, -1, "auto");
    lua_getfield(L, t, "b");
    o.hash_at_b = luaL_optstring(L, -1, "auto");
  } else if (lua_isnil(L, -1) || lua_isstring(L, -1)) {
    o.hash_at_a = o.hash_at_b = luaL_optstring(L, -1, "auto");
  } else {
    luaL_error(L, "%s: hash_at must be 'auto', 'server', 'client' or {a=, b=}", what);
  }
  fmh_verdict v;
  fmh_error e = {0};
  return verdict_or_fail(L, fmh_validate_checksum(&o, &v, &e), &v, &e);
}

/* --- schema and quality ------------------------------------------------- */

static int l_schema(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  const char *what = "validate.schema";
  fmh_vschema_opts o;
  memset(&o, 0, sizeof o);
  lua_getfield(L, 1, "pool");
  o.pool = to_pool(L, -1, what);
  o.table = opt_str(L, 1, "table", what);
  if (!o.table) luaL_error(L, "%s: 'table' is required", what);
  lua_getfield(L, 1, "generator");
  const fmh_gen *g = lua_isnil(L, -1) ? NULL : to_gen(L, -1, what);
  o.exact = fmh_opt_bool(L, 1, "exact", g != NULL);
  const char **pk = NULL;
  int npk = 0;
  if (g) {
    size_t n = fmh_gen_ncols(g);
    fmh_vcol_expect *c = lua_newuserdatauv(L, sizeof *c * (n ? n : 1), 0);
    pk = lua_newuserdatauv(L, sizeof *pk * (n ? n : 1), 0);
    luaL_checkstack(L, (int)(2 * n + 8), what);
    for (size_t i = 0; i < n; i++) {
      fmh_gen_colinfo ci;
      fmh_gen_column_info(g, i, &ci);
      lua_pushstring(L, ci.name); /* anchored on the stack */
      c[i].name = lua_tostring(L, -1);
      lua_pushstring(L, ci.sql_type);
      c[i].type = lua_tostring(L, -1);
      c[i].nullable = ci.nullable && !ci.primary_key;
      c[i].key = ci.primary_key ? "PRI" : ci.unique ? "UNI" : NULL;
      /* generated text is utf8mb4 in the generator's collation (a JSON
       * column is utf8mb4 in MariaDB's own utf8mb4_bin) */
      c[i].charset = c[i].collation = NULL;
      switch (ci.type) {
        case FMH_GEN_CHAR: case FMH_GEN_VARCHAR: case FMH_GEN_TINYTEXT: case FMH_GEN_TEXT: case FMH_GEN_MEDIUMTEXT:
        case FMH_GEN_LONGTEXT: case FMH_GEN_ENUM: case FMH_GEN_SET:
          c[i].charset = "utf8mb4";
          c[i].collation = fmh_gen_collation(g);
          break;
        case FMH_GEN_JSON: c[i].charset = "utf8mb4"; break;
        default: break;
      }
      if (ci.primary_key) pk[npk++] = c[i].name;
    }
    o.cols = c;
    o.ncols = (int)n;
    o.primary_key = pk;
    o.nprimary_key = npk;
  } else {
    lua_getfield(L, 1, "columns");
    if (!lua_istable(L, -1)) luaL_error(L, "%s: 'columns' (a list of {name=, type=, nullable=, key=}) or 'generator' is required", what);
    int lt = lua_gettop(L);
    int n = (int)luaL_len(L, lt);
    fmh_vcol_expect *c = lua_newuserdatauv(L, sizeof *c * (size_t)(n ? n : 1), 0);
    luaL_checkstack(L, n + 8, what);
    for (int i = 0; i < n; i++) {
      lua_rawgeti(L, lt, i + 1);
      int ct = lua_gettop(L);
      if (!lua_istable(L, ct)) luaL_error(L, "%s: columns[%d] must be a table", what, i + 1);
      c[i].name = opt_str(L, ct, "name", what);
      if (!c[i].name) luaL_error(L, "%s: columns[%d] needs a name", what, i + 1);
      c[i].type = opt_str(L, ct, "type", what);
      lua_getfield(L, ct, "nullable");
      c[i].nullable = lua_isnil(L, -1) ? -1 : lua_toboolean(L, -1);
      lua_pop(L, 1);
      c[i].key = opt_str(L, ct, "key", what);
      c[i].charset = opt_str(L, ct, "charset", what);
      c[i].collation = opt_str(L, ct, "collation", what);
      /* the row table stays on the stack, anchoring its strings */
    }
    o.cols = c;
    o.ncols = n;
  }
  lua_getfield(L, 1, "primary_key");
  if (lua_istable(L, -1)) {
    int lt = lua_gettop(L);
    int n = (int)luaL_len(L, lt);
    pk = lua_newuserdatauv(L, sizeof *pk * (size_t)(n ? n : 1), 0);
    luaL_checkstack(L, n + 8, what);
    for (int i = 0; i < n; i++) {
      lua_rawgeti(L, lt, i + 1);
      if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "%s: primary_key[%d] must be a column name", what, i + 1);
      pk[i] = lua_tostring(L, -1);
    }
    o.primary_key = pk;
    o.nprimary_key = n;
  } else if (lua_type(L, -1) == LUA_TSTRING) {
    pk = lua_newuserdatauv(L, sizeof *pk, 0);
    pk[0] = lua_tostring(L, -2);
    o.primary_key = pk;
    o.nprimary_key = 1;
  }
  fmh_vschema_result r;
  fmh_error e = {0};
  if (fmh_validate_schema(&o, &r, &e) != 0) {
    fmh_vschema_result_free(&r);
    return fail(L, &e);
  }
  lua_createtable(L, 0, 3);
  fmh_set_bool(L, "ok", r.ok);
  lua_createtable(L, (int)r.nissues, 0);
  for (size_t i = 0; i < r.nissues; i++) {
    lua_createtable(L, 0, 4);
    fmh_set_str(L, "column", r.issues[i].column);
    fmh_set_str(L, "what", r.issues[i].what);
    if (r.issues[i].expected) {
      fmh_set_str(L, "expected", r.issues[i].expected);
    }
    if (r.issues[i].actual) {
      fmh_set_str(L, "actual", r.issues[i].actual);
    }
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "issues");
  fmh_vlua_push_names(L, "primary_key", r.primary_key, r.nprimary_key);
  fmh_vschema_result_free(&r);
  return 1;
}

static const char *const QUALITY_KINDS[] = {"row_count", "unique", "not_null", "accepted", "relationship", NULL};

static int l_quality(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  const char *what = "validate.quality";
  fmh_vquality_opts o;
  memset(&o, 0, sizeof o);
  lua_getfield(L, 1, "pool");
  o.pool = to_pool(L, -1, what);
  o.table = opt_str(L, 1, "table", what);
  if (!o.table) luaL_error(L, "%s: 'table' is required", what);
  o.max_samples = (int)fmh_opt_int(L, 1, "max_samples", 5);
  lua_getfield(L, 1, "checks");
  if (!lua_istable(L, -1)) luaL_error(L, "%s: 'checks' (a list) is required", what);
  int lt = lua_gettop(L);
  lua_Integer len = luaL_len(L, lt);
  if (len < 0 || len > 10000) luaL_error(L, "%s: 'checks' must list 0 to 10000 checks", what);
  int n = (int)len;
  size_t cap = n > 0 ? (size_t)n : 1;
  fmh_vquality_check *k = lua_newuserdatauv(L, sizeof *k * cap, 0);
  memset(k, 0, sizeof *k * cap);
  for (int i = 0; i < n; i++) {
    luaL_checkstack(L, 8, what);
    lua_rawgeti(L, lt, i + 1);
    int ct = lua_gettop(L);
    if (!lua_istable(L, ct)) luaL_error(L, "%s: checks[%d] must be a table", what, i + 1);
    lua_rawgeti(L, ct, 1);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      lua_getfield(L, ct, "check");
    }
    const char *kind = lua_tostring(L, -1);
    int kk = -1;
    for (int j = 0; kind && QUALITY_KINDS[j]; j++)
      if (strcmp(kind, QUALITY_KINDS[j]) == 0) kk = j;
    if (kk < 0)
      luaL_error(L, "%s: checks[%d]: unknown check '%s' (row_count, unique, not_null, accepted, relationship)", what,
                 i + 1, kind ? kind : "?");
    lua_pop(L, 1);
    k[i].kind = (fmh_vq_kind)kk;
    k[i].name = opt_str(L, ct, "name", what);
    k[i].where = opt_str(L, ct, "where", what);
    k[i].min = fmh_opt_int(L, ct, "min", 0);
    k[i].max = fmh_opt_int(L, ct, "max", -1);
    k[i].ref_table = opt_str(L, ct, "ref_table", what);
    k[i].ref_column = opt_str(L, ct, "ref_column", what);
    lua_getfield(L, ct, "ref_pool");
    if (!lua_isnil(L, -1)) k[i].ref_pool = to_pool(L, -1, what);
    lua_pop(L, 1);
    /* columns: 'column' or 'columns' */
    lua_getfield(L, ct, "columns");
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      lua_getfield(L, ct, "column");
    }
    if (lua_type(L, -1) == LUA_TSTRING) {
      const char **cols = lua_newuserdatauv(L, sizeof *cols, 0);
      cols[0] = lua_tostring(L, -2);
      k[i].columns = cols;
      k[i].ncolumns = 1;
    } else if (lua_istable(L, -1)) {
      int cl = lua_gettop(L);
      int m = (int)luaL_len(L, cl);
      const char **cols = lua_newuserdatauv(L, sizeof *cols * (size_t)(m ? m : 1), 0);
      for (int j = 0; j < m; j++) {
        lua_rawgeti(L, cl, j + 1);
        if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "%s: checks[%d].columns[%d] must be a name", what, i + 1, j + 1);
        cols[j] = lua_tostring(L, -1);
        lua_pop(L, 1); /* anchored by the list */
      }
      k[i].columns = cols;
      k[i].ncolumns = m;
    } else if (kk != FMH_VQ_ROW_COUNT) {
      luaL_error(L, "%s: checks[%d] (%s) needs 'column' or 'columns'", what, i + 1, QUALITY_KINDS[kk]);
    }
    if (kk == FMH_VQ_ACCEPTED) {
      lua_getfield(L, ct, "values");
      if (!lua_istable(L, -1)) luaL_error(L, "%s: checks[%d] (accepted) needs 'values'", what, i + 1);
      int vl = lua_gettop(L);
      int m = (int)luaL_len(L, vl);
      const char **vals = lua_newuserdatauv(L, sizeof *vals * (size_t)(m ? m : 1), 0);
      size_t *lens = lua_newuserdatauv(L, sizeof *lens * (size_t)(m ? m : 1), 0);
      luaL_checkstack(L, m + 4, what);
      for (int j = 0; j < m; j++) {
        lua_rawgeti(L, vl, j + 1);
        vals[j] = luaL_tolstring(L, -1, &lens[j]); /* both stay on the stack */
      }
      k[i].values = vals;
      k[i].value_lens = lens;
      k[i].nvalues = m;
    }
  }
  o.checks = k;
  o.nchecks = n;
  fmh_vquality_result *r = lua_newuserdatauv(L, sizeof *r * cap, 0);
  memset(r, 0, sizeof *r * cap);
  fmh_error e = {0};
  int rc = fmh_validate_quality(&o, r, &e);
  if (rc != 0) {
    for (int i = 0; i < n; i++) fmh_vquality_result_free(&r[i]);
    return fail(L, &e);
  }
  int all = 1;
  lua_createtable(L, 0, 2);
  lua_createtable(L, n, 0);
  for (int i = 0; i < n; i++) {
    lua_createtable(L, 0, 8);
    fmh_set_str(L, "name", r[i].name ? r[i].name : "");
    fmh_set_str(L, "kind", r[i].kind);
    fmh_set_bool(L, "ok", r[i].ok);
    fmh_set_int(L, "rows", (lua_Integer)r[i].rows);
    fmh_set_int(L, "failing", (lua_Integer)r[i].failing);
    if (k[i].kind == FMH_VQ_UNIQUE) fmh_set_int(L, "groups", (lua_Integer)r[i].groups);
    fmh_vlua_push_keys(L, "samples", r[i].samples, r[i].nsamples);
    fmh_set_str(L, "detail", r[i].detail ? r[i].detail : "");
    lua_rawseti(L, -2, i + 1);
    all &= r[i].ok;
    fmh_vquality_result_free(&r[i]);
  }
  lua_setfield(L, -2, "results");
  fmh_set_bool(L, "ok", all);
  return 1;
}

/* --- helpers ------------------------------------------------------------ */

static int l_json_equal(lua_State *L) {
  size_t an, bn;
  const char *a = luaL_checklstring(L, 1, &an), *b = luaL_checklstring(L, 2, &bn);
  char where[300];
  int r = fmh_vjson_compare(a, an, b, bn, where, sizeof where);
  lua_pushboolean(L, r == 0);
  if (r == 0) return 1;
  lua_pushstring(L, where);
  return 2;
}

static int l_decimal_canon(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  luaL_Buffer b;
  char *out = luaL_buffinitsize(L, &b, n + 32);
  size_t w = fmh_vdec_canon(s, n, out, n + 32);
  if (w == 0) {
    lua_pushnil(L);
    return 1;
  }
  luaL_pushresultsize(&b, w);
  return 1;
}

static int l_decimal_equal(lua_State *L) {
  size_t na, nb;
  const char *a = luaL_checklstring(L, 1, &na), *b = luaL_checklstring(L, 2, &nb);
  int invalid;
  lua_pushboolean(L, fmh_vdec_equal_text(a, na, b, nb, &invalid));
  lua_pushboolean(L, invalid);
  return 2;
}

static int l_ulp_distance(lua_State *L) {
  uint64_t d = fmh_vulp_distance(luaL_checknumber(L, 1), luaL_checknumber(L, 2));
  lua_pushinteger(L, d > (uint64_t)INT64_MAX ? INT64_MAX : (lua_Integer)d);
  return 1;
}

static const luaL_Reg funcs[] = {
    {"compare", l_compare},
    {"checksum", l_checksum},
    {"schema", l_schema},
    {"quality", l_quality},
    {"format", fmh_vlua_format},
    {"json_equal", l_json_equal},
    {"decimal_canon", l_decimal_canon},
    {"decimal_equal", l_decimal_equal},
    {"ulp_distance", l_ulp_distance},
    {NULL, NULL},
};

int luaopen_fmhost_validate(lua_State *L) {
  fmh_push_pool_null(L);
  fmh_vlua_set_null(L);
  fmh_newmodule(L, "fmhost.validate", funcs);
  fmh_vlua_push_null(L);
  lua_setfield(L, -2, "NULL");
  return 1;
}
