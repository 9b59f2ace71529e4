/* fmhost.gen: a deterministic, random-access data generator.
 *
 * A generator is built from a schema (typed columns with null/edge ratios,
 * distributions and uniqueness) and a seed. Row i is a pure function of
 * (seed, schema, i): every cell draws from a counter-based stream keyed by
 * (seed, column name, row, draw), so rows are produced in O(1) in any order,
 * on any thread, identically on every machine. A built generator is
 * immutable; any number of threads may read it at once, each with its own
 * fmh_gen_cursor (scratch memory).
 *
 * Writers: CSV for LOAD DATA (fmh_gen_load_data_sql gives the matching
 * statement), JSON lines, SQL literals; whole-file writing on N threads
 * with byte-identical output whatever N; and a pull stream (fmh_gen_stream)
 * that any bulk loader's read callback can wrap. */
#ifndef FMHOST_GEN_H
#define FMHOST_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "fmhost/buf.h"
#include "fmhost/error.h"
#include "fmhost/rowsource.h"

typedef enum {
  FMH_GEN_TINYINT, FMH_GEN_SMALLINT, FMH_GEN_MEDIUMINT, FMH_GEN_INT, FMH_GEN_BIGINT,
  FMH_GEN_DECIMAL, FMH_GEN_FLOAT, FMH_GEN_DOUBLE,
  FMH_GEN_CHAR, FMH_GEN_VARCHAR, FMH_GEN_TINYTEXT, FMH_GEN_TEXT, FMH_GEN_MEDIUMTEXT, FMH_GEN_LONGTEXT,
  FMH_GEN_BINARY, FMH_GEN_VARBINARY, FMH_GEN_TINYBLOB, FMH_GEN_BLOB, FMH_GEN_MEDIUMBLOB, FMH_GEN_LONGBLOB,
  FMH_GEN_BOOLEAN, FMH_GEN_DATE, FMH_GEN_TIME, FMH_GEN_DATETIME, FMH_GEN_TIMESTAMP,
  FMH_GEN_JSON, FMH_GEN_ENUM, FMH_GEN_SET,
  FMH_GEN_NTYPES
} fmh_gen_type;

typedef enum { FMH_GEN_UNIFORM, FMH_GEN_SEQUENTIAL, FMH_GEN_ZIPF } fmh_gen_dist;

/* ---- schema: built from key/value strings (Lua tables and YAML alike) --- */

typedef struct fmh_gen_schema fmh_gen_schema;

fmh_gen_schema *fmh_gen_schema_new(void);
void fmh_gen_schema_free(fmh_gen_schema *s);
/* Schema-wide keys: seed, name, time_zone, dst_zone. */
int fmh_gen_schema_set(fmh_gen_schema *s, const char *key, const char *value, fmh_error *err);
/* Add a column; returns its index or -1. */
int fmh_gen_schema_add_column(fmh_gen_schema *s, const char *name, fmh_error *err);
/* Column keys: type ("DECIMAL(22,9)", "INT UNSIGNED", "VARCHAR(64)", ...),
 * unsigned, precision, scale, length, fsp, nullable, null_ratio, edge_ratio,
 * distribution (uniform|sequential|zipf), zipf_n, zipf_s, cardinality,
 * unique, primary_key, min, max, start, step, min_length, max_bytes,
 * charset (utf8|ascii|latin1|cjk|emoji), depth, width, edge_depth, edges
 * (comma-separated names of the edge cases to draw from), values (ENUM/SET
 * members, also fmh_gen_column_add_value). */
int fmh_gen_column_set(fmh_gen_schema *s, int col, const char *key, const char *value, fmh_error *err);
int fmh_gen_column_add_value(fmh_gen_schema *s, int col, const char *value, size_t len, fmh_error *err);
/* Parse a YAML schema file: {name:, seed:, time_zone:, columns: [{name:, type:, ...}]}. */
fmh_gen_schema *fmh_gen_schema_load_yaml(const char *path, fmh_error *err);

/* ---- the generator ------------------------------------------------------ */

typedef struct fmh_gen fmh_gen;

/* Build from a schema (which the caller still frees). seed_set: use seed
 * instead of the schema's own. */
fmh_gen *fmh_gen_new(const fmh_gen_schema *s, int seed_set, uint64_t seed, fmh_error *err);
void fmh_gen_free(fmh_gen *g);

size_t fmh_gen_ncols(const fmh_gen *g);
uint64_t fmh_gen_seed(const fmh_gen *g);
const char *fmh_gen_name(const fmh_gen *g);
const char *fmh_gen_time_zone(const fmh_gen *g);
/* The collation of the generated tables' text columns (utf8mb4). */
const char *fmh_gen_collation(const fmh_gen *g);
/* The first row index that a unique column cannot serve (INT64_MAX when
 * every row can be generated). Rows at or past it fail. */
int64_t fmh_gen_row_limit(const fmh_gen *g);
/* The column list of load statements, "(`a`,`b`)". */
const char *fmh_gen_columns_sql(const fmh_gen *g);
/* The generator as a row source for bulk loads (fmhost/rowsource.h), rows in
 * the load's CSV or SQL form; valid while g is. g NULL (a closed
 * generator): a source whose open() fails with a usage error. */
void fmh_gen_row_source(const fmh_gen *g, fmh_row_source *out);

typedef struct fmh_gen_colinfo {
  const char *name;
  fmh_gen_type type;
  const char *type_name;   /* "BIGINT", "VARCHAR", ... */
  int is_unsigned, precision, scale, length, fsp;
  int nullable, unique, primary_key;
  double null_ratio, edge_ratio;
  fmh_gen_dist dist;
  int64_t zipf_n;
  double zipf_s;
  int64_t cardinality;
  const char *charset;
  size_t max_bytes;        /* text/blob byte cap */
  int min_length;
  int depth, width, edge_depth;
  size_t nvalues;
  const char *const *values;
  const size_t *value_lens;
  size_t nedges;            /* names: fmh_gen_column_edge */
  char sql_type[128];       /* the column type in MariaDB DDL */
  char min[48], max[48], start[48], step[48]; /* "" when not set */
} fmh_gen_colinfo;

void fmh_gen_column_info(const fmh_gen *g, size_t col, fmh_gen_colinfo *out);
/* Cheap accessors for per-row paths. */
const char *fmh_gen_column_name(const fmh_gen *g, size_t col);
fmh_gen_type fmh_gen_column_type(const fmh_gen *g, size_t col);
int fmh_gen_column_fsp(const fmh_gen *g, size_t col);
/* The name of edge case k (0..nedges-1) of a column, or NULL. */
const char *fmh_gen_column_edge(const fmh_gen *g, size_t col, size_t k);
/* CREATE TABLE for the schema (malloc'ed; caller frees). */
char *fmh_gen_create_table_sql(const fmh_gen *g, const char *table);
/* The LOAD DATA statement matching fmh_gen_write(FMH_GEN_CSV) (malloc'ed). */
char *fmh_gen_load_data_sql(const fmh_gen *g, const char *table, const char *path, int local);

/* ---- cells -------------------------------------------------------------- */

typedef enum {
  FMH_GV_NULL, FMH_GV_INT, FMH_GV_UINT, FMH_GV_DOUBLE, FMH_GV_FLOAT, FMH_GV_BOOL,
  FMH_GV_TEXT,    /* UTF-8 text: CHAR..LONGTEXT, ENUM, SET */
  FMH_GV_BYTES,   /* binary: BINARY..LONGBLOB */
  FMH_GV_DECIMAL, /* exact decimal string, canonical: [-]digits[.digits] */
  FMH_GV_JSON,    /* JSON document text */
  FMH_GV_DATE,    /* days since 1970-01-01 */
  FMH_GV_TIME,    /* signed microseconds */
  FMH_GV_DATETIME,  /* microseconds since 1970-01-01 00:00:00, wall clock */
  FMH_GV_TIMESTAMP  /* microseconds since the epoch, UTC */
} fmh_gen_vkind;

typedef struct fmh_gen_value {
  fmh_gen_vkind kind;
  int edge;          /* index into the column's edge list, -1 when not an edge case */
  union {
    int64_t i;       /* INT, BOOL, DATE, TIME, DATETIME, TIMESTAMP */
    uint64_t u;      /* UINT */
    double d;        /* DOUBLE; FLOAT holds the float's exact value */
  } n;
  const char *s;     /* TEXT, BYTES, DECIMAL, JSON: into the cursor's scratch */
  size_t len;
} fmh_gen_value;

/* Per-thread scratch memory; values point into it until the next row. */
typedef struct fmh_gen_cursor fmh_gen_cursor;
fmh_gen_cursor *fmh_gen_cursor_new(const fmh_gen *g);
void fmh_gen_cursor_free(fmh_gen_cursor *c);
/* Generate row `row` into out[ncols]. plain (may be NULL): columns whose
 * flag is set take their plain value (not NULL, no edge case, the type's
 * simplest value), which is how property checks shrink rows.
 * Returns 0, or -1 when the row is past fmh_gen_row_limit. */
int fmh_gen_row(fmh_gen_cursor *c, int64_t row, const unsigned char *plain, fmh_gen_value *out, fmh_error *err);

/* ---- writers ------------------------------------------------------------ */

typedef enum { FMH_GEN_CSV, FMH_GEN_JSONL, FMH_GEN_SQL } fmh_gen_format;

typedef struct fmh_gen_out {
  fmh_gen_format format;
  int json_as_value;  /* JSONL: a JSON column as a nested value (default: as a string) */
  int decimal_as_string; /* JSONL: DECIMAL as a string (default: an exact number literal) */
  int rfc4180; /* CSV: strings quoted with "" doubled and no backslash escapes (what
                  Flink's csv format reads without an escape character); NULL stays
                  the unquoted \N (Flink: 'csv.null-literal' = '\N'). Default: the
                  LOAD DATA dialect (backslash escapes). */
  const unsigned char *plain; /* as in fmh_gen_row, or NULL */
} fmh_gen_out;

/* Format one value as the given writer would (no separators); appends to
 * a growable buffer. */
int fmh_gen_format_value(const fmh_gen *g, size_t col, const fmh_gen_value *v, const fmh_gen_out *o, fmh_buf *b);
/* Append rows [from, to) to b. Returns 0 or -1 (err set). */
int fmh_gen_append(fmh_gen_cursor *c, const fmh_gen_out *o, int64_t from, int64_t to, fmh_buf *b, fmh_error *err);
/* Write rows [from, to) to path with `threads` workers (1..64); the bytes do
 * not depend on the number of threads. Returns bytes written or -1. */
int64_t fmh_gen_write_file(const fmh_gen *g, const fmh_gen_out *o, const char *path, int64_t from, int64_t to,
                           int threads, fmh_error *err);

/* A pull stream of rows [from, to) in a format: read() fills buf with up to
 * cap bytes, returns the count, 0 at the end, -1 on error (err set). With
 * threads > 1 chunks are produced ahead by worker threads. */
typedef struct fmh_gen_stream fmh_gen_stream;
fmh_gen_stream *fmh_gen_stream_new(const fmh_gen *g, const fmh_gen_out *o, int64_t from, int64_t to, int threads,
                                   fmh_error *err);
long fmh_gen_stream_read(fmh_gen_stream *st, char *buf, size_t cap, fmh_error *err);
int64_t fmh_gen_stream_rows(const fmh_gen_stream *st); /* rows fully handed out so far */
void fmh_gen_stream_free(fmh_gen_stream *st);

/* ---- helpers shared with other modules ---------------------------------- */

/* Shortest round-trip decimal text of a double / float; returns the end. */
char *fmh_gen_format_double(char *p, double v);
char *fmh_gen_format_float(char *p, float v);
/* Civil date/time text of the temporal kinds (fsp fraction digits). */
size_t fmh_gen_format_temporal(const fmh_gen *g, fmh_gen_vkind kind, int64_t v, int fsp, char *out);

/* JSON flattening: the values at `paths` ("$.a.b[2]", "a.b.2") of a JSON
 * document. For each path out[k] is set: kind FMH_GV_NULL when the path is
 * absent or holds null; FMH_GV_TEXT for a string (unescaped, into buf);
 * FMH_GV_DECIMAL for a number (its literal text, exact); FMH_GV_BOOL;
 * FMH_GV_JSON for an object or array (its text, verbatim).
 * Returns 0, or -1 when the document or a path is not valid (err set). */
int fmh_gen_flatten(const char *json, size_t len, const char *const *paths, size_t npaths, fmh_gen_value *out,
                    fmh_buf *buf, fmh_error *err);

#endif
