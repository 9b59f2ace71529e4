/* The growable byte buffer every primitive builds text and rows in (log
 * lines, generated rows, JSON, HTTP bodies, a child's captured output).
 * A zeroed fmh_buf is empty and valid; p holds len bytes and, once it
 * exists, room for one more, so a writer can end the text with a NUL (the
 * put functions always do).
 *
 * One mechanism, two ways to fail: fmh_buf_reserve and fmh_buf_put return
 * -1 when memory runs out, for callers that report it; fmh_buf_putn and
 * fmh_buf_puts abort, for text (a log line, a URL) whose caller has no way
 * to report it. */
#ifndef FMHOST_BUF_H
#define FMHOST_BUF_H

#include <stddef.h>

typedef struct { char *p; size_t len, cap; } fmh_buf;

/* Room for `more` bytes (and a NUL) after len; -1: out of memory. */
int fmh_buf_grow(fmh_buf *b, size_t more);
/* The common case inline: writers of generated rows call this per value. */
static inline int fmh_buf_reserve(fmh_buf *b, size_t more) {
  return b->len + more < b->cap ? 0 : fmh_buf_grow(b, more);
}
/* Append n bytes and a NUL; -1: out of memory (b unchanged). */
int fmh_buf_put(fmh_buf *b, const char *s, size_t n);
/* Append, aborting when memory runs out. */
void fmh_buf_putn(fmh_buf *b, const char *s, size_t n);
void fmh_buf_puts(fmh_buf *b, const char *s);
void fmh_buf_free(fmh_buf *b);

#endif
