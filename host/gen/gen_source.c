/* The generator as a row source (fmhost/rowsource.h): what fmh_pool_load and
 * fmh_source_write_file read when they load generated rows. Each producer
 * has its own cursor over a range of rows, so load threads draw in
 * parallel from one immutable generator. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fmhost/gen.h"
#include "fmhost/rowsource.h"

typedef struct producer {
  fmh_gen_cursor *cur;
  int64_t next, end;
  fmh_buf pending; /* the formatted row not yet handed out */
  int have, fmt;
} producer;

static size_t prod_next(void *ctx, int format, char *buf, size_t cap, char *err) {
  producer *p = ctx;
  if (!p->have || p->fmt != format) {
    if (p->next >= p->end) return 0;
    fmh_gen_out o = {0};
    o.format = format == FMH_ROW_SQL ? FMH_GEN_SQL : FMH_GEN_CSV;
    fmh_error e = {0};
    p->pending.len = 0;
    if (fmh_gen_append(p->cur, &o, p->next, p->next + 1, &p->pending, &e) != 0) {
      size_t n = strnlen(e.msg, 255);
      memcpy(err, e.msg, n);
      err[n] = 0;
      fmh_error_clear(&e);
      return (size_t)-1;
    }
    p->have = 1;
    p->fmt = format;
  }
  if (p->pending.len > cap) return p->pending.len;
  memcpy(buf, p->pending.p, p->pending.len);
  p->have = 0;
  p->next++;
  return p->pending.len;
}

static void prod_close(void *ctx) {
  producer *p = ctx;
  fmh_gen_cursor_free(p->cur);
  fmh_buf_free(&p->pending);
  free(p);
}

static int src_open(void *ctx, uint64_t first, uint64_t count, fmh_row_producer *out, fmh_error *e) {
  const fmh_gen *g = ctx;
  if (!g) {
    fmh_error_set(e, "usage", 0, 0, "the generator is closed");
    return -1;
  }
  if (first > (uint64_t)INT64_MAX || count > (uint64_t)INT64_MAX - first ||
      (int64_t)(first + count) > fmh_gen_row_limit(g)) {
    fmh_error_set(e, "range", 0, 0, "rows %" PRIu64 "..%" PRIu64 " are past the generator's row limit %" PRId64, first,
                  first + count, fmh_gen_row_limit(g));
    return -1;
  }
  producer *p = calloc(1, sizeof *p);
  if (!p || !(p->cur = fmh_gen_cursor_new(g))) {
    free(p);
    fmh_error_set(e, "os", ENOMEM, 0, "out of memory");
    return -1;
  }
  p->next = (int64_t)first;
  p->end = (int64_t)(first + count);
  out->ctx = p;
  out->next = prod_next;
  out->close = prod_close;
  return 0;
}

void fmh_gen_row_source(const fmh_gen *g, fmh_row_source *out) {
  out->ctx = (void *)g;
  out->columns = g ? fmh_gen_columns_sql(g) : NULL;
  out->open = src_open;
}
