/* fmhost.validate's text: writers into an fmh_buf (printf, quoted
 * identifiers), key samples (copies, display text, SQL literals). Shared by
 * the comparison and the diagnosis; it calls neither. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmhost/validate.h"
#include "validate_int.h"

/* --- buffers ------------------------------------------------------------- */

int fmh_vbuf_printf(fmh_buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (n < 0 || fmh_buf_reserve(b, (size_t)n) != 0) return -1;
  va_start(ap, fmt);
  vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
  va_end(ap);
  b->len += (size_t)n;
  return 0;
}

int fmh_vbuf_ident(fmh_buf *b, const char *name, int dotted) {
  const char *p = name;
  for (;;) {
    const char *dot = dotted ? strchr(p, '.') : NULL;
    size_t n = dot ? (size_t)(dot - p) : strlen(p);
    if (fmh_buf_put(b, "`", 1) != 0) return -1;
    for (size_t i = 0; i < n; i++)
      if (fmh_buf_put(b, p[i] == '`' ? "``" : p + i, p[i] == '`' ? 2 : 1) != 0) return -1;
    if (fmh_buf_put(b, "`", 1) != 0) return -1;
    if (!dot) return 0;
    if (fmh_buf_put(b, ".", 1) != 0) return -1;
    p = dot + 1;
  }
}

/* --- keys ---------------------------------------------------------------- */

void fmh_vkey_free(fmh_vkey *k) {
  for (int i = 0; i < k->n; i++) free(k->parts[i].s);
  free(k->parts);
  k->parts = NULL;
  k->n = 0;
}

int fmh_vkey_copy(fmh_vkey *dst, const fmh_vkey *src) {
  dst->n = 0;
  dst->parts = calloc((size_t)(src->n ? src->n : 1), sizeof *dst->parts);
  if (!dst->parts) return -1;
  for (int i = 0; i < src->n; i++) {
    dst->parts[i] = src->parts[i];
    dst->parts[i].s = NULL;
    if (src->parts[i].kind == FMH_VK_TEXT) {
      dst->parts[i].s = malloc(src->parts[i].len + 1);
      if (!dst->parts[i].s) {
        dst->n = i;
        fmh_vkey_free(dst);
        return -1;
      }
      memcpy(dst->parts[i].s, src->parts[i].s, src->parts[i].len);
      dst->parts[i].s[src->parts[i].len] = '\0';
    }
    dst->n = i + 1;
  }
  return 0;
}

int fmh_vkey_part_from_value(const fmh_value *v, fmh_vkey_part *p) {
  memset(p, 0, sizeof *p);
  switch (v->t) {
    case FMH_V_NULL: p->kind = FMH_VK_NULL; return 0;
    case FMH_V_INT: case FMH_V_BOOL: p->kind = FMH_VK_INT; p->i = v->i; return 0;
    case FMH_V_UINT: p->kind = FMH_VK_UINT; p->u = v->u; return 0;
    case FMH_V_DOUBLE: {
      char b[40];
      int n = snprintf(b, sizeof b, "%.17g", v->d);
      p->kind = FMH_VK_TEXT;
      p->s = strndup(b, (size_t)n);
      p->len = (size_t)n;
      return p->s ? 0 : -1;
    }
    default:
      p->kind = FMH_VK_TEXT;
      p->s = malloc(v->len + 1);
      if (!p->s) return -1;
      memcpy(p->s, v->s, v->len);
      p->s[v->len] = '\0';
      p->len = v->len;
      return 0;
  }
}

void fmh_vbuf_quoted(fmh_buf *b, const char *s, size_t n, size_t cut) {
  fmh_buf_put(b, "'", 1);
  size_t m = n > cut ? cut : n;
  for (size_t i = 0; i < m; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\'' || c == '\\') {
      char e[2] = {'\\', (char)c};
      fmh_buf_put(b, e, 2);
    } else if (c == '\n') fmh_buf_put(b, "\\n", 2);
    else if (c == '\t') fmh_buf_put(b, "\\t", 2);
    else if (c == '\r') fmh_buf_put(b, "\\r", 2);
    else if (c < 0x20 || c == 0x7f) fmh_vbuf_printf(b, "\\x%02x", c);
    else fmh_buf_put(b, (const char *)&s[i], 1);
  }
  if (m < n) fmh_vbuf_printf(b, "...(%zu bytes)", n);
  fmh_buf_put(b, "'", 1);
}

void fmh_vkey_text(const fmh_vkey *k, fmh_buf *b) {
  if (k->n > 1) fmh_buf_put(b, "(", 1);
  for (int i = 0; i < k->n; i++) {
    const fmh_vkey_part *p = &k->parts[i];
    if (i) fmh_buf_put(b, ", ", 2);
    switch (p->kind) {
      case FMH_VK_NULL: fmh_vbuf_puts(b, "NULL"); break;
      case FMH_VK_INT: fmh_vbuf_printf(b, "%" PRId64, p->i); break;
      case FMH_VK_UINT: fmh_vbuf_printf(b, "%" PRIu64, p->u); break;
      case FMH_VK_TEXT: fmh_vbuf_quoted(b, p->s, p->len, 200); break;
    }
  }
  if (k->n > 1) fmh_buf_put(b, ")", 1);
}

int fmh_vbuf_literal(fmh_buf *b, fmh_conn *c, const fmh_vkey_part *p, int binary) {
  switch (p->kind) {
    case FMH_VK_NULL: return fmh_vbuf_puts(b, "NULL");
    case FMH_VK_INT: return fmh_vbuf_printf(b, "%" PRId64, p->i);
    case FMH_VK_UINT: return fmh_vbuf_printf(b, "%" PRIu64, p->u);
    case FMH_VK_TEXT: break;
  }
  if (fmh_buf_reserve(b, p->len * 2 + 16) != 0) return -1;
  if (binary) fmh_vbuf_puts(b, "_binary");
  fmh_buf_put(b, "'", 1);
  unsigned long n = mysql_real_escape_string(fmh_conn_mysql(c), b->p + b->len, p->s, (unsigned long)p->len);
  b->len += n;
  return fmh_buf_put(b, "'", 1);
}
