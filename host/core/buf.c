/* The growable byte buffer (see fmhost/buf.h): doubling from 256 bytes. */
#include "fmhost/buf.h"

#include <stdlib.h>
#include <string.h>

int fmh_buf_grow(fmh_buf *b, size_t more) {
  if (b->len + more < b->cap) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap <= b->len + more) cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) return -1;
  b->p = p;
  b->cap = cap;
  return 0;
}

int fmh_buf_put(fmh_buf *b, const char *s, size_t n) {
  if (fmh_buf_reserve(b, n) != 0) return -1;
  if (n) memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
  return 0;
}

void fmh_buf_putn(fmh_buf *b, const char *s, size_t n) {
  if (fmh_buf_put(b, s, n) != 0) abort(); /* out of memory: nothing sensible remains */
}

void fmh_buf_puts(fmh_buf *b, const char *s) { fmh_buf_putn(b, s, strlen(s)); }

void fmh_buf_free(fmh_buf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}
