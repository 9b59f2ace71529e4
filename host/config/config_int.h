/* fmhost's configuration internals shared by config.c (the value layers),
 * config_shared.c (their helpers) and config_schema.c (the schema file); not a public API. */
#ifndef FMHOST_CONFIG_INT_H
#define FMHOST_CONFIG_INT_H

#include <stddef.h>
#include <sys/types.h>
#include <yaml.h>

#include "fmhost/config.h"

/* --- arena ------------------------------------------------------------ */

typedef struct arena_blk {
  struct arena_blk *next;
  size_t used, cap;
  max_align_t data[];
} arena_blk;

typedef struct arena {
  arena_blk *head;
} arena;


/* --- structures ------------------------------------------------------- */

struct fmh_config_schema {
  arena a;
  fmh_config_key *keys;
  size_t n, cap;
  const char *file;          /* display name */
};

/* A section line seen in default.yaml: where a missing key would go. */
typedef struct section_line {
  const char *path;
  int line;
} section_line;

struct fmh_config {
  arena a;
  fmh_config_schema *schema;
  fmh_config_value *vals;
  const char *env;
  const char *root;          /* absolute, without trailing slash */
  char cwd[4096];            /* for display names; "" when unknown */
  /* per file being read */
  int *seen_line;            /* line where this file set key i, 0 if not */
  section_line *sections;
  size_t nsections, capsections;
  int recording_sections;
  /* FMHOST_* variables that look like a mistyped key's */
  const char **warnings;
  size_t nwarnings;
};


/* config_shared.c */
void *fmh_cfg_arena_alloc(arena *a, size_t n);
char *fmh_cfg_arena_strndup(arena *a, const char *s, size_t n);
char *fmh_cfg_arena_printf(arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *fmh_cfg_arena_strdup(arena *a, const char *s);
void fmh_cfg_arena_free(arena *a);
int fmh_cfg_fail(fmh_config_error *err, const char *file, int line, int col, const char *key,
                 const char *expected, const char *got, const char *suggestion, int code,
                 const char *fmt, ...) __attribute__((format(printf, 10, 11)));
int fmh_cfg_oom(fmh_config_error *err, const char *file);
const char *fmh_cfg_closest(const char *name, const char *const *cands, size_t n);
int fmh_cfg_is_null_scalar(const yaml_node_t *n);
const char *fmh_cfg_node_kind(const yaml_node_t *n);
int fmh_cfg_line_of(const yaml_node_t *n);
int fmh_cfg_read_all(const char *path, const char *display, const char *what, char **buf,
                     size_t *len, fmh_config_error *err);
int fmh_cfg_parse_yaml(const char *display, const char *buf, size_t len, yaml_document_t *doc,
                       fmh_config_error *err);
int fmh_cfg_valid_key_name(const char *k);
const char *fmh_cfg_scalar(const yaml_node_t *n);
int fmh_cfg_parse_bool_word(const char *s, int *out);
int fmh_cfg_parse_plain_number(const char *s, double *out);
const char *fmh_cfg_expected_text(arena *a, const fmh_config_key *k);
const char *fmh_cfg_env_name(arena *a, const char *key);
int fmh_cfg_is_section(const fmh_config_schema *s, const char *prefix);
void fmh_cfg_quote_got(char *out, size_t cap, const char *s, size_t len, int secret);
ssize_t fmh_cfg_key_index(const fmh_config_schema *s, const char *key);
void fmh_cfg_names_under(const fmh_config_schema *s, const char *prefix, char *out, size_t cap);
int fmh_cfg_unknown_key(fmh_config_error *err, const fmh_config_schema *s, const char *file, int line,
                        int col, const char *path, const char *written_prefix, const char *written);

/* config_schema.c */
const char *fmh_cfg_display_name(arena *a, const char *cwd, const char *path);
fmh_config_schema *fmh_cfg_schema_load_as(const char *path, const char *display,
                                          fmh_config_error *err);

#endif
