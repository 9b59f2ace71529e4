/* JSON for the generator: documents for JSON columns (nested objects and
 * arrays, keys in several scripts and with the characters that break path
 * syntax, numbers beyond double and int64), their edge cases, string
 * escaping for the writers, and flattening a document to values by paths.
 *
 * Flattening reads numbers as their literal text (never through a double),
 * so a 30-digit integer comes out exactly as written. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gen_int.h"

static int put(fmh_buf *b, const char *s, size_t n) {
  if (fmh_buf_reserve(b, n) != 0) return -1;
  memcpy(b->p + b->len, s, n);
  b->len += n;
  return 0;
}
static int puts_(fmh_buf *b, const char *s) { return put(b, s, strlen(s)); }

int fmh_gen_json_string(fmh_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  if (fmh_buf_reserve(b, n * 6 + 2) != 0) return -1;
  char *o = b->p + b->len;
  *o++ = '"';
  for (size_t k = 0; k < n; k++) {
    unsigned char ch = (unsigned char)s[k];
    if (ch >= 0x20 && ch != '"' && ch != '\\') { *o++ = (char)ch; continue; }
    *o++ = '\\';
    switch (ch) {
      case '"': *o++ = '"'; break;
      case '\\': *o++ = '\\'; break;
      case '\n': *o++ = 'n'; break;
      case '\r': *o++ = 'r'; break;
      case '\t': *o++ = 't'; break;
      case '\b': *o++ = 'b'; break;
      case '\f': *o++ = 'f'; break;
      default:
        *o++ = 'u'; *o++ = '0'; *o++ = '0';
        *o++ = hex[ch >> 4]; *o++ = hex[ch & 15];
    }
  }
  *o++ = '"';
  b->len = (size_t)(o - b->p);
  return 0;
}

/* ---- generation ---------------------------------------------------------- */

static const char *const keys[] = {
    "id", "name", "value", "tags", "items", "price", "qty", "note", "created", "active",
    "\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87",          /* ключ */
    "\xe5\x90\x8d\xe5\x89\x8d",                  /* 名前 */
    "emoji\xf0\x9f\x98\x80",                     /* emoji😀 */
    "\xc3\xbc" "n" "\xc3\xaf" "c" "\xc3\xb6" "d" "\xc3\xa9", /* ünïcödé */
    "a b", "with\"quote", "back\\slash", "tab\tkey", "", "a.b", "$", "x",
    "\xd9\x85\xd9\x81\xd8\xaa\xd8\xa7\xd8\xad",  /* مفتاح */
};
#define NKEYS (sizeof keys / sizeof keys[0])

static const char *const words[] = {
    "plain", "caf\xc3\xa9", "\xe4\xb8\xad\xe6\x96\x87", "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d", "\xf0\x9f\x98\x80",
    "line\nbreak", "tab\there", "quote\"d", "back\\slash", "ctl\x01\x1f", "e\xcc\x81", "",
    "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd", "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82", "NULL", "\\N",
};
#define NWORDS (sizeof words / sizeof words[0])

static int digits(fmh_buf *b, fmh_rng *r, int n, int lead_nonzero) {
  if (fmh_buf_reserve(b, (size_t)n + 20) != 0) return -1;
  for (int k = 0; k < n;) {
    uint64_t x = fmh_rng_next(r) % 1000000000000000000ull;
    char tmp[18];
    fmh_fmt_digits(tmp, x, 18);
    int m = n - k < 18 ? n - k : 18;
    memcpy(b->p + b->len, tmp, (size_t)m);
    if (k == 0 && lead_nonzero && b->p[b->len] == '0') b->p[b->len] = '1' + (char)(x % 9);
    b->len += (size_t)m;
    k += m;
  }
  return 0;
}

static int json_value(const gcol *c, fmh_rng *r, int depth_left, fmh_buf *b);

static int json_object(const gcol *c, fmh_rng *r, int depth_left, int min_members, fmh_buf *b) {
  int n = min_members + (int)fmh_rng_below(r, (uint64_t)(c->width - min_members + 1));
  if (n > (int)NKEYS) n = (int)NKEYS;
  size_t first = (size_t)fmh_rng_below(r, NKEYS);
  if (put(b, "{", 1) != 0) return -1;
  for (int k = 0; k < n; k++) {
    const char *key = keys[(first + (size_t)k) % NKEYS]; /* distinct keys */
    if (k && put(b, ",", 1) != 0) return -1;
    if (fmh_gen_json_string(b, key, strlen(key)) != 0 || put(b, ":", 1) != 0) return -1;
    if (json_value(c, r, depth_left - 1, b) != 0) return -1;
  }
  return put(b, "}", 1);
}

static int json_array(const gcol *c, fmh_rng *r, int depth_left, fmh_buf *b) {
  int n = (int)fmh_rng_below(r, (uint64_t)c->width + 1);
  if (put(b, "[", 1) != 0) return -1;
  for (int k = 0; k < n; k++) {
    if (k && put(b, ",", 1) != 0) return -1;
    if (json_value(c, r, depth_left - 1, b) != 0) return -1;
  }
  return put(b, "]", 1);
}

static int json_value(const gcol *c, fmh_rng *r, int depth_left, fmh_buf *b) {
  unsigned sel = (unsigned)fmh_rng_below(r, 100);
  if (sel >= 78 && depth_left <= 1) sel = sel % 40; /* no room for containers */
  if (sel < 25) {
    /* a word with escapes, or an emoji written as a surrogate pair */
    if (sel == 0) return puts_(b, "\"\\ud83d\\ude00 \\u00e9\\u4e2d\"");
    const char *w = words[fmh_rng_below(r, NWORDS)];
    return fmh_gen_json_string(b, w, strlen(w));
  }
  if (sel < 40) {
    int n = 1 + (int)fmh_rng_below(r, 18);
    if ((fmh_rng_next(r) & 1) && put(b, "-", 1) != 0) return -1;
    return digits(b, r, n, 1);
  }
  if (sel < 45) {
    int n = 20 + (int)fmh_rng_below(r, 21);
    if ((fmh_rng_next(r) & 1) && put(b, "-", 1) != 0) return -1;
    return digits(b, r, n, 1);
  }
  if (sel < 55) {
    if ((fmh_rng_next(r) & 1) && put(b, "-", 1) != 0) return -1;
    if (digits(b, r, 1 + (int)fmh_rng_below(r, 10), 1) != 0 || put(b, ".", 1) != 0) return -1;
    return digits(b, r, 1 + (int)fmh_rng_below(r, 25), 0);
  }
  if (sel < 65) {
    uint64_t x = fmh_rng_next(r);
    int e = (int)fmh_rng_below(r, 161) - 80;
    uint64_t bits = ((uint64_t)(1023 + e) << 52) | (x & 0xfffffffffffffull) | (x & 0x8000000000000000ull);
    double d;
    memcpy(&d, &bits, 8);
    if (fmh_buf_reserve(b, 32) != 0) return -1;
    b->len = (size_t)(fmh_gen_fmt_double(b->p + b->len, d) - b->p);
    return 0;
  }
  if (sel < 73) return (fmh_rng_next(r) & 1) ? puts_(b, "true") : puts_(b, "false");
  if (sel < 78) return puts_(b, "null");
  if (sel < 89) return json_object(c, r, depth_left, 0, b);
  return json_array(c, r, depth_left, b);
}

int fmh_gen_json_doc(const gcol *c, fmh_rng *r, fmh_buf *b) {
  return json_object(c, r, c->depth, 1, b);
}

int fmh_gen_json_edge(const gcol *c, const char *name, fmh_rng *r, fmh_buf *b) {
  if (!strcmp(name, "empty_object")) return puts_(b, "{}");
  if (!strcmp(name, "empty_array")) return puts_(b, "[]");
  if (!strcmp(name, "null_literal")) return puts_(b, "null");
  if (!strcmp(name, "deep")) {
    /* edge_depth levels, objects and arrays alternating */
    int d = c->edge_depth;
    for (int k = 0; k < d; k++)
      if (puts_(b, k % 2 ? "[" : "{\"d\":") != 0) return -1;
    if (puts_(b, "\"leaf\"") != 0) return -1;
    for (int k = d - 1; k >= 0; k--)
      if (puts_(b, k % 2 ? "]" : "}") != 0) return -1;
    return 0;
  }
  if (!strcmp(name, "big_numbers"))
    return puts_(b, "{\"big\":123456789012345678901234567890,\"neg\":-98765432109876543210987654321,"
                    "\"i64_max_plus_one\":9223372036854775808,\"u64_max\":18446744073709551615,"
                    "\"int53_plus_one\":9007199254740993,\"dec\":0.1000000000000000000000000001,"
                    "\"tiny\":1e-400,\"huge\":1.5e308,\"over\":1E+400,\"neg_zero\":-0,\"exp\":-2.5E-3}");
  if (!strcmp(name, "unicode"))
    return puts_(b, "{\"emoji\":\"\xf0\x9f\x98\x80\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd\",\"escaped\":\"\\ud83d\\ude00\","
                    "\"combining\":\"e\xcc\x81\",\"rtl\":\"\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7\","
                    "\"cjk\":\"\xe4\xb8\xad\xe6\x96\x87\xe5\xad\x97\",\"controls\":\"\\u0000\\t\\n\\\"\\\\\\u001f\","
                    "\"\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87\":\"\xd0\xb7\xd0\xbd\xd0\xb0\xd1\x87\xd0\xb5\xd0\xbd\xd0\xb8\xd0\xb5\","
                    "\"a.b\":{\"$\":[\"x\"]},\"\":\"empty key\"}");
  if (!strcmp(name, "scalar")) {
    const char *w = words[fmh_rng_below(r, NWORDS)];
    return fmh_gen_json_string(b, w, strlen(w));
  }
  return puts_(b, "{}");
}

/* ---- parsing for flatten ------------------------------------------------- */

typedef struct {
  const char *p, *end;
  int depth;
  const char *err;
} jp;

static void ws(jp *j) {
  while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static int hex4(const char *p, unsigned *out) {
  unsigned v = 0;
  for (int k = 0; k < 4; k++) {
    char ch = p[k];
    v <<= 4;
    if (ch >= '0' && ch <= '9') v |= (unsigned)(ch - '0');
    else if (ch >= 'a' && ch <= 'f') v |= (unsigned)(ch - 'a' + 10);
    else if (ch >= 'A' && ch <= 'F') v |= (unsigned)(ch - 'A' + 10);
    else return -1;
  }
  *out = v;
  return 0;
}

/* a string at j->p (on the quote); decoded into out when out != NULL */
static int jstring(jp *j, fmh_buf *out) {
  if (j->p >= j->end || *j->p != '"') { j->err = "expected a string"; return -1; }
  j->p++;
  while (j->p < j->end) {
    unsigned char ch = (unsigned char)*j->p;
    if (ch == '"') { j->p++; return 0; }
    if (ch < 0x20) { j->err = "a control character inside a string"; return -1; }
    if (ch != '\\') {
      const char *s = j->p;
      while (j->p < j->end && *j->p != '"' && *j->p != '\\' && (unsigned char)*j->p >= 0x20) j->p++;
      if (out && put(out, s, (size_t)(j->p - s)) != 0) { j->err = "out of memory"; return -1; }
      continue;
    }
    if (j->p + 1 >= j->end) break;
    char e = j->p[1];
    j->p += 2;
    char one = 0;
    switch (e) {
      case '"': one = '"'; break;
      case '\\': one = '\\'; break;
      case '/': one = '/'; break;
      case 'b': one = '\b'; break;
      case 'f': one = '\f'; break;
      case 'n': one = '\n'; break;
      case 'r': one = '\r'; break;
      case 't': one = '\t'; break;
      case 'u': {
        unsigned cp;
        if (j->end - j->p < 4 || hex4(j->p, &cp) != 0) { j->err = "a bad \\u escape"; return -1; }
        j->p += 4;
        if (cp >= 0xd800 && cp <= 0xdbff) {
          unsigned lo;
          if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u' || hex4(j->p + 2, &lo) != 0 || lo < 0xdc00 ||
              lo > 0xdfff) {
            j->err = "a lone surrogate in a \\u escape";
            return -1;
          }
          j->p += 6;
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        } else if (cp >= 0xdc00 && cp <= 0xdfff) {
          j->err = "a lone surrogate in a \\u escape";
          return -1;
        }
        char tmp[4];
        size_t n = fmh_utf8_put(tmp, cp);
        if (out && put(out, tmp, n) != 0) { j->err = "out of memory"; return -1; }
        continue;
      }
      default: j->err = "a bad escape"; return -1;
    }
    if (out && put(out, &one, 1) != 0) { j->err = "out of memory"; return -1; }
  }
  j->err = "an unterminated string";
  return -1;
}

static int jnumber(jp *j) {
  const char *p = j->p;
  if (p < j->end && *p == '-') p++;
  if (p >= j->end) goto bad;
  if (*p == '0') p++;
  else if (*p >= '1' && *p <= '9') while (p < j->end && *p >= '0' && *p <= '9') p++;
  else goto bad;
  if (p < j->end && *p == '.') {
    p++;
    if (p >= j->end || !(*p >= '0' && *p <= '9')) goto bad;
    while (p < j->end && *p >= '0' && *p <= '9') p++;
  }
  if (p < j->end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < j->end && (*p == '+' || *p == '-')) p++;
    if (p >= j->end || !(*p >= '0' && *p <= '9')) goto bad;
    while (p < j->end && *p >= '0' && *p <= '9') p++;
  }
  j->p = p;
  return 0;
bad:
  j->err = "a bad number";
  return -1;
}

static int jskip(jp *j) {
  ws(j);
  if (j->p >= j->end) { j->err = "unexpected end"; return -1; }
  char ch = *j->p;
  if (ch == '"') return jstring(j, NULL);
  if (ch == '{' || ch == '[') {
    if (++j->depth > 10000) { j->err = "nesting deeper than 10000"; return -1; }
    char close = ch == '{' ? '}' : ']';
    j->p++;
    ws(j);
    if (j->p < j->end && *j->p == close) { j->p++; j->depth--; return 0; }
    for (;;) {
      if (ch == '{') {
        ws(j);
        if (jstring(j, NULL) != 0) return -1;
        ws(j);
        if (j->p >= j->end || *j->p != ':') { j->err = "expected ':'"; return -1; }
        j->p++;
      }
      if (jskip(j) != 0) return -1;
      ws(j);
      if (j->p < j->end && *j->p == ',') { j->p++; continue; }
      if (j->p < j->end && *j->p == close) { j->p++; j->depth--; return 0; }
      j->err = ch == '{' ? "expected ',' or '}'" : "expected ',' or ']'";
      return -1;
    }
  }
  if (ch == '-' || (ch >= '0' && ch <= '9')) return jnumber(j);
  size_t left = (size_t)(j->end - j->p);
  if (left >= 4 && !memcmp(j->p, "true", 4)) { j->p += 4; return 0; }
  if (left >= 5 && !memcmp(j->p, "false", 5)) { j->p += 5; return 0; }
  if (left >= 4 && !memcmp(j->p, "null", 4)) { j->p += 4; return 0; }
  j->err = "unexpected character";
  return -1;
}

/* one path step: a key (object member) or an index; digits-only keys of
 * the short form match both */
typedef struct {
  char key[256];
  size_t klen;
  long index;  /* -1: key only */
  int is_key;  /* 0: index only ([N]) */
} step;

static int parse_path(const char *path, step *steps, int cap, int *n) {
  const char *p = path;
  *n = 0;
  int dollar = *p == '$';
  if (dollar) p++;
  if (!dollar) {
    /* short form: a.b.2 */
    while (*p) {
      if (*n >= cap) return -1;
      step *s = &steps[(*n)++];
      const char *e = strchr(p, '.');
      size_t l = e ? (size_t)(e - p) : strlen(p);
      if (l >= sizeof s->key) return -1;
      memcpy(s->key, p, l);
      s->key[l] = 0;
      s->klen = l;
      s->is_key = 1;
      s->index = -1;
      int alld = l > 0;
      for (size_t k = 0; k < l; k++) alld &= p[k] >= '0' && p[k] <= '9';
      if (alld && l < 10) s->index = atol(s->key);
      p += l;
      if (*p == '.') { p++; if (!*p) return -1; }
    }
    return 0;
  }
  while (*p) {
    if (*n >= cap) return -1;
    step *s = &steps[*n];
    if (*p == '.') {
      p++;
      s->is_key = 1;
      s->index = -1;
      if (*p == '"') {
        jp j = {p, p + strlen(p), 0, NULL};
        fmh_buf tmp = {0};
        if (jstring(&j, &tmp) != 0 || tmp.len >= sizeof s->key) { fmh_buf_free(&tmp); return -1; }
        if (tmp.len) memcpy(s->key, tmp.p, tmp.len);
        s->klen = tmp.len;
        s->key[s->klen] = 0;
        fmh_buf_free(&tmp);
        p = j.p;
      } else {
        size_t l = strcspn(p, ".[");
        if (l == 0 || l >= sizeof s->key) return -1;
        memcpy(s->key, p, l);
        s->key[l] = 0;
        s->klen = l;
        p += l;
      }
    } else if (*p == '[') {
      char *end;
      long ix = strtol(p + 1, &end, 10);
      if (end == p + 1 || *end != ']' || ix < 0) return -1;
      s->is_key = 0;
      s->index = ix;
      s->klen = 0;
      p = end + 1;
    } else {
      return -1;
    }
    (*n)++;
  }
  return 0;
}

/* find the value at steps[0..n) below j->p; leaves j->p on it, or returns 1 when absent */
static int jfind(jp *j, const step *steps, int n, fmh_buf *scratch) {
  for (int k = 0; k < n; k++) {
    ws(j);
    if (j->p >= j->end) return 1;
    const step *s = &steps[k];
    if (*j->p == '{' && s->is_key) {
      j->p++;
      ws(j);
      if (*j->p == '}') return 1;
      int found = 0;
      for (;;) {
        ws(j);
        scratch->len = 0;
        if (jstring(j, scratch) != 0) return -1;
        ws(j);
        if (*j->p != ':') { j->err = "expected ':'"; return -1; }
        j->p++;
        ws(j);
        if (scratch->len == s->klen && (s->klen == 0 || !memcmp(scratch->p, s->key, s->klen))) { found = 1; break; }
        if (jskip(j) != 0) return -1;
        ws(j);
        if (*j->p == ',') { j->p++; continue; }
        break;
      }
      if (!found) return 1;
    } else if (*j->p == '[' && s->index >= 0) {
      j->p++;
      ws(j);
      if (*j->p == ']') return 1;
      long at = 0;
      while (at < s->index) {
        if (jskip(j) != 0) return -1;
        ws(j);
        if (*j->p != ',') return 1;
        j->p++;
        at++;
      }
      ws(j);
    } else {
      return 1;
    }
  }
  ws(j);
  return 0;
}

int fmh_gen_flatten(const char *json, size_t len, const char *const *paths, size_t npaths, fmh_gen_value *out,
                    fmh_buf *buf, fmh_error *err) {
  jp j = {json, json + len, 0, NULL};
  if (jskip(&j) != 0 || (ws(&j), j.p != j.end)) {
    fmh_error_set(err, "json", 0, 0, "not a JSON document: %s at byte %zu", j.err ? j.err : "trailing text",
                  (size_t)(j.p - json));
    return -1;
  }
  fmh_buf scratch = {0};
  size_t *offs = calloc(npaths ? npaths : 1, sizeof(size_t));
  if (!offs) { fmh_error_set(err, "os", ENOMEM, 0, "out of memory"); return -1; }
  buf->len = 0;
  int rc = 0;
  for (size_t k = 0; k < npaths && rc == 0; k++) {
    step steps[64];
    int n;
    out[k].edge = -1;
    out[k].s = NULL;
    out[k].len = 0;
    offs[k] = SIZE_MAX;
    if (parse_path(paths[k], steps, 64, &n) != 0) {
      fmh_error_set(err, "json", 0, 0, "cannot read path '%s' (use $.a.b[2], $.\"a.b\" or a.b.2)", paths[k]);
      rc = -1;
      break;
    }
    jp w = {json, json + len, 0, NULL};
    int f = jfind(&w, steps, n, &scratch);
    if (f < 0) { fmh_error_set(err, "json", 0, 0, "path '%s': %s", paths[k], w.err ? w.err : "?"); rc = -1; break; }
    if (f == 1 || (w.end - w.p >= 4 && !memcmp(w.p, "null", 4))) { out[k].kind = FMH_GV_NULL; continue; }
    char ch = *w.p;
    size_t start = buf->len;
    if (ch == '"') {
      if (jstring(&w, buf) != 0) { fmh_error_set(err, "json", 0, 0, "path '%s': %s", paths[k], w.err); rc = -1; break; }
      out[k].kind = FMH_GV_TEXT;
    } else if (ch == 't' || ch == 'f') {
      out[k].kind = FMH_GV_BOOL;
      out[k].n.i = ch == 't';
      continue;
    } else {
      const char *s = w.p;
      if (jskip(&w) != 0) { fmh_error_set(err, "json", 0, 0, "path '%s': %s", paths[k], w.err); rc = -1; break; }
      if (put(buf, s, (size_t)(w.p - s)) != 0) { fmh_error_set(err, "os", ENOMEM, 0, "out of memory"); rc = -1; break; }
      out[k].kind = (ch == '{' || ch == '[') ? FMH_GV_JSON : FMH_GV_DECIMAL;
    }
    offs[k] = start;
    out[k].len = buf->len - start;
  }
  if (rc == 0)
    for (size_t k = 0; k < npaths; k++)
      if (offs[k] != SIZE_MAX) out[k].s = buf->p ? buf->p + offs[k] : "";
  free(offs);
  fmh_buf_free(&scratch);
  return rc;
}
