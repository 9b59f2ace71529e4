/* fmhost's configuration schema: the schema file (key -> type, range,
 * default, doc) read and checked into an fmh_config_schema. The value
 * layers are in config.c; what both use is in config_int.h. */
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

static const char *const type_names[] = {"string", "int", "bool", "number", "port",
                                         "path", "duration_ms", "enum", NULL};

static const char *const schema_fields[] = {"type", "values", "min", "max", "required", "secret",
                                            "when_empty", "doc", NULL};

/* "unknown WHAT 'got', did you mean '...'?" at node at, the closest of known as the hint. */
static int unknown_word(fmh_config_schema *s, const yaml_node_t *at, const char *key, const char *what,
                        const char *got, const char *const *known, const char *expected, fmh_config_error *err) {
  const char *best = fmh_cfg_closest(got, known, SIZE_MAX);
  char hint[96] = "";
  if (best) snprintf(hint, sizeof hint, ", did you mean '%s'?", best);
  return fmh_cfg_fail(err, s->file, fmh_cfg_line_of(at), 0, key, expected, got, best, 0, "unknown %s '%s'%s", what,
                      got, hint);
}

static int schema_bool(fmh_config_schema *s, const yaml_node_t *v, const char *key,
                       const char *field, int *out, fmh_config_error *err) {
  if (v->type == YAML_SCALAR_NODE && fmh_cfg_parse_bool_word(fmh_cfg_scalar(v), out) == 0) return 0;
  return fmh_cfg_fail(err, s->file, fmh_cfg_line_of(v), 0, key, "true or false", NULL, NULL, 0,
                      "%s: expected true or false", field);
}

static int schema_num(fmh_config_schema *s, const yaml_node_t *v, const char *key,
                      const char *field, double *out, fmh_config_error *err) {
  if (v->type == YAML_SCALAR_NODE && fmh_cfg_parse_plain_number(fmh_cfg_scalar(v), out) == 0) return 0;
  return fmh_cfg_fail(err, s->file, fmh_cfg_line_of(v), 0, key, "a number", NULL, NULL, 0,
                      "%s: expected a number", field);
}

static int schema_add_key(fmh_config_schema *s, yaml_document_t *doc, const yaml_node_t *kn,
                          const yaml_node_t *vn, fmh_config_error *err) {
  const char *key = fmh_cfg_scalar(kn);
  if (!fmh_cfg_valid_key_name(key))
    return fmh_cfg_fail(err, s->file, fmh_cfg_line_of(kn), 0, key,
                        "a dotted key of lower-case words (section.name)", NULL, NULL, 0,
                        "not a valid key name; expected lower-case words joined by dots");
  if (fmh_config_schema_find(s, key))
    return fmh_cfg_fail(err, s->file, fmh_cfg_line_of(kn), 0, key, "each key once", NULL, NULL, 0,
                        "declared twice (first at line %d)", fmh_config_schema_find(s, key)->line);
  if (vn->type != YAML_MAPPING_NODE)
    return fmh_cfg_fail(err, s->file, fmh_cfg_line_of(vn), 0, key, "a mapping of type, doc, ...", NULL, NULL, 0,
                        "expected a mapping of type, doc, ..., got %s", fmh_cfg_node_kind(vn));
  if (s->n == s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 32;
    fmh_config_key *nk = realloc(s->keys, cap * sizeof *nk);
    if (!nk) return fmh_cfg_oom(err, s->file);
    s->keys = nk;
    s->cap = cap;
  }
  fmh_config_key *k = &s->keys[s->n];
  memset(k, 0, sizeof *k);
  k->key = fmh_cfg_arena_strdup(&s->a, key);
  k->line = fmh_cfg_line_of(kn);
  k->required = 1;
  int have_type = 0;
  for (yaml_node_pair_t *p = vn->data.mapping.pairs.start; p < vn->data.mapping.pairs.top; p++) {
    yaml_node_t *fk = yaml_document_get_node(doc, p->key);
    yaml_node_t *fv = yaml_document_get_node(doc, p->value);
    if (fk->type != YAML_SCALAR_NODE)
      return fmh_cfg_fail(err, s->file, fmh_cfg_line_of(fk), 0, key, "a field name", NULL, NULL, 0,
                          "expected a field name, got %s", fmh_cfg_node_kind(fk));
    const char *f = fmh_cfg_scalar(fk);
    if (strcmp(f, "type") == 0) {
      int t = -1;
      if (fv->type == YAML_SCALAR_NODE)
        for (int i = 0; type_names[i]; i++)
          if (strcmp(type_names[i], fmh_cfg_scalar(fv)) == 0) t = i;
      if (t < 0) {
        const char *got = fv->type == YAML_SCALAR_NODE ? fmh_cfg_scalar(fv) : fmh_cfg_node_kind(fv);
        return unknown_word(s, fv, key, "type", got, type_names,
                            "string, int, bool, number, port, path, duration_ms or enum", err);
      }
      k->type = (fmh_config_type)t;
      k->type_name = type_names[t];
      have_type = 1;
    } else if (strcmp(f, "values") == 0) {
      if (fv->type != YAML_SEQUENCE_NODE || fv->data.sequence.items.top == fv->data.sequence.items.start)
        return fmh_cfg_fail(err, s->file, fmh_cfg_line_of(fv), 0, key, "a list of words", NULL, NULL, 0,
                            "values: expected a non-empty list of words");
      size_t n = (size_t)(fv->data.sequence.items.top - fv->data.sequence.items.start);
      const char **vals = fmh_cfg_arena_alloc(&s->a, n * sizeof *vals);
      if (!vals) return fmh_cfg_oom(err, s->file);
      for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = yaml_document_get_node(doc, fv->data.sequence.items.start[i]);
        if (item->type != YAML_SCALAR_NODE || item->data.scalar.length == 0)
          return fmh_cfg_fail(err, s->file, fmh_cfg_line_of(item), 0, key, "a word", NULL, NULL, 0,
                              "values: expected words");
        vals[i] = fmh_cfg_arena_strdup(&s->a, fmh_cfg_scalar(item));
      }
      k->values = vals;
      k->nvalues = n;
    } else if (strcmp(f, "min") == 0) {
      if (schema_num(s, fv, key, f, &k->min, err)) return -1;
      k->has_min = 1;
    } else if (strcmp(f, "max") == 0) {
      if (schema_num(s, fv, key, f, &k->max, err)) return -1;
      k->has_max = 1;
    } else if (strcmp(f, "required") == 0) {
      if (schema_bool(s, fv, key, f, &k->required, err)) return -1;
    } else if (strcmp(f, "secret") == 0) {
      if (schema_bool(s, fv, key, f, &k->secret, err)) return -1;
    } else if (strcmp(f, "when_empty") == 0 || strcmp(f, "doc") == 0) {
      if (fv->type != YAML_SCALAR_NODE)
        return fmh_cfg_fail(err, s->file, fmh_cfg_line_of(fv), 0, key, "a string", NULL, NULL, 0,
                            "%s: expected a string, got %s", f, fmh_cfg_node_kind(fv));
      const char *v = fmh_cfg_arena_strdup(&s->a, fmh_cfg_scalar(fv));
      if (f[0] == 'w') k->when_empty = v;
      else k->doc = v;
    } else {
      return unknown_word(s, fk, key, "field", f, schema_fields,
                          "type, values, min, max, required, secret, when_empty or doc", err);
    }
  }
  if (!have_type)
    return fmh_cfg_fail(err, s->file, k->line, 0, key, "a type", NULL, NULL, 0,
                        "no type; expected type: string, int, bool, number, port, path, duration_ms or enum");
  if (!k->doc || !*k->doc)
    return fmh_cfg_fail(err, s->file, k->line, 0, key, "a one-line doc", NULL, NULL, 0,
                        "no doc; every key says what it is for in one line");
  if (k->type == FMH_CFG_ENUM && !k->values)
    return fmh_cfg_fail(err, s->file, k->line, 0, key, "values: [...]", NULL, NULL, 0,
                        "an enum needs values: [word, ...]");
  if (k->type != FMH_CFG_ENUM && k->values)
    return fmh_cfg_fail(err, s->file, k->line, 0, key, "no values", NULL, NULL, 0,
                        "values: only an enum has values");
  if ((k->has_min || k->has_max) && k->type != FMH_CFG_INT && k->type != FMH_CFG_NUMBER &&
      k->type != FMH_CFG_DURATION_MS && k->type != FMH_CFG_PORT)
    return fmh_cfg_fail(err, s->file, k->line, 0, key, "no range", NULL, NULL, 0,
                        "min/max: only int, number, port and duration_ms have a range");
  if (k->when_empty && k->type != FMH_CFG_STRING && k->type != FMH_CFG_PATH)
    return fmh_cfg_fail(err, s->file, k->line, 0, key, "no when_empty", NULL, NULL, 0,
                        "when_empty: only string and path keys have one");
  if (k->type == FMH_CFG_PORT) {
    if (!k->has_min || k->min < 1) { k->min = 1; k->has_min = 1; }
    if (!k->has_max || k->max > 65535) { k->max = 65535; k->has_max = 1; }
  }
  if (k->type == FMH_CFG_DURATION_MS && (!k->has_min || k->min < 0)) {
    k->min = 0;
    k->has_min = 1;
  }
  if (k->has_min && k->has_max && k->min > k->max)
    return fmh_cfg_fail(err, s->file, k->line, 0, key, "min <= max", NULL, NULL, 0, "min is above max");
  k->env = fmh_cfg_env_name(&s->a, key);
  k->expected = fmh_cfg_expected_text(&s->a, k);
  if (!k->key || !k->expected) return fmh_cfg_oom(err, s->file);
  s->n++;
  return 0;
}

/* Checks across keys: no key is also a section, no two keys share an
 * environment name, when_empty names existing string/path keys. */
static int schema_check(fmh_config_schema *s, fmh_config_error *err) {
  for (size_t i = 0; i < s->n; i++) {
    const fmh_config_key *k = &s->keys[i];
    if (fmh_cfg_is_section(s, k->key))
      return fmh_cfg_fail(err, s->file, k->line, 0, k->key, "a key or a section", NULL, NULL, 0,
                          "is both a key and a section of other keys");
    for (size_t j = 0; j < i && k->env; j++)
      if (s->keys[j].env && strcmp(s->keys[j].env, k->env) == 0)
        return fmh_cfg_fail(err, s->file, k->line, 0, k->key, "distinct environment names", NULL, NULL, 0,
                            "its environment name %s is also that of %s", k->env, s->keys[j].key);
    for (const char *p = k->when_empty ? strchr(k->when_empty, '{') : NULL; p;
         p = strchr(p + 1, '{')) {
      const char *close = strchr(p, '}');
      char ref[256];
      size_t len = close ? (size_t)(close - p - 1) : 0;
      if (!close || len == 0 || len >= sizeof ref)
        return fmh_cfg_fail(err, s->file, k->line, 0, k->key, "{key} references", NULL, NULL, 0,
                            "when_empty: an unclosed or empty {...}");
      memcpy(ref, p + 1, len);
      ref[len] = '\0';
      const fmh_config_key *r = fmh_config_schema_find(s, ref);
      if (!r || (r->type != FMH_CFG_STRING && r->type != FMH_CFG_PATH) || r->when_empty)
        return fmh_cfg_fail(err, s->file, k->line, 0, k->key, "a string or path key", NULL, NULL, 0,
                            "when_empty: {%s} is not a string or path key without when_empty", ref);
    }
  }
  return 0;
}

const char *fmh_cfg_display_name(arena *a, const char *cwd, const char *path) {
  size_t n = strlen(cwd);
  if (n && path[0] == '/' && strncmp(path, cwd, n) == 0 && path[n] == '/')
    return fmh_cfg_arena_strdup(a, path + n + 1);
  return fmh_cfg_arena_strdup(a, path);
}

fmh_config_schema *fmh_cfg_schema_load_as(const char *path, const char *display,
                                          fmh_config_error *err) {
  fmh_config_schema *s = calloc(1, sizeof *s);
  if (!s) { fmh_cfg_oom(err, display); return NULL; }
  s->file = fmh_cfg_arena_strdup(&s->a, display);
  char *buf;
  size_t len;
  if (!s->file || fmh_cfg_read_all(path, display, "the configuration schema", &buf, &len, err)) {
    fmh_config_schema_free(s);
    return NULL;
  }
  yaml_document_t doc;
  int rc = fmh_cfg_parse_yaml(display, buf, len, &doc, err);
  free(buf);
  if (rc) { fmh_config_schema_free(s); return NULL; }
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  if (root && root->type != YAML_MAPPING_NODE && !fmh_cfg_is_null_scalar(root)) {
    rc = fmh_cfg_fail(err, display, fmh_cfg_line_of(root), 0, NULL, "a mapping of keys", NULL, NULL, 0,
                      "expected a mapping of keys, got %s", fmh_cfg_node_kind(root));
  } else if (root && root->type == YAML_MAPPING_NODE) {
    for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
         rc == 0 && p < root->data.mapping.pairs.top; p++) {
      yaml_node_t *kn = yaml_document_get_node(&doc, p->key);
      yaml_node_t *vn = yaml_document_get_node(&doc, p->value);
      if (kn->type != YAML_SCALAR_NODE)
        rc = fmh_cfg_fail(err, display, fmh_cfg_line_of(kn), 0, NULL, "a key name", NULL, NULL, 0,
                          "expected a key name, got %s", fmh_cfg_node_kind(kn));
      else
        rc = schema_add_key(s, &doc, kn, vn, err);
    }
  }
  yaml_document_delete(&doc);
  if (rc == 0) rc = schema_check(s, err);
  if (rc) { fmh_config_schema_free(s); return NULL; }
  return s;
}

fmh_config_schema *fmh_config_schema_load(const char *path, fmh_config_error *err) {
  char cwd[4096];
  arena a = {0};
  if (!getcwd(cwd, sizeof cwd)) cwd[0] = '\0';
  const char *display = fmh_cfg_display_name(&a, cwd, path);
  fmh_config_schema *s = display ? fmh_cfg_schema_load_as(path, display, err) : NULL;
  if (!display) fmh_cfg_oom(err, path);
  fmh_cfg_arena_free(&a);
  return s;
}

size_t fmh_config_schema_count(const fmh_config_schema *s) { return s->n; }
const fmh_config_key *fmh_config_schema_at(const fmh_config_schema *s, size_t i) {
  return i < s->n ? &s->keys[i] : NULL;
}

void fmh_config_schema_free(fmh_config_schema *s) {
  if (!s) return;
  free(s->keys);
  fmh_cfg_arena_free(&s->a);
  free(s);
}
