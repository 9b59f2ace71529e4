/* fmhost's configuration helpers shared by config.c (the value layers) and
 * config_schema.c (the schema file): the arena, one-line errors, spelling
 * suggestions, reading YAML files and looking keys up in the schema. */
#include "fmhost/config.h"
#include "fmhost/buf.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <yaml.h>

#include "config_int.h"

#define MAX_FILE_BYTES (16u << 20)

const char *const fmh_config_reserved_env[] = {
    "FMHOST_ENV",     "FMHOST_SEED", "FMHOST_PATH", "FMHOST_SCRIPTS", "FMHOST_ROOT",
    "FMHOST_LOG_LEVEL", "FMHOST_BIN", NULL};

void *fmh_cfg_arena_alloc(arena *a, size_t n) {
  n = (n + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
  if (!a->head || a->head->cap - a->head->used < n) {
    size_t cap = n > 8192 ? n : 8192;
    arena_blk *b = malloc(sizeof *b + cap);
    if (!b) return NULL;
    b->next = a->head;
    b->used = 0;
    b->cap = cap;
    a->head = b;
  }
  void *p = (char *)a->head->data + a->head->used;
  a->head->used += n;
  return p;
}

char *fmh_cfg_arena_strndup(arena *a, const char *s, size_t n) {
  char *p = fmh_cfg_arena_alloc(a, n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *fmh_cfg_arena_strdup(arena *a, const char *s) { return fmh_cfg_arena_strndup(a, s, strlen(s)); }

char *fmh_cfg_arena_printf(arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *fmh_cfg_arena_printf(arena *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0) return NULL;
  char *p = fmh_cfg_arena_alloc(a, (size_t)n + 1);
  if (!p) return NULL;
  va_start(ap, fmt);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  va_end(ap);
  return p;
}

void fmh_cfg_arena_free(arena *a) {
  arena_blk *b = a->head;
  while (b) {
    arena_blk *next = b->next;
    free(b);
    b = next;
  }
  a->head = NULL;
}

/* --- errors ----------------------------------------------------------- */

/* snprintf into a fixed buffer where cutting a long message short is fine */
static void bfmt(char *dst, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void bfmt(char *dst, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(dst, cap, fmt, ap);
  va_end(ap);
}

static void copy(char *dst, size_t cap, const char *src) {
  if (!src) src = "";
  snprintf(dst, cap, "%s", src);
}

/* Fill err with one line: "<file>[:<line>[:<col>]]: [<key>: ]<problem>". */
int fmh_cfg_fail(fmh_config_error *err, const char *file, int line, int col, const char *key,
                 const char *expected, const char *got, const char *suggestion, int code,
                 const char *fmt, ...) {
  if (!err) return -1;
  char problem[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(problem, sizeof problem, fmt, ap);
  va_end(ap);
  memset(err, 0, sizeof *err);
  err->e.kind = "config";
  err->e.code = code;
  copy(err->file, sizeof err->file, file);
  err->line = line;
  err->column = col;
  copy(err->key, sizeof err->key, key);
  copy(err->expected, sizeof err->expected, expected);
  copy(err->got, sizeof err->got, got);
  copy(err->suggestion, sizeof err->suggestion, suggestion);
  char where[600];
  if (line > 0 && col > 0) snprintf(where, sizeof where, "%s:%d:%d", file, line, col);
  else if (line > 0) snprintf(where, sizeof where, "%s:%d", file, line);
  else snprintf(where, sizeof where, "%s", file);
  if (key && *key) bfmt(err->e.msg, sizeof err->e.msg, "%s: %s: %s", where, key, problem);
  else bfmt(err->e.msg, sizeof err->e.msg, "%s: %s", where, problem);
  return -1;
}

int fmh_cfg_oom(fmh_config_error *err, const char *file) {
  return fmh_cfg_fail(err, file, 0, 0, NULL, NULL, NULL, NULL, ENOMEM, "%s", strerror(ENOMEM));
}

/* A value as it may appear in a message: quoted, control bytes escaped,
 * cut at 60 bytes; secrets as '***'. */
void fmh_cfg_quote_got(char *out, size_t cap, const char *s, size_t len, int secret) {
  if (secret) { snprintf(out, cap, "'***'"); return; }
  size_t o = 0;
  if (cap < 8) { if (cap) out[0] = '\0'; return; }
  out[o++] = '\'';
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (i >= 60) {
      if (o + 4 < cap) { memcpy(out + o, "...", 3); o += 3; }
      break;
    }
    if (o + 6 >= cap) break;
    if (ch == '\n') { out[o++] = '\\'; out[o++] = 'n'; }
    else if (ch == '\t') { out[o++] = '\\'; out[o++] = 't'; }
    else if (ch < 0x20 || ch == 0x7f) o += (size_t)snprintf(out + o, cap - o, "\\x%02x", ch);
    else out[o++] = (char)ch;
  }
  out[o++] = '\'';
  out[o] = '\0';
}

/* --- names and suggestions -------------------------------------------- */

size_t fmh_config_distance(const char *a, const char *b) {
  size_t n = strlen(a), m = strlen(b);
  if (n > 200 || m > 200) return (n > m ? n - m : m - n) + 200;
  /* three rows suffice for the transposition rule */
  size_t rows[3][201];
  size_t *pp = rows[0], *p = rows[1], *c = rows[2];
  for (size_t j = 0; j <= m; j++) p[j] = j;
  for (size_t i = 1; i <= n; i++) {
    c[0] = i;
    for (size_t j = 1; j <= m; j++) {
      int ai = tolower((unsigned char)a[i - 1]), bj = tolower((unsigned char)b[j - 1]);
      size_t cost = ai == bj ? 0 : 1;
      size_t v = p[j] + 1;
      if (c[j - 1] + 1 < v) v = c[j - 1] + 1;
      if (p[j - 1] + cost < v) v = p[j - 1] + cost;
      if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2]) &&
          tolower((unsigned char)a[i - 2]) == bj && pp[j - 2] + 1 < v)
        v = pp[j - 2] + 1;
      c[j] = v;
    }
    size_t *t = pp;
    pp = p;
    p = c;
    c = t;
  }
  return p[m];
}

/* Is cand close enough to name to be offered? Returns a score (lower is
 * better) or SIZE_MAX. */
static size_t closeness(const char *name, const char *cand) {
  size_t d = fmh_config_distance(name, cand);
  size_t ln = strlen(name), lc = strlen(cand);
  if (d <= 2 && d < lc) return d;
  if (d * 3 <= lc) return d;
  /* a prefix of three letters or more: "warning" for "warn", "pass" for "password" */
  size_t shorter = ln < lc ? ln : lc;
  if (shorter >= 3 && strncasecmp(name, cand, shorter) == 0) return 100 + (ln > lc ? ln - lc : lc - ln);
  return SIZE_MAX;
}

/* The candidate closest to name (the first of equals), or NULL when none
 * is close enough; cands ends at n or at a NULL entry. */
const char *fmh_cfg_closest(const char *name, const char *const *cands, size_t n) {
  const char *best = NULL;
  size_t bd = SIZE_MAX;
  for (size_t i = 0; i < n && cands[i]; i++) {
    size_t d = closeness(name, cands[i]);
    if (d < bd) { bd = d; best = cands[i]; }
  }
  return best;
}

/* --- YAML and schema keys (shared with config_schema.c) --------------- */

int fmh_cfg_is_null_scalar(const yaml_node_t *n) {
  if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
  const char *v = (const char *)n->data.scalar.value;
  return n->data.scalar.length == 0 || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
         strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

const char *fmh_cfg_node_kind(const yaml_node_t *n) {
  if (n->type == YAML_MAPPING_NODE) return "a mapping";
  if (n->type == YAML_SEQUENCE_NODE) return "a sequence";
  if (fmh_cfg_is_null_scalar(n)) return "null";
  return "a scalar";
}

int fmh_cfg_line_of(const yaml_node_t *n) { return (int)n->start_mark.line + 1; }

/* Read a whole file; errors name the file and strerror. */
int fmh_cfg_read_all(const char *path, const char *display, const char *what, char **buf,
                     size_t *len, fmh_config_error *err) {
  *buf = NULL;
  *len = 0;
  FILE *f = fopen(path, "rb");
  if (!f) {
    int e = errno;
    return fmh_cfg_fail(err, display, 0, 0, NULL, what, NULL, NULL, e, "cannot read %s: %s", what,
                        strerror(e));
  }
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
    fclose(f);
    return fmh_cfg_fail(err, display, 0, 0, NULL, what, NULL, NULL, EISDIR, "cannot read %s: %s", what,
                        strerror(EISDIR));
  }
  size_t cap = 4096, n = 0;
  char *b = malloc(cap);
  if (!b) { fclose(f); return fmh_cfg_oom(err, display); }
  for (;;) {
    if (n == cap) {
      if (cap >= MAX_FILE_BYTES) {
        free(b);
        fclose(f);
        return fmh_cfg_fail(err, display, 0, 0, NULL, what, NULL, NULL, EFBIG,
                            "cannot read %s: larger than %u bytes", what, MAX_FILE_BYTES);
      }
      char *nb = realloc(b, cap * 2);
      if (!nb) { free(b); fclose(f); return fmh_cfg_oom(err, display); }
      b = nb;
      cap *= 2;
    }
    size_t r = fread(b + n, 1, cap - n, f);
    n += r;
    if (r == 0) {
      if (ferror(f)) {
        int e = errno ? errno : EIO;
        free(b);
        fclose(f);
        return fmh_cfg_fail(err, display, 0, 0, NULL, what, NULL, NULL, e, "cannot read %s: %s", what,
                            strerror(e));
      }
      break;
    }
  }
  fclose(f);
  *buf = b;
  *len = n;
  return 0;
}

/* Parse one YAML document; a second document in the same file is an error. */
int fmh_cfg_parse_yaml(const char *display, const char *buf, size_t len, yaml_document_t *doc,
                       fmh_config_error *err) {
  yaml_parser_t p;
  if (!yaml_parser_initialize(&p)) return fmh_cfg_oom(err, display);
  yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
  int rc = 0;
  if (!yaml_parser_load(&p, doc)) {
    int line = (int)p.problem_mark.line + 1, col = (int)p.problem_mark.column + 1;
    if (p.error == YAML_READER_ERROR) {
      /* the reader reports a byte offset, not a mark */
      line = 1;
      for (size_t i = 0; i < p.problem_offset && i < len; i++)
        if (buf[i] == '\n') line++;
      col = 0;
    }
    const char *problem = p.problem ? p.problem : "cannot parse";
    if (p.context)
      fmh_cfg_fail(err, display, line, col, NULL, "well-formed YAML", NULL, NULL, 0,
                   "malformed YAML: %s (%s at line %d, column %d)", problem, p.context,
                   (int)p.context_mark.line + 1, (int)p.context_mark.column + 1);
    else
      fmh_cfg_fail(err, display, line, col, NULL, "well-formed YAML", NULL, NULL, 0,
                   "malformed YAML: %s", problem);
    yaml_parser_delete(&p);
    return -1;
  }
  yaml_document_t extra;
  if (!yaml_parser_load(&p, &extra)) {
    yaml_document_delete(doc);
    int line = (int)p.problem_mark.line + 1, col = (int)p.problem_mark.column + 1;
    fmh_cfg_fail(err, display, line, col, NULL, "well-formed YAML", NULL, NULL, 0, "malformed YAML: %s",
                 p.problem ? p.problem : "cannot parse");
    rc = -1;
  } else {
    yaml_node_t *root = yaml_document_get_root_node(&extra);
    if (root) {
      fmh_cfg_fail(err, display, fmh_cfg_line_of(root), 0, NULL, "one YAML document", NULL, NULL, 0,
                   "a second YAML document; a configuration file holds one");
      yaml_document_delete(doc);
      rc = -1;
    }
    yaml_document_delete(&extra);
  }
  yaml_parser_delete(&p);
  return rc;
}

int fmh_cfg_valid_key_name(const char *k) {
  if (!*k) return 0;
  int seg_start = 1;
  for (const char *p = k; *p; p++) {
    if (*p == '.') {
      if (seg_start) return 0;
      seg_start = 1;
      continue;
    }
    if (seg_start && !islower((unsigned char)*p)) return 0;
    if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_') return 0;
    seg_start = 0;
  }
  return !seg_start;
}

const char *fmh_cfg_scalar(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

int fmh_cfg_parse_bool_word(const char *s, int *out) {
  static const char *const yes[] = {"true", "yes", "on", NULL};
  static const char *const no[] = {"false", "no", "off", NULL};
  for (int i = 0; yes[i]; i++) if (strcasecmp(s, yes[i]) == 0) { *out = 1; return 0; }
  for (int i = 0; no[i]; i++) if (strcasecmp(s, no[i]) == 0) { *out = 0; return 0; }
  return -1;
}

int fmh_cfg_parse_plain_number(const char *s, double *out) {
  const char *p = s;
  int digits = 0;
  for (; *p; p++) {
    if (isdigit((unsigned char)*p)) digits = 1;
    else if (!strchr("+-.eE", *p)) return -1;
  }
  if (!digits) return -1;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (*end || errno == ERANGE || !isfinite(v)) return -1;
  *out = v;
  return 0;
}

static void describe_range(char *out, size_t cap, const char *what, const fmh_config_key *k,
                           const char *unit) {
  if (k->has_min && k->has_max)
    snprintf(out, cap, "%s %.17g..%.17g%s", what, k->min, k->max, unit);
  else if (k->has_min)
    snprintf(out, cap, "%s >= %.17g%s", what, k->min, unit);
  else if (k->has_max)
    snprintf(out, cap, "%s <= %.17g%s", what, k->max, unit);
  else
    snprintf(out, cap, "%s%s", what, unit);
}

const char *fmh_cfg_expected_text(arena *a, const fmh_config_key *k) {
  char buf[1024];
  switch (k->type) {
    case FMH_CFG_STRING: return "a string";
    case FMH_CFG_PATH: return "a path";
    case FMH_CFG_BOOL: return "a boolean (true or false)";
    case FMH_CFG_INT: describe_range(buf, sizeof buf, "an integer", k, ""); break;
    case FMH_CFG_NUMBER: describe_range(buf, sizeof buf, "a number", k, ""); break;
    case FMH_CFG_PORT: describe_range(buf, sizeof buf, "a port", k, ""); break;
    case FMH_CFG_DURATION_MS:
      if (k->has_min || k->has_max) describe_range(buf, sizeof buf, "a duration of", k, " ms");
      else snprintf(buf, sizeof buf, "a duration in milliseconds");
      break;
    case FMH_CFG_ENUM: {
      size_t o = (size_t)snprintf(buf, sizeof buf, "one of ");
      for (size_t i = 0; i < k->nvalues && o < sizeof buf; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "%s%s", i ? ", " : "", k->values[i]);
      break;
    }
  }
  return fmh_cfg_arena_strdup(a, buf);
}

const char *fmh_cfg_env_name(arena *a, const char *key) {
  size_t n = strlen(key);
  char *p = fmh_cfg_arena_alloc(a, n + 8);
  if (!p) return NULL;
  memcpy(p, "FMHOST_", 7);
  for (size_t i = 0; i < n; i++)
    p[7 + i] = key[i] == '.' ? '_' : (char)toupper((unsigned char)key[i]);
  p[7 + n] = '\0';
  for (int i = 0; fmh_config_reserved_env[i]; i++)
    if (strcmp(fmh_config_reserved_env[i], p) == 0) return NULL;
  return p;
}

const fmh_config_key *fmh_config_schema_find(const fmh_config_schema *s, const char *key) {
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->keys[i].key, key) == 0) return &s->keys[i];
  return NULL;
}

ssize_t fmh_cfg_key_index(const fmh_config_schema *s, const char *key) {
  const fmh_config_key *k = fmh_config_schema_find(s, key);
  return k ? k - s->keys : -1;
}

/* Does some key lie under prefix ("mysql" for "mysql.port")? "" is the root. */
int fmh_cfg_is_section(const fmh_config_schema *s, const char *prefix) {
  size_t n = strlen(prefix);
  if (n == 0) return 1;
  for (size_t i = 0; i < s->n; i++)
    if (strncmp(s->keys[i].key, prefix, n) == 0 && s->keys[i].key[n] == '.') return 1;
  return 0;
}

/* The names one may write under section prefix ("" = root), comma-separated. */
void fmh_cfg_names_under(const fmh_config_schema *s, const char *prefix, char *out, size_t cap) {
  size_t pn = strlen(prefix), o = 0;
  out[0] = '\0';
  char seen[64][64];
  size_t nseen = 0;
  for (size_t i = 0; i < s->n && o + 1 < cap; i++) {
    const char *k = s->keys[i].key;
    if (pn && (strncmp(k, prefix, pn) != 0 || k[pn] != '.')) continue;
    const char *rest = pn ? k + pn + 1 : k;
    size_t seg = strcspn(rest, ".");
    if (seg >= 64) continue;
    int dup = 0;
    for (size_t j = 0; j < nseen; j++)
      if (strlen(seen[j]) == seg && strncmp(seen[j], rest, seg) == 0) dup = 1;
    if (dup) continue;
    if (nseen < 64) { memcpy(seen[nseen], rest, seg); seen[nseen][seg] = '\0'; nseen++; }
    int w = snprintf(out + o, cap - o, "%s%.*s", o ? ", " : "", (int)seg, rest);
    if (w < 0 || (size_t)w >= cap - o) { o = cap - 1; break; }
    o += (size_t)w;
  }
}

/* The closest valid name for an unknown full path. written_prefix is the
 * section of the mapping the name was written in ("" for --set), so the
 * suggestion reads as the user would write it there; full gets the dotted key. */
static int suggest_key(const fmh_config_schema *s, const char *path, const char *written_prefix,
                       char *shown, size_t shown_cap, char *full, size_t full_cap) {
  /* the longest section that is a prefix of path */
  char sec[512] = "";
  {
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *dot = strrchr(tmp, '.'); dot; dot = strrchr(tmp, '.')) {
      *dot = '\0';
      if (fmh_cfg_is_section(s, tmp)) { snprintf(sec, sizeof sec, "%s", tmp); break; }
    }
  }
  size_t sn = strlen(sec);
  const char *rest = sn ? path + sn + 1 : path;
  size_t best = SIZE_MAX;
  char bestname[512] = "";
  for (size_t i = 0; i < s->n; i++) {
    const char *k = s->keys[i].key;
    if (sn && (strncmp(k, sec, sn) != 0 || k[sn] != '.')) continue;
    const char *krest = sn ? k + sn + 1 : k;
    char cand[512];
    /* the next segment, then the whole remaining path */
    for (int whole = 0; whole < 2; whole++) {
      size_t len = whole ? strlen(krest) : strcspn(krest, ".");
      if (len >= sizeof cand) continue;
      memcpy(cand, krest, len);
      cand[len] = '\0';
      size_t d = closeness(rest, cand);
      if (d < best) { best = d; snprintf(bestname, sizeof bestname, "%s", cand); }
    }
  }
  if (best == SIZE_MAX) return 0;
  if (sn) snprintf(full, full_cap, "%s.%s", sec, bestname);
  else snprintf(full, full_cap, "%s", bestname);
  size_t wn = strlen(written_prefix);
  if (wn && strncmp(full, written_prefix, wn) == 0 && full[wn] == '.')
    snprintf(shown, shown_cap, "%s", full + wn + 1);
  else
    snprintf(shown, shown_cap, "%s", full);
  return 1;
}

int fmh_cfg_unknown_key(fmh_config_error *err, const fmh_config_schema *s, const char *file, int line,
                       int col, const char *path, const char *written_prefix, const char *written) {
  char shown[512], full[512], names[700], expected[600];
  /* what is valid at the deepest section the path reaches */
  char sec[512] = "";
  {
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *dot = strrchr(tmp, '.'); dot; dot = strrchr(tmp, '.')) {
      *dot = '\0';
      if (fmh_cfg_is_section(s, tmp)) { snprintf(sec, sizeof sec, "%s", tmp); break; }
    }
  }
  fmh_cfg_names_under(s, sec, names, sizeof names);
  if (*sec) bfmt(expected, sizeof expected, "a key of %s: %s", sec, names);
  else bfmt(expected, sizeof expected, "a section: %s", names);
  char got[300];
  fmh_cfg_quote_got(got, sizeof got, written, strlen(written), 0);
  if (suggest_key(s, path, written_prefix, shown, sizeof shown, full, sizeof full))
    return fmh_cfg_fail(err, file, line, col, path, expected, got, full, 0,
                        "unknown key, did you mean '%s'?", shown);
  return fmh_cfg_fail(err, file, line, col, path, expected, got, NULL, 0, "unknown key; expected %s",
                      expected);
}
