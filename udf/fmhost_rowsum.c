/* fmhost_rowsum: an aggregate function for MariaDB (and MySQL) that sums,
 * modulo 2^64, the SipHash-1-3 of each row's packed text under a key the
 * caller passes: the row checksum fmhost computes in C for the rows it reads
 * or generates (fmhost/rowsum.h gives the call, the descriptor and the
 * packing; host/validate/validate_sum_hash.c the other side). With it a
 * server hashes its own rows without printing a value as text and without
 * sending a row: fmhost.validate's hash_at 'udf'.
 *
 * Built as a module beside fmhost (build/fmhost_rowsum.so); the local
 * stack's server loads it from its own plugin_dir. On a server of your own:
 *   cp build/fmhost_rowsum.so "$(mariadb -NBe 'SELECT @@plugin_dir')"
 *   CREATE AGGREGATE FUNCTION IF NOT EXISTS fmhost_rowsum RETURNS INTEGER SONAME 'fmhost_rowsum.so';
 *
 * The server calls init once per query (with the constant descriptor),
 * clear at each group's start, add per row, fmhost_rowsum at each group's
 * end, deinit once. A query's calls come from one thread; several queries
 * run at once, each with its own state. */
#include <mysql.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmhost/rowsum.h"
#include "fmhost/siphash.h"

typedef struct col {
  char code;  /* see fmhost/rowsum.h */
  int digits; /* temporal: the fraction's digits */
} col;

typedef struct state {
  unsigned char key[16];
  unsigned ncols;
  col *cols;
  char *buf;
  size_t cap;
  uint64_t sum;
} state;

/* The exported entry points (the server finds them by name); everything
 * else stays hidden. */
#define EXPORT __attribute__((visibility("default")))
EXPORT my_bool fmhost_rowsum_init(UDF_INIT *initid, UDF_ARGS *args, char *message);
EXPORT void fmhost_rowsum_deinit(UDF_INIT *initid);
EXPORT void fmhost_rowsum_clear(UDF_INIT *initid, char *is_null, char *error);
EXPORT void fmhost_rowsum_add(UDF_INIT *initid, UDF_ARGS *args, char *is_null, char *error);
EXPORT long long fmhost_rowsum(UDF_INIT *initid, UDF_ARGS *args, char *is_null, char *error);

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* message holds MYSQL_ERRMSG_SIZE bytes, of which the server shows 80 after
 * "Can't initialize function 'fmhost_rowsum'; ": each reason fits in 80. */
static my_bool refuse(state *st, char *message, const char *why) {
  snprintf(message, MYSQL_ERRMSG_SIZE, "%s", why);
  if (st) {
    free(st->cols);
    free(st);
  }
  return 1;
}

my_bool fmhost_rowsum_init(UDF_INIT *initid, UDF_ARGS *args, char *message) {
  if (args->arg_count < 1 || args->arg_type[0] != STRING_RESULT || !args->args[0])
    return refuse(NULL, message, "the first argument must be the constant descriptor ('" FMH_ROWSUM_VERSION ":key:codes')");
  const char *d = args->args[0];
  size_t dn = args->lengths[0], vn = strlen(FMH_ROWSUM_VERSION);
  if (dn < vn + 1 || memcmp(d, FMH_ROWSUM_VERSION ":", vn + 1) != 0) {
    size_t shown = 0; /* the other version: up to its ':' */
    while (shown < dn && shown < 16 && d[shown] != ':') shown++;
    char why[160];
    snprintf(why, sizeof why, "reads descriptors of version %s, not '%.*s': a library of another fmhost",
             FMH_ROWSUM_VERSION, (int)shown, d);
    return refuse(NULL, message, why);
  }
  state *st = calloc(1, sizeof *st);
  if (!st) return refuse(NULL, message, "out of memory");
  st->ncols = args->arg_count - 1;
  st->cols = calloc(st->ncols + 1, sizeof *st->cols);
  if (!st->cols) return refuse(st, message, "out of memory");
  d += vn + 1;
  dn -= vn + 1;
  if (dn < 33 || d[32] != ':') return refuse(st, message, "the descriptor's key must be 32 hex digits");
  for (int i = 0; i < 16; i++) {
    int hi = hexval(d[2 * i]), lo = hexval(d[2 * i + 1]);
    if (hi < 0 || lo < 0) return refuse(st, message, "the descriptor's key must be 32 hex digits");
    st->key[i] = (unsigned char)(hi << 4 | lo);
  }
  d += 33;
  dn -= 33;
  unsigned k = 0;
  for (size_t i = 0; i < dn; i++) {
    if (k == st->ncols) return refuse(st, message, "the descriptor names more columns than the arguments that follow it");
    col *c = &st->cols[k];
    c->code = d[i];
    switch (d[i]) {
      case 'i': case 'u': args->arg_type[k + 1] = INT_RESULT; break;
      case 'd': case 'f': args->arg_type[k + 1] = REAL_RESULT; break;
      case 'n': case 's': case 'D': args->arg_type[k + 1] = STRING_RESULT; break;
      case 'T': case 'H':
        if (i + 1 >= dn || d[i + 1] < '0' || d[i + 1] > '6')
          return refuse(st, message, "a T or H code in the descriptor must be followed by the fraction's digits (0-6)");
        c->digits = d[++i] - '0';
        args->arg_type[k + 1] = STRING_RESULT;
        break;
      default: {
        char why[96];
        snprintf(why, sizeof why, "unknown column code '%c' in the descriptor", d[i]);
        return refuse(st, message, why);
      }
    }
    k++;
  }
  if (k != st->ncols) return refuse(st, message, "the descriptor names fewer columns than the arguments that follow it");
  initid->ptr = (char *)st;
  initid->maybe_null = 0;
  initid->const_item = 0;
  return 0;
}

void fmhost_rowsum_deinit(UDF_INIT *initid) {
  state *st = (state *)initid->ptr;
  if (!st) return;
  free(st->cols);
  free(st->buf);
  free(st);
}

void fmhost_rowsum_clear(UDF_INIT *initid, char *is_null, char *error) {
  ((state *)initid->ptr)->sum = 0;
  *is_null = 0;
}

void fmhost_rowsum_add(UDF_INIT *initid, UDF_ARGS *args, char *is_null, char *error) {
  state *st = (state *)initid->ptr;
  size_t need = 1;
  for (unsigned k = 0; k < st->ncols; k++) {
    need += FMH_ROWPACK_MAX + 1;
    if (args->arg_type[k + 1] == STRING_RESULT && args->args[k + 1]) need += args->lengths[k + 1];
  }
  if (need > st->cap) {
    char *nb = realloc(st->buf, need);
    if (!nb) {
      *error = 1;
      return;
    }
    st->buf = nb;
    st->cap = need;
  }
  char *w = st->buf;
  for (unsigned k = 0; k < st->ncols; k++) {
    const col *c = &st->cols[k];
    const char *v = args->args[k + 1];
    if (k) *w++ = '#';
    if (!v) {
      *w++ = 'N';
      continue;
    }
    size_t n = args->lengths[k + 1];
    int64_t us;
    switch (c->code) {
      case 'i': w = fmh_rowpack_i64(w, *(const long long *)v); break;
      case 'u': w = fmh_rowpack_u64(w, (uint64_t) * (const long long *)v); break;
      case 'd': w = fmh_rowpack_double(w, *(const double *)v); break;
      case 'f': w = fmh_rowpack_double(w, (double)(float)*(const double *)v); break;
      case 's': w = fmh_rowpack_string(w, v, n); break;
      case 'D': case 'T': case 'H':
        if (fmh_rowpack_parse_temporal(v, n, c->code, c->digits, &us)) {
          w = fmh_rowpack_temporal(w, c->code, c->digits, us);
          break;
        }
        /* a value only its text tells apart: its text */
        /* fall through */
      default: /* 'n': DECIMAL text */
        memcpy(w, v, n);
        w += n;
    }
  }
  st->sum += fmh_siphash13(st->key, st->buf, (size_t)(w - st->buf));
}

long long fmhost_rowsum(UDF_INIT *initid, UDF_ARGS *args, char *is_null, char *error) {
  *is_null = 0;
  return (long long)((state *)initid->ptr)->sum;
}
