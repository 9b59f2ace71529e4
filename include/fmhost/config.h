/* fmhost's configuration, usable from plain C.
 *
 * The schema (config/schema.yaml) declares every key once: its type, range,
 * whether it is required or secret, and a one-line doc. A load reads
 * <dir>/default.yaml, then <dir>/<env>.yaml when an environment is named,
 * then FMHOST_<KEY> environment variables, then "key=value" overrides, and
 * checks every value against the schema whatever its origin. A failure
 * leaves one precise line in fmh_config_error.e.msg:
 *   config/ci.yaml:4: mysql.port: expected a port 1..65535, got '70000'
 * and the parts of that line in the other fields. A loaded configuration is
 * immutable and may be read from any thread. */
#ifndef FMHOST_CONFIG_H
#define FMHOST_CONFIG_H

#include <stddef.h>

#include "fmhost/error.h"

typedef enum fmh_config_type {
  FMH_CFG_STRING,
  FMH_CFG_INT,
  FMH_CFG_BOOL,
  FMH_CFG_NUMBER,
  FMH_CFG_PORT,
  FMH_CFG_PATH,
  FMH_CFG_DURATION_MS,
  FMH_CFG_ENUM
} fmh_config_type;

/* One key of the schema. */
typedef struct fmh_config_key {
  const char *key;           /* dotted path, "mysql.port" */
  fmh_config_type type;
  const char *type_name;     /* "port" */
  int has_min, has_max;
  double min, max;           /* range of int, number, duration_ms, port */
  const char *const *values; /* enum words */
  size_t nvalues;
  int required;              /* some layer must set it */
  int secret;                /* never shown */
  const char *when_empty;    /* template an empty string stands for, or NULL */
  const char *doc;
  const char *env;           /* "FMHOST_MYSQL_PORT", or NULL when that name is reserved */
  const char *expected;      /* "a port 1..65535": what a value must be, in words */
  int line;                  /* where schema.yaml declares it */
} fmh_config_key;

/* The value of one key after all layers. */
typedef struct fmh_config_value {
  const fmh_config_key *spec;
  int set;                   /* 0: an optional key no layer set */
  const char *text;          /* canonical text: strings as they are, paths
                                absolute, numbers in decimal, true/false */
  long long i;               /* int, port, duration_ms (milliseconds); bool as 0/1 */
  double n;                  /* number; also the integer types as a double */
  const char *origin;        /* "config/default.yaml:12", "environment FMHOST_MYSQL_PORT", "--set" */
  const char *file;          /* the file part of origin (or the origin itself) */
  int line;                  /* 0 for the environment and --set */
} fmh_config_value;

/* A failure: e.msg is the whole line, e.kind is "config"; e.code an errno
 * for an unreadable file. Empty strings / 0 where a part does not apply. */
typedef struct fmh_config_error {
  fmh_error e;
  char file[512];            /* file name, "environment FMHOST_X" or "--set" */
  int line, column;
  char key[256];             /* the dotted key path concerned */
  char expected[512];        /* what was expected, in words */
  char got[256];             /* what was found (secrets as ***) */
  char suggestion[256];      /* closest valid key or word, full dotted path for keys */
} fmh_config_error;

typedef struct fmh_config_schema fmh_config_schema;
typedef struct fmh_config fmh_config;

typedef struct fmh_config_opts {
  const char *dir;           /* holds default.yaml and <env>.yaml */
  const char *schema;        /* schema file; NULL: <dir>/schema.yaml */
  const char *root;          /* base of relative paths; NULL: the parent of dir */
  const char *env;           /* overlay name; NULL or "": none. A named overlay must exist. */
  const char *const *set;    /* "key=value" overrides, applied last, in order */
  size_t nset;
  int use_environ;           /* read FMHOST_<KEY> variables */
  const char *const *environ_list; /* with use_environ: "NAME=value" strings,
                                      NULL-terminated, instead of the process's */
} fmh_config_opts;

/* The names of FMHOST_* variables that are never configuration keys. */
extern const char *const fmh_config_reserved_env[];

fmh_config_schema *fmh_config_schema_load(const char *path, fmh_config_error *err);
size_t fmh_config_schema_count(const fmh_config_schema *s);
const fmh_config_key *fmh_config_schema_at(const fmh_config_schema *s, size_t i);
const fmh_config_key *fmh_config_schema_find(const fmh_config_schema *s, const char *key);
void fmh_config_schema_free(fmh_config_schema *s);

/* NULL on failure, with err filled (err may be NULL). */
fmh_config *fmh_config_load(const fmh_config_opts *o, fmh_config_error *err);
void fmh_config_free(fmh_config *c);

const fmh_config_schema *fmh_config_schema_of(const fmh_config *c);
/* The environment overlay loaded, or NULL. */
const char *fmh_config_env(const fmh_config *c);
/* Values in schema order; get returns NULL for a key not in the schema. */
size_t fmh_config_count(const fmh_config *c);
const fmh_config_value *fmh_config_at(const fmh_config *c, size_t i);
const fmh_config_value *fmh_config_get(const fmh_config *c, const char *key);

/* Typed reads with a default for unknown or unset keys. */
long long fmh_config_int(const fmh_config *c, const char *key, long long def);
double fmh_config_num(const fmh_config *c, const char *key, double def);
int fmh_config_bool(const fmh_config *c, const char *key, int def);
const char *fmh_config_str(const fmh_config *c, const char *key, const char *def);

/* Warnings of a successful load, one line each: FMHOST_* variables that
 * set no key but are close to a name that would (a typo, otherwise
 * silently ignored). */
size_t fmh_config_warning_count(const fmh_config *c);
const char *fmh_config_warning(const fmh_config *c, size_t i);

/* "key = value    (origin)" lines, secrets as ***; malloc'ed, free() it. */
char *fmh_config_format(const fmh_config *c);

/* Restricted Damerau-Levenshtein distance, case-insensitive (for "did you mean"). */
size_t fmh_config_distance(const char *a, const char *b);

#endif
