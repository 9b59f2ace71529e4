/* YAML schema files for the generator (under config/schemas/), read with
 * libyaml's document API:
 *
 *   name: seven            # optional: the table name
 *   seed: 42               # optional: the default seed
 *   time_zone: "+00:00"    # optional: the session time zone of TIMESTAMP text
 *   description: ...       # ignored
 *   columns:
 *     - {name: id, type: BIGINT, primary_key: true, distribution: sequential}
 *     - name: colour
 *       type: ENUM
 *       values: [red, green, "dark blue"]
 *
 * Every column key is passed to fmh_gen_column_set as text, exactly as a
 * Lua table's fields are, so both routes accept the same keys. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "gen_int.h"

static const char *scalar(yaml_node_t *n) {
  return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int load_column(fmh_gen_schema *s, yaml_document_t *doc, yaml_node_t *m, size_t pos, const char *path,
                       fmh_error *err) {
  if (m->type != YAML_MAPPING_NODE) {
    fmh_error_set(err, "config", 0, 0, "%s: column %zu is not a mapping", path, pos);
    return -1;
  }
  const char *name = NULL;
  for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
    const char *k = scalar(yaml_document_get_node(doc, p->key));
    if (k && !strcmp(k, "name")) name = scalar(yaml_document_get_node(doc, p->value));
  }
  if (!name) {
    fmh_error_set(err, "config", 0, 0, "%s: column %zu has no name", path, pos);
    return -1;
  }
  int col = fmh_gen_schema_add_column(s, name, err);
  if (col < 0) return -1;
  for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
    const char *k = scalar(yaml_document_get_node(doc, p->key));
    yaml_node_t *v = yaml_document_get_node(doc, p->value);
    if (!k) {
      fmh_error_set(err, "config", 0, 0, "%s: column '%s' has a key that is not text", path, name);
      return -1;
    }
    if (!strcmp(k, "name") || !strcmp(k, "description") || !strcmp(k, "doc")) continue;
    if (v && v->type == YAML_SEQUENCE_NODE && (!strcmp(k, "values") || !strcmp(k, "edges"))) {
      int is_values = !strcmp(k, "values");
      char joined[1024] = "";
      size_t jl = 0;
      for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
        yaml_node_t *item = yaml_document_get_node(doc, *it);
        if (!item || item->type != YAML_SCALAR_NODE) {
          fmh_error_set(err, "config", 0, 0, "%s: column '%s': %s must be a list of words", path, name, k);
          return -1;
        }
        if (is_values) {
          if (fmh_gen_column_add_value(s, col, (const char *)item->data.scalar.value, item->data.scalar.length, err) != 0)
            return -1;
        } else {
          int w = snprintf(joined + jl, sizeof joined - jl, "%s%s", jl ? "," : "", (const char *)item->data.scalar.value);
          if (w < 0 || (size_t)w >= sizeof joined - jl) {
            fmh_error_set(err, "config", 0, 0, "%s: column '%s': the edges list is too long", path, name);
            return -1;
          }
          jl += (size_t)w;
        }
      }
      if (!is_values && fmh_gen_column_set(s, col, "edges", joined, err) != 0) return -1;
      continue;
    }
    const char *sv = scalar(v);
    if (!sv) {
      fmh_error_set(err, "config", 0, 0, "%s: column '%s': %s must be a single value", path, name, k);
      return -1;
    }
    if (fmh_gen_column_set(s, col, k, sv, err) != 0) {
      char msg[sizeof err->msg];
      snprintf(msg, sizeof msg, "%s", err->msg);
      fmh_error_set(err, "config", 0, 0, "%s: %s", path, msg);
      return -1;
    }
  }
  return 0;
}

fmh_gen_schema *fmh_gen_schema_load_yaml(const char *path, fmh_error *err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fmh_error_set(err, "os", errno, 0, "cannot read schema %s: %s", path, strerror(errno));
    return NULL;
  }
  yaml_parser_t parser;
  yaml_document_t doc;
  if (!yaml_parser_initialize(&parser)) {
    fclose(f);
    fmh_error_set(err, "os", ENOMEM, 0, "out of memory");
    return NULL;
  }
  yaml_parser_set_input_file(&parser, f);
  if (!yaml_parser_load(&parser, &doc)) {
    fmh_error_set(err, "config", 0, 0, "%s:%zu:%zu: %s", path, parser.problem_mark.line + 1,
                  parser.problem_mark.column + 1, parser.problem ? parser.problem : "cannot parse YAML");
    yaml_parser_delete(&parser);
    fclose(f);
    return NULL;
  }
  yaml_parser_delete(&parser);
  fclose(f);
  fmh_gen_schema *s = fmh_gen_schema_new();
  yaml_node_t *root = yaml_document_get_root_node(&doc);
  int ok = s != NULL;
  if (!s) fmh_error_set(err, "os", ENOMEM, 0, "out of memory");
  if (ok && (!root || root->type != YAML_MAPPING_NODE)) {
    fmh_error_set(err, "config", 0, 0, "%s: a schema is a mapping with a columns list", path);
    ok = 0;
  }
  int have_columns = 0;
  for (yaml_node_pair_t *p = ok ? root->data.mapping.pairs.start : NULL; ok && p < root->data.mapping.pairs.top; p++) {
    const char *k = scalar(yaml_document_get_node(&doc, p->key));
    yaml_node_t *v = yaml_document_get_node(&doc, p->value);
    if (!k) { fmh_error_set(err, "config", 0, 0, "%s: a key is not text", path); ok = 0; break; }
    if (!strcmp(k, "description") || !strcmp(k, "doc")) continue;
    if (!strcmp(k, "columns")) {
      have_columns = 1;
      if (!v || v->type != YAML_SEQUENCE_NODE) {
        fmh_error_set(err, "config", 0, 0, "%s: columns must be a list", path);
        ok = 0;
        break;
      }
      size_t pos = 1;
      for (yaml_node_item_t *it = v->data.sequence.items.start; ok && it < v->data.sequence.items.top; it++, pos++)
        ok = load_column(s, &doc, yaml_document_get_node(&doc, *it), pos, path, err) == 0;
      continue;
    }
    const char *sv = scalar(v);
    if (!sv) { fmh_error_set(err, "config", 0, 0, "%s: %s must be a single value", path, k); ok = 0; break; }
    if (fmh_gen_schema_set(s, k, sv, err) != 0) {
      char msg[sizeof err->msg];
      snprintf(msg, sizeof msg, "%s", err->msg);
      fmh_error_set(err, "config", 0, 0, "%s: %s", path, msg);
      ok = 0;
    }
  }
  if (ok && !have_columns) {
    fmh_error_set(err, "config", 0, 0, "%s: no columns", path);
    ok = 0;
  }
  yaml_document_delete(&doc);
  if (!ok) {
    fmh_gen_schema_free(s);
    return NULL;
  }
  return s;
}
