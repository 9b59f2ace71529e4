/* fmhost.flink: the SQL Gateway REST API v2 as C calls: sessions,
 * statements, operations and their result pages (with exact DECIMALs). */
#include "fmhost/flink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flink_int.h"

/* ---- SQL Gateway ------------------------------------------------------- */

json_t *fmh_flink_gateway_info(fmh_flink *c, fmh_error *err) {
  return fmh_flink_gw_obj(c, "GET", fmh_flink_xstrdup("/v1/info"), NULL, 0, err);
}

int fmh_flink_session_open(fmh_flink *c, const char *name, const json_t *properties,
                           char **handle, fmh_error *err) {
  *handle = NULL;
  json_t *body = json_object();
  if (name) json_object_set_new(body, "sessionName", json_string(name));
  json_object_set_new(body, "properties",
                      properties ? json_incref((json_t *)properties) : json_object());
  json_t *r = fmh_flink_gw_obj(c, "POST", fmh_flink_xstrdup("/v2/sessions"), body, 0, err);
  json_decref(body);
  if (!r) return -1;
  int rc = fmh_flink_need_str(r, "sessionHandle", "POST /v2/sessions", handle, err);
  json_decref(r);
  return rc;
}

int fmh_flink_session_close(fmh_flink *c, const char *sh, long timeout_ms, fmh_error *err) {
  json_t *r = fmh_flink_gw_obj(c, "DELETE", fmh_flink_path_of("/v2/sessions/%s", sh), NULL, timeout_ms, err);
  if (!r) return -1;
  json_decref(r);
  return 0;
}

int fmh_flink_session_heartbeat(fmh_flink *c, const char *sh, fmh_error *err) {
  char *p = fmh_flink_path_of("/v2/sessions/%s/heartbeat", sh);
  json_t *body = json_object();
  json_t *r = fmh_flink_gateway(c, "POST", p, body, 0, err);
  json_decref(body);
  free(p);
  if (!r) return -1;
  json_decref(r);
  return 0;
}

int fmh_flink_statement(fmh_flink *c, const char *sh, const char *sql, const json_t *exec_config,
                        long exec_timeout_ms, char **op, fmh_error *err) {
  *op = NULL;
  json_t *body = json_pack("{s:s}", "statement", sql);
  if (!body) {
    fmh_error_set(err, "config", 0, 0, "the statement is not valid UTF-8");
    return -1;
  }
  if (exec_config) json_object_set(body, "executionConfig", (json_t *)exec_config);
  if (exec_timeout_ms > 0) json_object_set_new(body, "executionTimeout", json_integer(exec_timeout_ms));
  json_t *r = fmh_flink_gw_obj(c, "POST", fmh_flink_path_of("/v2/sessions/%s/statements", sh), body, 0, err);
  json_decref(body);
  if (!r) return -1;
  int rc = fmh_flink_need_str(r, "operationHandle", "POST /v2/sessions/:sh/statements", op, err);
  json_decref(r);
  return rc;
}

static int op_call(fmh_flink *c, const char *method, const char *sh, const char *op,
                   const char *verb, long timeout_ms, char *status, size_t n, fmh_error *err) {
  char fmt[64];
  snprintf(fmt, sizeof fmt, "/v2/sessions/%%s/operations/%%s/%s", verb);
  /* the format holds only %s segment markers, filled by path_of */
  fmh_buf b = {0};
  const char *segs[2] = {sh, op};
  int k = 0;
  for (const char *p = fmt; *p; p++) {
    if (p[0] == '%' && p[1] == 's' && k < 2) {
      fmh_flink_put_segment(&b, segs[k++]);
      p++;
    } else {
      fmh_buf_putn(&b, p, 1);
    }
  }
  json_t *body = strcmp(method, "POST") == 0 ? json_object() : NULL; /* Flink wants {} on POST */
  json_t *r = fmh_flink_gw_obj(c, method, b.p, body, timeout_ms, err);
  json_decref(body);
  if (!r) return -1;
  if (status) {
    const char *s = fmh_flink_jstr(r, "status");
    snprintf(status, n, "%s", s ? s : "?");
  }
  json_decref(r);
  return 0;
}

int fmh_flink_op_status(fmh_flink *c, const char *sh, const char *op, char *status, size_t n,
                        fmh_error *err) {
  return op_call(c, "GET", sh, op, "status", 0, status, n, err);
}

int fmh_flink_op_cancel(fmh_flink *c, const char *sh, const char *op, fmh_error *err) {
  return op_call(c, "POST", sh, op, "cancel", 0, NULL, 0, err);
}

int fmh_flink_op_close(fmh_flink *c, const char *sh, const char *op, fmh_error *err) {
  return op_call(c, "DELETE", sh, op, "close", 0, NULL, 0, err);
}

static char *result_path(const char *sh, const char *op, const char *row_format) {
  char *p = fmh_flink_path_of("/v2/sessions/%s/operations/%s/result/0", sh, op);
  size_t l = strlen(p) + 32;
  char *q = malloc(l);
  if (!q) abort();
  snprintf(q, l, "%s?rowFormat=%s", p, row_format ? row_format : "JSON");
  free(p);
  return q;
}

/* A failed statement: the gateway answers the fetch with its exception. */
static void sql_error(fmh_error *err) {
  if (!err->kind || strcmp(err->kind, "http") != 0 || err->status != 500) return;
  char sum[600];
  fmh_flink_summarize_body(err->detail, sum, sizeof sum);
  char *detail = err->detail ? fmh_flink_xstrdup(err->detail) : NULL;
  fmh_flink_as_error(err, "SQL statement failed", sum, detail);
  free(detail);
}

/* Below this many rows a result page counts as small (see fetch_all). */
#define SMALL_PAGE 500

/* ---- result pages: exact DECIMALs ------------------------------------ */

/* Flink writes a DECIMAL into JSON rows as a JSON number with its trailing
 * zeros stripped (1.5000 -> 1.5, 1000 -> 1E+3). Parsed as a double it would
 * lose digits, and jansson refuses integers beyond 64 bits outright (a
 * DECIMAL(20,0) of 2^64-1). So a page is also parsed from a copy of its
 * text in which such numbers are quoted, and DECIMAL fields are taken from
 * there as exact strings in plain notation with the column's scale: the
 * form MariaDB gives for DECIMAL(p,s) too. */

/* Does this number token need its text kept (fraction/exponent, or an
 * integer outside int64)? */
static int keep_text(const char *t, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (t[i] == '.' || t[i] == 'e' || t[i] == 'E') return 1;
  size_t digits = n - (t[0] == '-');
  if (digits < 19) return 0;
  if (digits > 19) return 1;
  return strncmp(t + (t[0] == '-'), t[0] == '-' ? "9223372036854775808" : "9223372036854775807",
                 19) > 0;
}

/* A copy of a JSON text with those number tokens turned into strings. */
static char *quote_numbers(const char *s, size_t n, size_t *outlen) {
  fmh_buf b = {0};
  size_t i = 0;
  while (i < n) {
    char ch = s[i];
    if (ch == '"') {
      size_t j = i + 1;
      while (j < n && s[j] != '"') j += (s[j] == '\\') ? 2 : 1;
      j = j < n ? j + 1 : n;
      fmh_buf_putn(&b, s + i, j - i);
      i = j;
    } else if (ch == '-' || (ch >= '0' && ch <= '9')) {
      size_t j = i + 1;
      while (j < n && strchr("0123456789.eE+-", s[j])) j++;
      if (keep_text(s + i, j - i)) {
        fmh_buf_putn(&b, "\"", 1);
        fmh_buf_putn(&b, s + i, j - i);
        fmh_buf_putn(&b, "\"", 1);
      } else {
        fmh_buf_putn(&b, s + i, j - i);
      }
      i = j;
    } else {
      fmh_buf_putn(&b, s + i, 1);
      i++;
    }
  }
  fmh_buf_putn(&b, "", 0);
  *outlen = b.len;
  return b.p;
}

/* A JSON number's text as a plain decimal with exactly `scale` fraction
 * digits (more when the text has more; nothing is rounded). */
static json_t *decimal_plain(const char *t, int scale) {
  int neg = *t == '-';
  if (*t == '-' || *t == '+') t++;
  fmh_buf d = {0};
  long frac = 0, exp10 = 0;
  int seen_dot = 0;
  for (; *t && *t != 'e' && *t != 'E'; t++) {
    if (*t == '.') { seen_dot = 1; continue; }
    fmh_buf_putn(&d, t, 1);
    if (seen_dot) frac++;
  }
  if (*t == 'e' || *t == 'E') exp10 = strtol(t + 1, NULL, 10);
  fmh_buf_putn(&d, "", 0);
  long p = exp10 - frac; /* value = digits * 10^p */
  fmh_buf ip = {0}, fp = {0};
  size_t len = d.len;
  if (p >= 0) {
    fmh_buf_putn(&ip, d.p, len);
    for (long k = 0; k < p && k < 4096; k++) fmh_buf_putn(&ip, "0", 1);
  } else {
    size_t k = (size_t)-p;
    if (len > k) {
      fmh_buf_putn(&ip, d.p, len - k);
      fmh_buf_putn(&fp, d.p + len - k, k);
    } else {
      fmh_buf_putn(&ip, "0", 1);
      for (size_t z = len; z < k && z < 4096; z++) fmh_buf_putn(&fp, "0", 1);
      fmh_buf_putn(&fp, d.p, len);
    }
  }
  fmh_buf_putn(&ip, "", 0);
  fmh_buf_putn(&fp, "", 0);
  while (fp.len < (size_t)scale) fmh_buf_putn(&fp, "0", 1);
  const char *ipart = ip.p;
  while (ipart[0] == '0' && ipart[1]) ipart++;
  int zero = strspn(ipart, "0") == strlen(ipart) && strspn(fp.p, "0") == fp.len;
  fmh_buf out = {0};
  if (neg && !zero) fmh_buf_putn(&out, "-", 1);
  fmh_buf_puts(&out, ipart);
  if (fp.len) {
    fmh_buf_putn(&out, ".", 1);
    fmh_buf_putn(&out, fp.p, fp.len);
  }
  json_t *j = json_stringn(out.p, out.len);
  free(d.p);
  free(ip.p);
  free(fp.p);
  free(out.p);
  return j;
}

/* Replace the DECIMAL fields of page's rows by exact strings from alt (the
 * same page parsed with numbers quoted). When page is NULL (jansson refused
 * it), alt becomes the page and its other quoted numbers turn back into
 * JSON reals where the column is FLOAT or DOUBLE. */
static json_t *exact_decimals(json_t *page, json_t *alt) {
  json_t *res = json_object_get(alt, "results");
  json_t *cols = json_object_get(res, "columns");
  json_t *rows = json_object_get(res, "data");
  json_t *prow = page ? json_object_get(json_object_get(page, "results"), "data") : NULL;
  size_t ci, ri;
  json_t *col, *row;
  json_array_foreach(cols, ci, col) {
    json_t *lt = json_object_get(col, "logicalType");
    const char *type = fmh_flink_jstr(lt, "type");
    if (!type) continue;
    int dec = strcmp(type, "DECIMAL") == 0;
    int real = strcmp(type, "FLOAT") == 0 || strcmp(type, "DOUBLE") == 0;
    int scale = (int)json_integer_value(json_object_get(lt, "scale"));
    json_array_foreach(rows, ri, row) {
      json_t *fields = json_object_get(row, "fields");
      json_t *v = json_array_get(fields, ci);
      const char *text = json_string_value(v);
      json_t *nv = NULL;
      if (dec && (json_is_number(v) || text)) {
        char num[64];
        if (!text) {
          snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
          text = num;
        }
        nv = decimal_plain(text, scale);
        json_t *target = page ? json_object_get(json_array_get(prow, ri), "fields") : fields;
        json_array_set_new(target, ci, nv);
      } else if (real && text && !page) {
        json_array_set_new(fields, ci, json_real(strtod(text, NULL)));
      }
    }
  }
  if (page) return page;
  return json_incref(alt);
}

static int has_decimal(const json_t *page) {
  size_t i;
  json_t *col;
  json_array_foreach(json_object_get(json_object_get(page, "results"), "columns"), i, col) {
    const char *type = fmh_flink_jstr(json_object_get(col, "logicalType"), "type");
    if (type && strcmp(type, "DECIMAL") == 0) return 1;
  }
  return 0;
}

/* GET one result page of the gateway. */
static json_t *result_page(fmh_flink *c, const char *path, int json_rows, long timeout_ms,
                           fmh_error *err) {
  size_t n = strlen(c->gateway) + strlen(path) + 2;
  char *url = malloc(n);
  if (!url) abort();
  snprintf(url, n, "%s%s", c->gateway, path);
  fmh_http_request req = {.method = "GET", .url = url, .timeout_ms = timeout_ms};
  fmh_http_response resp;
  json_t *page = NULL;
  if (fmh_http_perform(c->http, &req, &resp, err) != 0) {
    fmh_flink_refine(err);
  } else {
    page = json_loadb(resp.body, resp.len, JSON_DECODE_ANY, NULL);
    if (json_rows && (!page || has_decimal(page))) {
      size_t qlen;
      char *q = quote_numbers(resp.body, resp.len, &qlen);
      json_t *alt = json_loadb(q, qlen, JSON_DECODE_ANY, NULL);
      free(q);
      if (alt) {
        json_t *fixed = exact_decimals(page, alt);
        json_decref(alt);
        page = fixed;
      }
    }
    if (!page) {
      char what[1200];
      snprintf(what, sizeof what, "GET %s", url);
      page = fmh_http_parse_json(resp.body, resp.len, what, err); /* for its message */
    }
  }
  fmh_http_response_free(&resp);
  free(url);
  return page;
}

int fmh_flink_op_wait(fmh_flink *c, const char *sh, const char *op, long timeout_ms, char *status,
                      size_t n, fmh_error *err) {
  long long deadline = fmh_flink_now_ms() + (timeout_ms > 0 ? timeout_ms : 60000);
  long pause = 20;
  for (;;) {
    if (op_call(c, "GET", sh, op, "status", fmh_flink_remaining(deadline, c->timeout_ms), status, n, err))
      return -1;
    if (strcmp(status, "FINISHED") == 0) return 0;
    if (strcmp(status, "ERROR") == 0) {
      char *p = result_path(sh, op, "JSON");
      json_t *r = fmh_flink_gateway(c, "GET", p, NULL, fmh_flink_remaining(deadline, c->timeout_ms), err);
      free(p);
      if (r) {
        json_decref(r);
        fmh_error_set(err, "flink", 0, 0, "SQL statement failed (operation %s is ERROR)", op);
      } else {
        sql_error(err);
      }
      return -1;
    }
    if (strcmp(status, "CANCELED") == 0 || strcmp(status, "CLOSED") == 0 ||
        strcmp(status, "TIMEOUT") == 0) {
      fmh_error_set(err, "flink", 0, 0, "operation %s ended %s", op, status);
      return -1;
    }
    if (fmh_flink_now_ms() >= deadline) {
      fmh_error_set(err, "timeout", 0, 1, "operation %s is still %s after %ld ms", op, status,
                    timeout_ms);
      return -1;
    }
    fmh_flink_sleep_ms(pause);
    pause = pause * 2 > c->poll_ms ? c->poll_ms : pause * 2;
  }
}

json_t *fmh_flink_op_fetch_all(fmh_flink *c, const char *sh, const char *op,
                               const char *row_format, long timeout_ms, long max_rows,
                               fmh_error *err) {
  long long deadline = fmh_flink_now_ms() + (timeout_ms > 0 ? timeout_ms : 60000);
  json_t *out = json_pack("{s:[],s:[],s:[],s:n,s:n,s:b}", "columns", "rows", "kinds", "job_id",
                          "result_kind", "eos", 0);
  json_t *rows = json_object_get(out, "rows"), *kinds = json_object_get(out, "kinds");
  char *path = result_path(sh, op, row_format);
  long pause = 20, small_pause = 2;
  int pages = 0;
  int json_rows = !row_format || strcmp(row_format, "JSON") == 0;
  if (!c->gateway) {
    fmh_error_set(err, "config", 0, 0, "this client has no SQL gateway URL");
    free(path);
    json_decref(out);
    return NULL;
  }
  for (;;) {
    json_t *r = result_page(c, path, json_rows, fmh_flink_remaining(deadline, c->timeout_ms), err);
    if (!r) {
      sql_error(err);
      goto fail;
    }
    pages++;
    const char *type = fmh_flink_jstr(r, "resultType");
    const char *next = fmh_flink_jstr(r, "nextResultUri");
    const char *jid = fmh_flink_jstr(r, "jobID");
    const char *kind = fmh_flink_jstr(r, "resultKind");
    if (jid) json_object_set_new(out, "job_id", json_string(jid));
    if (kind) json_object_set_new(out, "result_kind", json_string(kind));
    if (!type) {
      char *dump = json_dumps(r, JSON_COMPACT);
      fmh_error_set(err, "json", 0, 0, "GET %s: the answer has no \"resultType\"", path);
      if (dump) fmh_error_detail(err, dump, strlen(dump));
      free(dump);
      json_decref(r);
      goto fail;
    }
    int not_ready = strcmp(type, "NOT_READY") == 0;
    size_t got = json_array_size(json_object_get(json_object_get(r, "results"), "data"));
    if (strcmp(type, "PAYLOAD") == 0 || strcmp(type, "EOS") == 0) {
      json_t *res = json_object_get(r, "results");
      json_t *cols = json_object_get(res, "columns");
      if (json_array_size(cols) && !json_array_size(json_object_get(out, "columns")))
        json_object_set(out, "columns", cols);
      size_t i;
      json_t *row;
      json_array_foreach(json_object_get(res, "data"), i, row) {
        json_t *fields = json_object_get(row, "fields");
        json_array_append(rows, fields ? fields : json_array());
        const char *k = fmh_flink_jstr(row, "kind");
        json_array_append_new(kinds, json_string(k ? k : "INSERT"));
      }
    }
    if (strcmp(type, "EOS") == 0 || (!not_ready && !next)) {
      json_object_set_new(out, "eos", json_true());
      json_decref(r);
      break;
    }
    if (max_rows > 0 && (long)json_array_size(rows) >= max_rows) {
      json_decref(r);
      break;
    }
    if (next) {
      free(path);
      path = fmh_flink_xstrdup(next);
    }
    json_decref(r);
    if (fmh_flink_now_ms() >= deadline) {
      fmh_error_set(err, "timeout", 0, 1,
                    "the result of operation %s was not complete after %ld ms (%zu rows in %d pages)",
                    op, timeout_ms, json_array_size(rows), pages);
      goto fail;
    }
    if (not_ready) {
      fmh_flink_sleep_ms(pause);
      pause = pause * 2 > c->poll_ms ? c->poll_ms : pause * 2;
    } else if (got < SMALL_PAGE) {
      /* The gateway answers with the rows it holds at that moment: asked
       * again at once it hands out pages of a row or two, and the calls,
       * not the job, set the pace. A short pause lets a page fill up. */
      fmh_flink_sleep_ms(small_pause);
      small_pause = small_pause * 2 > 50 ? 50 : small_pause * 2;
      pause = 20;
    } else {
      small_pause = 2;
      pause = 20;
    }
  }
  free(path);
  return out;
fail:
  free(path);
  json_decref(out);
  return NULL;
}
