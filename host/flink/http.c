/* The HTTP layer of fmhost.flink: one libcurl easy handle per fmh_http, a
 * timeout on every call, and every failure sorted into an fmh_error whose
 * `retryable` says whether the same call may succeed later. The response
 * body of a failed call is kept whole in err.detail: Flink reports errors as
 * {"errors":["...a Java stack trace..."]} and the trace is the diagnosis. */
#include "fmhost/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fmhost/log.h"

struct fmh_http {
  CURL *curl;
  long default_timeout_ms;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;

static void curl_init(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

fmh_http *fmh_http_new(long default_timeout_ms) {
  pthread_once(&curl_once, curl_init);
  if (curl_init_rc != CURLE_OK) return NULL;
  fmh_http *h = calloc(1, sizeof *h);
  if (!h) return NULL;
  h->curl = curl_easy_init();
  if (!h->curl) {
    free(h);
    return NULL;
  }
  h->default_timeout_ms = default_timeout_ms > 0 ? default_timeout_ms : 10000;
  return h;
}

void fmh_http_free(fmh_http *h) {
  if (!h) return;
  curl_easy_cleanup(h->curl);
  free(h);
}

void fmh_http_response_free(fmh_http_response *r) {
  if (!r) return;
  free(r->body);
  r->body = NULL;
  r->len = 0;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud) {
  fmh_buf_putn((fmh_buf *)ud, ptr, size * nmemb);
  return size * nmemb;
}

int fmh_http_status_retryable(long status, const char *body) {
  switch (status) {
    case 408: case 429: case 502: case 503: case 504: return 1;
    case 500: break;
    default: return 0;
  }
  /* A 500 is a server bug or a failed request, except while the cluster is
   * still coming up: then the same call succeeds a moment later. */
  static const char *const starting[] = {"leader election", "temporarily unavailable",
                                         "not yet ready", "is starting", "starting up", NULL};
  if (!body) return 0;
  for (int i = 0; starting[i]; i++)
    if (strstr(body, starting[i])) return 1;
  return 0;
}

/* A short printable excerpt of a body for messages. */
static void excerpt(const char *s, size_t len, char *out, size_t n) {
  size_t j = 0;
  for (size_t i = 0; i < len && j + 4 < n; i++) {
    unsigned char c = (unsigned char)s[i];
    out[j++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
  }
  if (len && j + 4 >= n) { out[j++] = '.'; out[j++] = '.'; out[j++] = '.'; }
  out[j] = '\0';
}

json_t *fmh_http_parse_json(const char *body, size_t len, const char *what, fmh_error *err) {
  size_t start = 0;
  while (start < len && (body[start] == ' ' || body[start] == '\n' || body[start] == '\r' ||
                         body[start] == '\t'))
    start++;
  if (start == len) return json_null();
  json_error_t jerr;
  json_t *j = json_loadb(body, len, JSON_DECODE_ANY, &jerr);
  if (j) return j;
  char ex[96];
  excerpt(body, len, ex, sizeof ex);
  fmh_error_set(err, "json", 0, 0, "malformed JSON in the response to %s: %s at line %d column %d (body: '%s')",
                what, jerr.text, jerr.line, jerr.column, ex);
  fmh_error_detail(err, body, len);
  return NULL;
}

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void classify_curl(fmh_error *err, CURLcode rc, const char *errbuf, const char *what,
                          long timeout_ms) {
  const char *why = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      fmh_error_set(err, "timeout", (int)rc, 1, "no answer to %s within %ld ms (%s)", what,
                    timeout_ms, why);
      break;
    case CURLE_COULDNT_CONNECT:
      fmh_error_set(err, "curl", (int)rc, 1, "cannot connect for %s: %s", what, why);
      break;
    case CURLE_GOT_NOTHING:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_PARTIAL_FILE:
      fmh_error_set(err, "curl", (int)rc, 1, "connection lost during %s: %s", what, why);
      break;
    default:
      fmh_error_set(err, "curl", (int)rc, 0, "%s failed: %s", what, why);
  }
}

int fmh_http_perform(fmh_http *h, const fmh_http_request *req, fmh_http_response *resp,
                     fmh_error *err) {
  fmh_http_response local = {0};
  if (!resp) resp = &local;
  memset(resp, 0, sizeof *resp);
  const char *method = req->method ? req->method : "GET";
  long timeout = req->timeout_ms > 0 ? req->timeout_ms : h->default_timeout_ms;
  char what[1200];
  snprintf(what, sizeof what, "%s %s", method, req->url);

  if (req->upload_path) {
    FILE *f = fopen(req->upload_path, "rb");
    if (!f) {
      fmh_error_set(err, "os", errno, 0, "cannot read %s for %s: %s", req->upload_path, what,
                    strerror(errno));
      return -1;
    }
    fclose(f);
  }

  CURL *c = h->curl;
  curl_easy_reset(c);
  char errbuf[CURL_ERROR_SIZE] = "";
  fmh_buf body = {0};
  struct curl_slist *hdrs = NULL;
  curl_mime *mime = NULL;

  curl_easy_setopt(c, CURLOPT_URL, req->url);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROXY, "");  /* local services: never through an environment proxy */
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
  hdrs = curl_slist_append(hdrs, "Accept: application/json");
  hdrs = curl_slist_append(hdrs, "Expect:");  /* no 100-continue round trip */

  if (req->upload_path) {
    mime = curl_mime_init(c);
    curl_mimepart *part = curl_mime_addpart(mime);
    curl_mime_name(part, req->upload_field ? req->upload_field : "file");
    curl_mime_filedata(part, req->upload_path);
    if (req->upload_type) curl_mime_type(part, req->upload_type);
    curl_easy_setopt(c, CURLOPT_MIMEPOST, mime);
    if (strcmp(method, "POST") != 0) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  } else if (strcmp(method, "GET") == 0) {
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
  } else {
    if (strcmp(method, "POST") != 0) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (req->body || strcmp(method, "POST") == 0) {
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? req->body_len : 0));
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, req->body ? req->body : "");
      char ct[200];
      snprintf(ct, sizeof ct, "Content-Type: %s",
               req->content_type ? req->content_type : "application/json");
      hdrs = curl_slist_append(hdrs, ct);
    }
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

  double t0 = mono_s();
  CURLcode rc = curl_easy_perform(c);
  resp->seconds = mono_s() - t0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
  if (rc != CURLE_OK) resp->status = 0;
  curl_slist_free_all(hdrs);
  if (mime) curl_mime_free(mime);
  /* never leave a pointer to this frame's buffer in the reused handle */
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
  fmh_buf_putn(&body, "", 0);  /* ensure a buffer exists and is terminated */
  resp->body = body.p;
  resp->len = body.len;
  resp->body[resp->len] = '\0';

  int ok = 0;
  if (rc != CURLE_OK) {
    classify_curl(err, rc, errbuf, what, timeout);
    ok = -1;
  } else if (resp->status < 200 || resp->status >= 300) {
    int retry = fmh_http_status_retryable(resp->status, resp->body);
    err->status = (int)resp->status;
    fmh_error_set(err, "http", (int)resp->status, retry, "HTTP %ld from %s", resp->status, what);
    fmh_error_detail(err, resp->body, resp->len);
    ok = -1;
  }
  if (fmh_log_enabled(FMH_LOG_DEBUG)) {
    fmh_log_field f[] = {FMH_LS("method", method), FMH_LS("url", req->url),
                         FMH_LI("status", resp->status), FMH_LN("ms", resp->seconds * 1e3),
                         FMH_LI("bytes", resp->len), FMH_LB("ok", ok == 0)};
    fmh_log_emit(FMH_LOG_DEBUG, "http.call", NULL, ok == 0 ? NULL : err->msg, f,
                 sizeof f / sizeof *f);
  }
  if (resp == &local) fmh_http_response_free(&local);
  return ok;
}

int fmh_http_json(fmh_http *h, const char *method, const char *url, const json_t *body,
                  long timeout_ms, json_t **out, fmh_error *err) {
  *out = NULL;
  char *text = NULL;
  if (body) {
    text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text) {
      fmh_error_set(err, "json", 0, 0, "cannot encode the request body for %s %s", method, url);
      return -1;
    }
  }
  fmh_http_request req = {.method = method, .url = url, .body = text,
                          .body_len = text ? strlen(text) : 0, .timeout_ms = timeout_ms};
  fmh_http_response resp;
  int rc = fmh_http_perform(h, &req, &resp, err);
  free(text);
  if (rc == 0) {
    char what[1200];
    snprintf(what, sizeof what, "%s %s", method, url);
    *out = fmh_http_parse_json(resp.body, resp.len, what, err);
    if (!*out) rc = -1;
  }
  fmh_http_response_free(&resp);
  return rc;
}
