/* A row source: the one C interface between what produces rows (the
 * generator, host/gen/gen_source.c; the benchmark table, host/pool/pool_bench_rows.c)
 * and what loads them (fmh_pool_load, fmh_source_write_file). Like a
 * sysbench driver, a table of functions with a context: a consumer knows
 * nothing of the producer behind it. Lua-free; in Lua, fmhost.pool's load
 * takes its own bench_source{} or a generator (through fmhost/gen_lua.h). */
#ifndef FMHOST_ROWSOURCE_H
#define FMHOST_ROWSOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "fmhost/error.h"

/* A producer writes rows one at a time in one of two formats:
 *   FMH_ROW_CSV: one line for LOAD DATA with the clause FMH_CSV_CLAUSE
 *     (fields separated by ',', text enclosed in '"', '\\' escaping '"', '\\',
 *     newline as \n, NUL as \0; NULL as \N; the line ends with '\n').
 *   FMH_ROW_SQL: one tuple for a multi-row INSERT, "(1,'a''b',NULL)".
 * next() writes the next row into buf and returns its length; 0 at the end;
 * when the row needs more than cap bytes it returns the size it needs and
 * does not advance (the caller grows buf and calls again). (size_t)-1
 * signals an error, with a message in err (at least 256 bytes). */
enum { FMH_ROW_CSV = 1, FMH_ROW_SQL = 2 };
#define FMH_CSV_CLAUSE \
  "CHARACTER SET utf8mb4 FIELDS TERMINATED BY ',' OPTIONALLY ENCLOSED BY '\"' ESCAPED BY '\\\\' " \
  "LINES TERMINATED BY '\\n'"

typedef struct fmh_row_producer {
  void *ctx;
  size_t (*next)(void *ctx, int format, char *buf, size_t cap, char *err);
  void (*close)(void *ctx);
} fmh_row_producer;

/* A source opens independent producers over key ranges: row i of the data
 * set must be a pure function of i, so threads load disjoint ranges
 * [first, first+count) in parallel. open() must be thread-safe. */
typedef struct fmh_row_source {
  void *ctx;
  const char *columns;   /* "(a,b,c)" for the statements, or NULL for the table's order */
  int (*open)(void *ctx, uint64_t first, uint64_t count, fmh_row_producer *out, fmh_error *e);
} fmh_row_source;

#endif
