/* fmhost's configuration: the value layers and the one-line errors (the
 * schema file is read by config_schema.c; shared helpers: config_shared.c,
 * declared in config_int.h).
 *
 * Every value, whatever its origin (a YAML file, an FMHOST_* variable, a
 * --set), goes through apply(), which parses its text by the key's type and
 * checks the range, so a value is valid or the load fails with one line
 * naming where it came from. Strings live in an arena owned by the config or
 * schema, so a value never has to be freed on its own and the whole thing goes
 * in one fmh_config_free. */
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

/* --- values ----------------------------------------------------------- */

static void trim(const char **s, size_t *len) {
  while (*len && isspace((unsigned char)**s)) { (*s)++; (*len)--; }
  while (*len && isspace((unsigned char)(*s)[*len - 1])) (*len)--;
}

/* Parse an integer with optional sign; 1 = not an integer, 2 = out of long long. */
static int parse_ll(const char *s, long long *out) {
  const char *p = s;
  if (*p == '+' || *p == '-') p++;
  if (!*p) return 1;
  for (const char *q = p; *q; q++)
    if (!isdigit((unsigned char)*q)) return 1;
  errno = 0;
  char *end;
  long long v = strtoll(s, &end, 10);
  if (errno == ERANGE) return 2;
  *out = v;
  return 0;
}

/* "5000", "250ms", "5s", "2m", "1h" -> milliseconds. 1 = not a duration, 2 = too large. */
static int parse_duration(const char *s, long long *out) {
  const char *p = s;
  if (*p == '+') p++;
  if (!isdigit((unsigned char)*p)) return 1;
  unsigned long long v = 0;
  for (; isdigit((unsigned char)*p); p++) {
    if (v > (ULLONG_MAX - 9) / 10) return 2;
    v = v * 10 + (unsigned)(*p - '0');
  }
  unsigned long long mul;
  if (!*p || strcmp(p, "ms") == 0) mul = 1;
  else if (strcmp(p, "s") == 0) mul = 1000;
  else if (strcmp(p, "m") == 0) mul = 60000;
  else if (strcmp(p, "h") == 0) mul = 3600000;
  else return 1;
  if (v > (unsigned long long)LLONG_MAX / mul) return 2;
  *out = (long long)(v * mul);
  return 0;
}

static void number_text(char *buf, size_t cap, double v) {
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(buf, cap, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) return;
  }
}

/* A value from a layer: text (len bytes) or a node of another kind
 * (kind != NULL: "a mapping", "a sequence", "null"). Parse it by the key's
 * type and store it with its origin. */
static int apply(fmh_config *c, size_t idx, const char *text, size_t len, const char *kind,
                 const char *file, int origin_line, int line, fmh_config_error *err) {
  const fmh_config_key *k = &c->schema->keys[idx];
  fmh_config_value nv = {.spec = k, .set = 1, .file = file, .line = origin_line};
  const int col = 0;
  char got[300];
  int is_null = kind && strcmp(kind, "null") == 0;
  if (kind && !is_null) {
    snprintf(got, sizeof got, "%s", kind);
    return fmh_cfg_fail(err, file, line, col, k->key, k->expected, got, NULL, 0, "expected %s, got %s",
                        k->expected, kind);
  }
  if (is_null) {
    if (k->type != FMH_CFG_STRING && k->type != FMH_CFG_PATH)
      return fmh_cfg_fail(err, file, line, col, k->key, k->expected, "null", NULL, 0,
                          "expected %s, got nothing (null)", k->expected);
    text = "";
    len = 0;
  }
  if (memchr(text, '\0', len))
    return fmh_cfg_fail(err, file, line, col, k->key, k->expected, "a NUL byte", NULL, 0,
                        "expected %s without NUL bytes", k->expected);
  fmh_cfg_quote_got(got, sizeof got, text, len, k->secret);
  const char *raw = text;
  size_t rawlen = len;
  if (k->type != FMH_CFG_STRING && k->type != FMH_CFG_PATH) trim(&raw, &rawlen);
  char *s = fmh_cfg_arena_strndup(&c->a, raw, rawlen);
  if (!s) return fmh_cfg_oom(err, file);
  char buf[64];
  switch (k->type) {
    case FMH_CFG_STRING:
      nv.text = s;
      break;
    case FMH_CFG_PATH:
      if (s[0] == '\0' || s[0] == '/') nv.text = s;
      else if (s[0] == '~' && (s[1] == '/' || s[1] == '\0')) {
        const char *home = getenv("HOME");
        if (!home || !*home)
          return fmh_cfg_fail(err, file, line, col, k->key, k->expected, got, NULL, 0,
                              "cannot expand '~': HOME is not set");
        nv.text = fmh_cfg_arena_printf(&c->a, "%s%s", home, s + 1);
      } else {
        const char *rel = s;
        while (rel[0] == '.' && rel[1] == '/') rel += 2;
        nv.text = strcmp(rel, ".") == 0 ? fmh_cfg_arena_strdup(&c->a, c->root)
                                        : fmh_cfg_arena_printf(&c->a, "%s/%s", c->root, rel);
      }
      if (!nv.text) return fmh_cfg_oom(err, file);
      break;
    case FMH_CFG_BOOL: {
      int b;
      if (fmh_cfg_parse_bool_word(s, &b))
        return fmh_cfg_fail(err, file, line, col, k->key, k->expected, got, NULL, 0,
                            "expected %s, got %s", k->expected, got);
      nv.i = b;
      nv.n = b;
      nv.text = b ? "true" : "false";
      break;
    }
    case FMH_CFG_INT:
    case FMH_CFG_PORT:
    case FMH_CFG_DURATION_MS: {
      long long v = 0;
      int r = k->type == FMH_CFG_DURATION_MS ? parse_duration(s, &v) : parse_ll(s, &v);
      if (r == 1) {
        const char *what = k->type == FMH_CFG_DURATION_MS
                               ? "a duration in milliseconds (5000, or with a unit: 250ms, 5s, 2m, 1h)"
                               : "an integer";
        return fmh_cfg_fail(err, file, line, col, k->key, what, got, NULL, 0, "expected %s, got %s", what,
                            got);
      }
      if (r == 2 || (k->has_min && (double)v < k->min) || (k->has_max && (double)v > k->max)) {
        const char *what = (r == 2 && !k->has_min && !k->has_max) ? "a 64-bit integer" : k->expected;
        return fmh_cfg_fail(err, file, line, col, k->key, what, got, NULL, 0, "expected %s, got %s", what,
                            got);
      }
      nv.i = v;
      nv.n = (double)v;
      snprintf(buf, sizeof buf, "%lld", v);
      nv.text = fmh_cfg_arena_strdup(&c->a, buf);
      break;
    }
    case FMH_CFG_NUMBER: {
      double v;
      if (fmh_cfg_parse_plain_number(s, &v))
        return fmh_cfg_fail(err, file, line, col, k->key, "a number", got, NULL, 0,
                            "expected a number, got %s", got);
      if ((k->has_min && v < k->min) || (k->has_max && v > k->max))
        return fmh_cfg_fail(err, file, line, col, k->key, k->expected, got, NULL, 0,
                            "expected %s, got %s", k->expected, got);
      nv.n = v;
      number_text(buf, sizeof buf, v);
      nv.text = fmh_cfg_arena_strdup(&c->a, buf);
      break;
    }
    case FMH_CFG_ENUM: {
      nv.text = NULL;
      for (size_t i = 0; i < k->nvalues; i++)
        if (strcasecmp(k->values[i], s) == 0) { nv.text = k->values[i]; nv.i = (long long)i; }
      if (!nv.text) {
        const char *best = fmh_cfg_closest(s, k->values, k->nvalues);
        if (best)
          return fmh_cfg_fail(err, file, line, col, k->key, k->expected, got, best, 0,
                              "expected %s, got %s; did you mean '%s'?", k->expected, got, best);
        return fmh_cfg_fail(err, file, line, col, k->key, k->expected, got, NULL, 0,
                            "expected %s, got %s", k->expected, got);
      }
      break;
    }
  }
  if (!nv.text) return fmh_cfg_oom(err, file);
  nv.origin = origin_line > 0 ? fmh_cfg_arena_printf(&c->a, "%s:%d", file, origin_line) : file;
  if (!nv.origin) return fmh_cfg_oom(err, file);
  c->vals[idx] = nv;
  return 0;
}

static void note_section(fmh_config *c, const char *path, int line) {
  if (!c->recording_sections) return;
  if (c->nsections == c->capsections) {
    size_t cap = c->capsections ? c->capsections * 2 : 16;
    section_line *ns = realloc(c->sections, cap * sizeof *ns);
    if (!ns) return;            /* only costs the line of a later message */
    c->sections = ns;
    c->capsections = cap;
  }
  const char *p = fmh_cfg_arena_strdup(&c->a, path);
  if (!p) return;
  c->sections[c->nsections].path = p;
  c->sections[c->nsections].line = line;
  c->nsections++;
}

/* Walk a mapping written under section prefix. Keys may be dotted
 * ("mysql.port: 1" at the top is "mysql: {port: 1}"). */
static int walk(fmh_config *c, yaml_document_t *doc, const yaml_node_t *map, const char *prefix,
                const char *file, fmh_config_error *err) {
  const fmh_config_schema *s = c->schema;
  for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
    yaml_node_t *kn = yaml_document_get_node(doc, p->key);
    yaml_node_t *vn = yaml_document_get_node(doc, p->value);
    if (kn->type != YAML_SCALAR_NODE)
      return fmh_cfg_fail(err, file, fmh_cfg_line_of(kn), 0, *prefix ? prefix : NULL, "a key name", fmh_cfg_node_kind(kn),
                          NULL, 0, "expected a key name, got %s", fmh_cfg_node_kind(kn));
    const char *name = fmh_cfg_scalar(kn);
    for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p; q++) {
      yaml_node_t *qk = yaml_document_get_node(doc, q->key);
      if (qk->type == YAML_SCALAR_NODE && strcmp(fmh_cfg_scalar(qk), name) == 0) {
        char full[512];
        snprintf(full, sizeof full, "%s%s%s", prefix, *prefix ? "." : "", name);
        return fmh_cfg_fail(err, file, fmh_cfg_line_of(kn), 0, full, "each key once", NULL, NULL, 0,
                            "duplicate key (first at line %d)", fmh_cfg_line_of(qk));
      }
    }
    char *full = fmh_cfg_arena_printf(&c->a, "%s%s%s", prefix, *prefix ? "." : "", name);
    if (!full) return fmh_cfg_oom(err, file);
    ssize_t idx = fmh_cfg_key_index(s, full);
    if (idx >= 0) {
      if (c->seen_line[idx])
        return fmh_cfg_fail(err, file, fmh_cfg_line_of(kn), 0, full, "each key once", NULL, NULL, 0,
                            "duplicate key (first at line %d)", c->seen_line[idx]);
      c->seen_line[idx] = fmh_cfg_line_of(kn);
      const char *kind = vn->type == YAML_SCALAR_NODE ? (fmh_cfg_is_null_scalar(vn) ? "null" : NULL)
                                                      : fmh_cfg_node_kind(vn);
      const char *text = vn->type == YAML_SCALAR_NODE ? fmh_cfg_scalar(vn) : "";
      size_t len = vn->type == YAML_SCALAR_NODE ? vn->data.scalar.length : 0;
      /* the origin is the key's line; a wrong value is reported where it stands */
      if (apply(c, (size_t)idx, text, len, kind, file, fmh_cfg_line_of(kn), fmh_cfg_line_of(vn), err)) return -1;
    } else if (fmh_cfg_is_section(s, full)) {
      note_section(c, full, fmh_cfg_line_of(kn));
      if (vn->type == YAML_MAPPING_NODE) {
        if (walk(c, doc, vn, full, file, err)) return -1;
      } else if (!fmh_cfg_is_null_scalar(vn)) {
        char names[700], expected[800], got[300];
        fmh_cfg_names_under(s, full, names, sizeof names);
        snprintf(expected, sizeof expected, "a mapping of %s keys (%s)", full, names);
        if (vn->type == YAML_SCALAR_NODE) fmh_cfg_quote_got(got, sizeof got, fmh_cfg_scalar(vn), vn->data.scalar.length, 0);
        else snprintf(got, sizeof got, "%s", fmh_cfg_node_kind(vn));
        return fmh_cfg_fail(err, file, fmh_cfg_line_of(vn), 0, full, expected, got, NULL, 0,
                            "is a section; expected a mapping of its keys (%s), got %s", names, got);
      }
    } else {
      return fmh_cfg_unknown_key(err, s, file, fmh_cfg_line_of(kn), 0, full, prefix, name);
    }
  }
  return 0;
}

static int load_file(fmh_config *c, const char *path, const char *display, const char *what,
                     fmh_config_error *err) {
  char *buf;
  size_t len;
  if (fmh_cfg_read_all(path, display, what, &buf, &len, err)) return -1;
  yaml_document_t doc;
  int rc = fmh_cfg_parse_yaml(display, buf, len, &doc, err);
  free(buf);
  if (rc) return -1;
  memset(c->seen_line, 0, c->schema->n * sizeof *c->seen_line);
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  if (root && root->type == YAML_MAPPING_NODE) {
    rc = walk(c, &doc, root, "", display, err);
  } else if (root && !fmh_cfg_is_null_scalar(root)) {
    char names[700], expected[800];
    fmh_cfg_names_under(c->schema, "", names, sizeof names);
    snprintf(expected, sizeof expected, "a mapping of sections (%s)", names);
    rc = fmh_cfg_fail(err, display, fmh_cfg_line_of(root), 0, NULL, expected, fmh_cfg_node_kind(root), NULL, 0,
                      "expected a mapping of sections (%s), got %s", names, fmh_cfg_node_kind(root));
  }
  yaml_document_delete(&doc);
  return rc;
}

extern char **environ;

/* Warn of FMHOST_* variables that set nothing but are close to a name that
 * would (a key's variable or a reserved one): a typo that is otherwise
 * silently ignored. Names close to none are left alone: they may be a
 * user's own. */
static int warn_env_typos(fmh_config *c, const fmh_config_opts *o) {
  const char *const *envp = o->environ_list ? o->environ_list : (const char *const *)environ;
  const fmh_config_schema *s = c->schema;
  size_t nres = 0;
  while (fmh_config_reserved_env[nres]) nres++;
  size_t ncand = 0;
  const char **cands = calloc(s->n + nres + 1, sizeof *cands); /* the names after FMHOST_ */
  if (!cands) return -1;
  for (size_t i = 0; i < s->n; i++)
    if (s->keys[i].env) cands[ncand++] = s->keys[i].env + 7;
  for (size_t i = 0; i < nres; i++) cands[ncand++] = fmh_config_reserved_env[i] + 7;
  int rc = 0;
  for (const char *const *e = envp; e && *e && rc == 0; e++) {
    const char *eq = strchr(*e, '=');
    if (strncmp(*e, "FMHOST_", 7) != 0 || !eq || (size_t)(eq - *e) > 200) continue;
    char name[208];
    memcpy(name, *e, (size_t)(eq - *e));
    name[eq - *e] = '\0';
    int known = 0;
    for (size_t i = 0; i < ncand && !known; i++) known = strcmp(name + 7, cands[i]) == 0;
    if (known) continue;
    const char *best = fmh_cfg_closest(name + 7, cands, ncand);
    if (!best) continue;
    const char *key = NULL;
    for (size_t i = 0; i < s->n && !key; i++)
      if (s->keys[i].env && strcmp(s->keys[i].env + 7, best) == 0) key = s->keys[i].key;
    const char *w = key ? fmh_cfg_arena_printf(&c->a, "environment variable %s sets nothing and is ignored; did you mean FMHOST_%s (%s)?",
                                       name, best, key)
                        : fmh_cfg_arena_printf(&c->a, "environment variable %s sets nothing and is ignored; did you mean FMHOST_%s?",
                                       name, best);
    const char **nw = w ? realloc(c->warnings, (c->nwarnings + 1) * sizeof *nw) : NULL;
    if (!nw) { rc = -1; break; }
    c->warnings = nw;
    c->warnings[c->nwarnings++] = w;
  }
  free(cands);
  return rc;
}

static const char *lookup_env(const fmh_config_opts *o, const char *name) {
  if (!o->environ_list) return getenv(name);
  size_t n = strlen(name);
  for (const char *const *e = o->environ_list; *e; e++)
    if (strncmp(*e, name, n) == 0 && (*e)[n] == '=') return *e + n + 1;
  return NULL;
}

static int apply_set(fmh_config *c, const char *item, fmh_config_error *err) {
  const char *eq = strchr(item, '=');
  char got[300];
  if (!eq || eq == item) {
    fmh_cfg_quote_got(got, sizeof got, item, strlen(item), 0);
    return fmh_cfg_fail(err, "--set", 0, 0, NULL, "key=value", got, NULL, 0, "expected key=value, got %s",
                        got);
  }
  char *key = fmh_cfg_arena_strndup(&c->a, item, (size_t)(eq - item));
  if (!key) return fmh_cfg_oom(err, "--set");
  ssize_t idx = fmh_cfg_key_index(c->schema, key);
  if (idx >= 0) return apply(c, (size_t)idx, eq + 1, strlen(eq + 1), NULL, "--set", 0, 0, err);
  if (fmh_cfg_is_section(c->schema, key)) {
    char names[700], expected[800];
    fmh_cfg_names_under(c->schema, key, names, sizeof names);
    snprintf(expected, sizeof expected, "a key of %s: %s", key, names);
    return fmh_cfg_fail(err, "--set", 0, 0, key, expected, NULL, NULL, 0,
                        "is a section, not a key; set one of its keys: %s", names);
  }
  return fmh_cfg_unknown_key(err, c->schema, "--set", 0, 0, key, "", key);
}

static int valid_env_name(const char *env) {
  if (!*env || strlen(env) > 100) return 0;
  for (const char *p = env; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') return 0;
  return 1;
}

/* Replace {key} in the template by that key's value. */
static const char *expand(fmh_config *c, const char *tmpl) {
  fmh_buf out = {0};
  if (fmh_buf_put(&out, "", 0) != 0) return NULL;
  for (const char *p = tmpl; *p;) {
    const char *piece = p;
    size_t len = 1;
    char ref[256];
    if (*p == '{' && strchr(p, '}')) {
      const char *close = strchr(p, '}');
      size_t rl = (size_t)(close - p - 1);
      if (rl < sizeof ref) {
        memcpy(ref, p + 1, rl);
        ref[rl] = '\0';
        const fmh_config_value *v = fmh_config_get(c, ref);
        piece = v && v->set ? v->text : "";
        len = strlen(piece);
      }
      p = close + 1;
    } else {
      p++;
    }
    if (fmh_buf_put(&out, piece, len) != 0) { fmh_buf_free(&out); return NULL; }
  }
  const char *r = fmh_cfg_arena_strdup(&c->a, out.p);
  fmh_buf_free(&out);
  return r;
}

fmh_config *fmh_config_load(const fmh_config_opts *o, fmh_config_error *err) {
  if (err) memset(err, 0, sizeof *err);
  fmh_config *c = calloc(1, sizeof *c);
  if (!c) { fmh_cfg_oom(err, "config"); return NULL; }
  if (!getcwd(c->cwd, sizeof c->cwd)) c->cwd[0] = '\0';
  char *dir = fmh_cfg_arena_strdup(&c->a, o->dir && *o->dir ? o->dir : "config");
  if (!dir) goto oom;
  for (size_t dn = strlen(dir); dn > 1 && dir[dn - 1] == '/'; dn--) dir[dn - 1] = '\0';
  char *path;
  /* the root: given, or the parent of dir; made absolute */
  {
    const char *root = o->root;
    char *parent = NULL;
    if (!root || !*root) {
      parent = fmh_cfg_arena_printf(&c->a, "%s", dir);
      if (!parent) goto oom;
      size_t n = strlen(parent);
      while (n > 1 && parent[n - 1] == '/') parent[--n] = '\0';
      char *slash = strrchr(parent, '/');
      if (!slash) parent = fmh_cfg_arena_strdup(&c->a, ".");
      else if (slash == parent) parent[1] = '\0';
      else *slash = '\0';
      root = parent;
    }
    if (!root) goto oom;
    if (root[0] != '/') {
      if (strcmp(root, ".") == 0) root = fmh_cfg_arena_strdup(&c->a, c->cwd);
      else root = fmh_cfg_arena_printf(&c->a, "%s/%s", c->cwd, root);
    } else {
      root = fmh_cfg_arena_strdup(&c->a, root);
    }
    if (!root) goto oom;
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/') ((char *)root)[--n] = '\0';
    c->root = root;
  }
  {
    const char *sp = o->schema ? o->schema : fmh_cfg_arena_printf(&c->a, "%s/schema.yaml", dir);
    if (!sp) goto oom;
    const char *display = fmh_cfg_display_name(&c->a, c->cwd, sp);
    if (!display) goto oom;
    c->schema = fmh_cfg_schema_load_as(sp, display, err);
    if (!c->schema) goto fail;
  }
  size_t n = c->schema->n;
  c->vals = calloc(n ? n : 1, sizeof *c->vals);
  c->seen_line = calloc(n ? n : 1, sizeof *c->seen_line);
  if (!c->vals || !c->seen_line) goto oom;
  for (size_t i = 0; i < n; i++) {
    c->vals[i].spec = &c->schema->keys[i];
    c->vals[i].text = "";
    c->vals[i].origin = "unset";
    c->vals[i].file = "unset";
  }

  path = fmh_cfg_arena_printf(&c->a, "%s/default.yaml", dir);
  if (!path) goto oom;
  const char *default_display = fmh_cfg_display_name(&c->a, c->cwd, path);
  if (!default_display) goto oom;
  c->recording_sections = 1;
  if (load_file(c, path, default_display, "the default configuration", err)) goto fail;
  c->recording_sections = 0;

  if (o->env && *o->env) {
    if (!valid_env_name(o->env)) {
      char got[300];
      fmh_cfg_quote_got(got, sizeof got, o->env, strlen(o->env), 0);
      fmh_cfg_fail(err, "--env", 0, 0, NULL, "an environment name (letters, digits, '-', '_')", got, NULL,
                   0, "expected an environment name (letters, digits, '-', '_'), got %s", got);
      goto fail;
    }
    c->env = fmh_cfg_arena_strdup(&c->a, o->env);
    path = fmh_cfg_arena_printf(&c->a, "%s/%s.yaml", dir, o->env);
    if (!c->env || !path) goto oom;
    const char *display = fmh_cfg_display_name(&c->a, c->cwd, path);
    const char *what = fmh_cfg_arena_printf(&c->a, "the overlay of environment '%s'", o->env);
    if (!display || !what) goto oom;
    if (load_file(c, path, display, what, err)) goto fail;
  }

  if (o->use_environ) {
    for (size_t i = 0; i < n; i++) {
      const fmh_config_key *k = &c->schema->keys[i];
      if (!k->env) continue;
      const char *v = lookup_env(o, k->env);
      if (!v) continue;
      const char *where = fmh_cfg_arena_printf(&c->a, "environment %s", k->env);
      if (!where) goto oom;
      if (apply(c, i, v, strlen(v), NULL, where, 0, 0, err)) goto fail;
    }
    if (warn_env_typos(c, o) != 0) goto oom;
  }

  for (size_t i = 0; i < o->nset; i++)
    if (apply_set(c, o->set[i], err)) goto fail;

  for (size_t i = 0; i < n; i++) {
    const fmh_config_key *k = &c->schema->keys[i];
    if (c->vals[i].set || !k->required) continue;
    /* point at the deepest section of default.yaml the key belongs in */
    int line = 1;
    size_t best = 0;
    for (size_t j = 0; j < c->nsections; j++) {
      size_t sl = strlen(c->sections[j].path);
      if (sl > best && strncmp(k->key, c->sections[j].path, sl) == 0 && k->key[sl] == '.') {
        best = sl;
        line = c->sections[j].line;
      }
    }
    const char *env = k->env ? k->env : "its environment variable";
    fmh_cfg_fail(err, default_display, line, 0, k->key, k->expected, NULL, NULL, 0,
                 "missing required key, expected %s (give it in %s, an overlay, %s or --set)", k->expected,
                 default_display, env);
    goto fail;
  }

  for (size_t i = 0; i < n; i++) {
    fmh_config_value *v = &c->vals[i];
    if (!v->set || !v->spec->when_empty || v->text[0]) continue;
    const char *t = expand(c, v->spec->when_empty);
    if (!t) goto oom;
    if (v->spec->type == FMH_CFG_PATH && t[0] && t[0] != '/')
      t = fmh_cfg_arena_printf(&c->a, "%s/%s", c->root, t);
    if (!t) goto oom;
    v->text = t;
  }
  free(c->seen_line);
  c->seen_line = NULL;
  free(c->sections);
  c->sections = NULL;
  return c;

oom:
  fmh_cfg_oom(err, "config");
fail:
  fmh_config_free(c);
  return NULL;
}

void fmh_config_free(fmh_config *c) {
  if (!c) return;
  fmh_config_schema_free(c->schema);
  free(c->vals);
  free(c->seen_line);
  free(c->sections);
  free(c->warnings);
  fmh_cfg_arena_free(&c->a);
  free(c);
}

size_t fmh_config_warning_count(const fmh_config *c) { return c->nwarnings; }
const char *fmh_config_warning(const fmh_config *c, size_t i) { return i < c->nwarnings ? c->warnings[i] : NULL; }

const fmh_config_schema *fmh_config_schema_of(const fmh_config *c) { return c->schema; }
const char *fmh_config_env(const fmh_config *c) { return c->env; }
size_t fmh_config_count(const fmh_config *c) { return c->schema->n; }
const fmh_config_value *fmh_config_at(const fmh_config *c, size_t i) {
  return i < c->schema->n ? &c->vals[i] : NULL;
}

const fmh_config_value *fmh_config_get(const fmh_config *c, const char *key) {
  ssize_t i = fmh_cfg_key_index(c->schema, key);
  return i >= 0 ? &c->vals[i] : NULL;
}

long long fmh_config_int(const fmh_config *c, const char *key, long long def) {
  const fmh_config_value *v = fmh_config_get(c, key);
  if (!v || !v->set) return def;
  if (v->spec->type == FMH_CFG_NUMBER) return (long long)v->n;
  return v->i;
}

double fmh_config_num(const fmh_config *c, const char *key, double def) {
  const fmh_config_value *v = fmh_config_get(c, key);
  return v && v->set ? v->n : def;
}

int fmh_config_bool(const fmh_config *c, const char *key, int def) {
  const fmh_config_value *v = fmh_config_get(c, key);
  return v && v->set ? (int)(v->i != 0) : def;
}

const char *fmh_config_str(const fmh_config *c, const char *key, const char *def) {
  const fmh_config_value *v = fmh_config_get(c, key);
  return v && v->set ? v->text : def;
}

char *fmh_config_format(const fmh_config *c) {
  size_t width = 0, n = c->schema->n;
  char **shown = calloc(n ? n : 1, sizeof *shown);
  if (!shown) return NULL;
  for (size_t i = 0; i < n; i++) {
    const fmh_config_value *v = &c->vals[i];
    const char *val = !v->set ? "(unset)" : v->spec->secret ? "***" : v->text;
    int quote = v->set && !v->spec->secret &&
                (v->text[0] == '\0' || isspace((unsigned char)v->text[0]) ||
                 isspace((unsigned char)v->text[strlen(v->text) - 1]));
    size_t len = strlen(v->spec->key) + strlen(val) + 8;
    shown[i] = malloc(len);
    if (!shown[i]) {
      for (size_t j = 0; j < i; j++) free(shown[j]);
      free(shown);
      return NULL;
    }
    snprintf(shown[i], len, quote ? "%s = \"%s\"" : "%s = %s", v->spec->key, val);
    if (strlen(shown[i]) > width) width = strlen(shown[i]);
  }
  size_t cap = 1, o = 0;
  for (size_t i = 0; i < n; i++) cap += width + 8 + strlen(c->vals[i].origin) + 2;
  char *out = malloc(cap);
  if (out) {
    for (size_t i = 0; i < n; i++)
      o += (size_t)snprintf(out + o, cap - o, "%-*s    (%s)\n", (int)width, shown[i],
                            c->vals[i].origin);
    out[o] = '\0';
  }
  for (size_t i = 0; i < n; i++) free(shown[i]);
  free(shown);
  return out;
}
