/*
 * http.c - fetch byte ranges over HTTP(S) with libcurl, robustly: one
 * request is a series of attempts, each asking (with a Range header) for
 * the bytes not yet delivered, so a cut connection costs a reconnect and
 * not the download.  Bytes reach the caller's sink in order and exactly
 * once, whatever the server does: a 200 answer to a range request is
 * skipped up to where it was asked, a 206 answer must start at or before
 * it, and the size of the resource must not change between attempts.
 *
 * Only bs-fetch refers to these symbols, so only bs-fetch pulls this
 * object (and libcurl) out of libcommon.a.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "bs.h"

struct bs_http {
	CURL *curl;
	struct bs_http_opts o;
};

/* The state of one request across its attempts. */
struct req {
	struct bs_http *h;
	bs_http_sink sink;
	void *arg;
	struct bs_http_result *res;
	struct bs_err *e;
	uint64_t pos;		/* next byte to deliver; BS_SIZE_UNKNOWN: tail not placed yet */
	uint64_t end;		/* one past the last byte wanted; BS_SIZE_UNKNOWN: to the end */
	uint64_t tail;		/* bytes wanted of a tail request, else 0 */
	/* this attempt */
	int status;
	uint64_t cr_start, cr_end, cr_total;	/* Content-Range; cr_total may be unknown */
	int have_cr;
	uint64_t clen;		/* Content-Length, or unknown */
	double retry_after;	/* seconds, or -1 */
	char etag[72], linked[72];
	int body_started;
	uint64_t skip;		/* bytes of this answer before pos */
	int fatal;		/* the error is set and not worth retrying */
	int sink_rc;		/* the sink failed with this */
	int done;		/* every wanted byte delivered; stop reading */
	uint64_t got_now;	/* bytes delivered in this attempt */
};

static void
logf_(struct bs_http *h, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	if (!h->o.log)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	h->o.log(msg, h->o.log_arg);
}

const char *
bs_http_version(void)
{
	return curl_version();
}

struct bs_http *
bs_http_new(const struct bs_http_opts *o, struct bs_err *e)
{
	struct bs_http *h;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		bs_err_set(e, BS_EIO, "cannot initialise libcurl");
		return NULL;
	}
	if (!(h = calloc(1, sizeof *h)) || !(h->curl = curl_easy_init())) {
		free(h);
		bs_err_set(e, BS_ENOMEM, "out of memory");
		return NULL;
	}
	h->o = *o;
	if (h->o.stall <= 0)
		h->o.stall = 30;
	return h;
}

void
bs_http_free(struct bs_http *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->curl);
	free(h);
}

/* Copy an ETag-like value: quotes and a weak prefix stripped. */
static void
header_value(char *dst, size_t cap, const char *v, size_t n)
{
	if (n >= 2 && v[0] == 'W' && v[1] == '/')
		v += 2, n -= 2;
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"')
		v++, n -= 2;
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, v, n);
	dst[n] = 0;
}

static int
is_sha256(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!isxdigit((unsigned char)s[i]))
			return 0;
	return i == 64;
}

static size_t
on_header(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct req *q = arg;
	size_t all = size * nmemb, n = all, k;
	const char *v;
	char *end;

	if (n >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
		/* a new answer (after a redirect, or a 100 Continue) */
		const char *sp = memchr(buf, ' ', n);
		q->status = sp ? atoi(sp + 1) : 0;
		q->have_cr = 0;
		q->clen = BS_SIZE_UNKNOWN;
		q->retry_after = -1;
		q->etag[0] = 0;
		return all;
	}
	if (!(v = memchr(buf, ':', n)))
		return all;
	k = (size_t)(v - buf);
	for (v++; v < buf + n && (*v == ' ' || *v == '\t'); v++)
		;
	while (n > 0 && (buf[n - 1] == '\r' || buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	if (v > buf + n)
		v = buf + n;
#define IS(name) (k == sizeof name - 1 && strncasecmp(buf, name, k) == 0)
	if (IS("content-length")) {
		q->clen = strtoull(v, &end, 10);
		if (end == v)
			q->clen = BS_SIZE_UNKNOWN;
	} else if (IS("content-range")) {
		/* bytes A-B/T, bytes A-B/ *, bytes * /T */
		char tmp[128];
		size_t l = (size_t)(buf + n - v) < sizeof tmp - 1 ? (size_t)(buf + n - v) : sizeof tmp - 1;
		unsigned long long a, b;
		char *slash;
		memcpy(tmp, v, l);
		tmp[l] = 0;
		q->cr_total = BS_SIZE_UNKNOWN;
		if ((slash = strchr(tmp, '/')) && isdigit((unsigned char)slash[1]))
			q->cr_total = strtoull(slash + 1, NULL, 10);
		if (sscanf(tmp, "bytes %llu-%llu", &a, &b) == 2 && b >= a) {
			q->cr_start = a;
			q->cr_end = b;
			q->have_cr = 1;
		} else
			q->have_cr = 2;		/* only a total (416) */
	} else if (IS("retry-after")) {
		double s = strtod(v, &end);
		if (end != v && s >= 0)
			q->retry_after = s;
	} else if (IS("etag")) {
		header_value(q->etag, sizeof q->etag, v, (size_t)(buf + n - v));
	} else if (IS("x-linked-etag")) {
		header_value(q->linked, sizeof q->linked, v, (size_t)(buf + n - v));
	} else if (IS("location")) {
		logf_(q->h, "redirected (%d) to %.*s", q->status, (int)(buf + n - v), v);
	}
#undef IS
	return all;
}

static int
fail(struct req *q, const char *fmt, ...)
{
	va_list ap;
	char msg[sizeof q->e->msg];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	q->fatal = 1;
	return bs_err_set(q->e, BS_EIO, "%s", msg);
}

/* Note the size of the resource; it must not change between answers. */
static int
note_total(struct req *q, uint64_t total)
{
	if (total == BS_SIZE_UNKNOWN)
		return 0;
	if (q->res->total != BS_SIZE_UNKNOWN && q->res->total != total) {
		fail(q, "the size changed between requests (%llu, then %llu bytes)",
		    (unsigned long long)q->res->total, (unsigned long long)total);
		return -1;
	}
	q->res->total = total;
	return 0;
}

/* The first body bytes of a 200 or 206 answer: where do they start? */
static int
place_body(struct req *q)
{
	uint64_t first;

	if (q->status == 206) {
		if (q->have_cr != 1) {
			fail(q, "206 answer without a Content-Range");
			return -1;
		}
		if (note_total(q, q->cr_total) < 0)
			return -1;
		first = q->cr_start;
	} else {
		if (note_total(q, q->clen) < 0)
			return -1;
		first = 0;
	}
	if (q->pos == BS_SIZE_UNKNOWN) {
		/* a tail request learns where the tail starts */
		uint64_t total = q->res->total;
		if (total == BS_SIZE_UNKNOWN) {
			if (q->status != 206) {
				fail(q, "the server sent neither a range nor a length");
				return -1;
			}
			total = q->cr_end + 1;
		}
		q->pos = total > q->tail ? total - q->tail : 0;
		q->end = total;
		q->res->start = q->pos;
	}
	if (first > q->pos) {
		fail(q, "asked for bytes from %llu, the server sent bytes from %llu (Content-Range: %llu-%llu)",
		    (unsigned long long)q->pos, (unsigned long long)first,
		    (unsigned long long)q->cr_start, (unsigned long long)q->cr_end);
		return -1;
	}
	if (q->status == 200 && q->pos > 0)
		logf_(q->h, "the server ignored the range; skipping %llu bytes", (unsigned long long)q->pos);
	else if (first < q->pos)
		logf_(q->h, "the answer starts %llu bytes early; skipping them", (unsigned long long)(q->pos - first));
	q->skip = q->pos - first;
	return 0;
}

static size_t
on_body(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct req *q = arg;
	size_t n = size * nmemb, take;
	const char *p = buf;
	int rc;

	if (q->status != 200 && q->status != 206)
		return n;	/* an error page: read and ignore */
	if (!q->body_started) {
		q->body_started = 1;
		if (place_body(q) < 0)
			return 0;
	}
	if (q->skip) {
		take = q->skip < n ? (size_t)q->skip : n;
		q->skip -= take;
		p += take;
		n -= take;
	}
	if (q->end != BS_SIZE_UNKNOWN && n > q->end - q->pos)
		n = (size_t)(q->end - q->pos);
	if (n) {
		if ((rc = q->sink(q->arg, p, n, q->e)) < 0) {
			q->sink_rc = rc;
			return 0;
		}
		q->pos += n;
		q->got_now += n;
		q->res->got += n;
	}
	if (q->end != BS_SIZE_UNKNOWN && q->pos >= q->end) {
		q->done = 1;
		return 0;	/* all we want: stop reading */
	}
	return size * nmemb;
}

static int
transient_curl(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_PARTIAL_FILE:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
		return 1;
	default:
		return 0;
	}
}

static void
pause_for(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* One attempt: ask for [pos, end) (or the tail); 1: retry, 0: done, <0: error. */
static int
attempt(struct req *q, const char *url)
{
	struct bs_http *h = q->h;
	CURL *c = h->curl;
	char range[64], cerr[CURL_ERROR_SIZE];
	CURLcode cc;
	int use_token;

	q->status = 0;
	q->have_cr = 0;
	q->clen = BS_SIZE_UNKNOWN;
	q->retry_after = -1;
	q->etag[0] = q->linked[0] = 0;
	q->body_started = 0;
	q->skip = 0;
	q->got_now = 0;
	q->done = 0;
	range[0] = 0;
	if (q->pos == BS_SIZE_UNKNOWN)
		snprintf(range, sizeof range, "-%llu", (unsigned long long)q->tail);
	else if (q->end != BS_SIZE_UNKNOWN)
		snprintf(range, sizeof range, "%llu-%llu", (unsigned long long)q->pos,
		    (unsigned long long)(q->end - 1));
	else if (q->pos > 0)
		snprintf(range, sizeof range, "%llu-", (unsigned long long)q->pos);
	curl_easy_reset(c);
	cerr[0] = 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "bigsmall/" BS_VERSION_STRING);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)(h->o.stall + 0.5));
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)(h->o.stall + 0.5));
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, q);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, q);
	if (range[0])
		curl_easy_setopt(c, CURLOPT_RANGE, range);
	use_token = h->o.token && *h->o.token && (!h->o.token_prefix ||
	    strncmp(url, h->o.token_prefix, strlen(h->o.token_prefix)) == 0);
	if (use_token) {
		/* curl does not send it on to another host after a redirect */
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
		curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, h->o.token);
	}
	logf_(h, "GET %s%s%s%s", url, range[0] ? " (bytes " : "", range, range[0] ? ")" : "");
	q->res->attempts++;
	cc = curl_easy_perform(c);
	q->res->status = q->status;
	if (q->linked[0] && is_sha256(q->linked))
		strcpy(q->res->sha256, q->linked);
	else if (q->etag[0] && is_sha256(q->etag) && !q->res->sha256[0])
		strcpy(q->res->sha256, q->etag);
	if (q->sink_rc)
		return q->sink_rc;
	if (q->fatal)
		return q->e->code;
	if (q->done)
		return 0;
	if (cc != CURLE_OK) {
		bs_err_set(q->e, BS_EIO, "%s", cerr[0] ? cerr : curl_easy_strerror(cc));
		if (transient_curl(cc))
			return 1;
		q->fatal = 1;
		return BS_EIO;
	}
	if (q->status == 416) {
		uint64_t total = q->have_cr ? q->cr_total : BS_SIZE_UNKNOWN;
		if (total != BS_SIZE_UNKNOWN && q->pos == total && q->end == BS_SIZE_UNKNOWN) {
			if (note_total(q, total) < 0)
				return q->e->code;
			logf_(h, "nothing left to fetch (416: the file has %llu bytes)", (unsigned long long)total);
			return 0;
		}
		q->fatal = 1;
		return bs_err_set(q->e, BS_EIO, "HTTP 416: range %s not satisfiable", range);
	}
	if (q->status == 429 || q->status >= 500) {
		bs_err_set(q->e, BS_EIO, "HTTP %d", q->status);
		return 1;
	}
	if (q->status != 200 && q->status != 206) {
		q->fatal = 1;
		return bs_err_set(q->e, BS_EIO, "HTTP %d%s: %.300s", q->status,
		    q->status == 404 ? ": not found" : q->status == 401 || q->status == 403 ?
		    ": access denied (set HF_TOKEN?)" : "", url);
	}
	if (!q->body_started && place_body(q) < 0)	/* an empty body */
		return q->e->code;
	if (q->end == BS_SIZE_UNKNOWN && q->res->total != BS_SIZE_UNKNOWN)
		q->end = q->res->total;
	if (q->end != BS_SIZE_UNKNOWN && q->pos < q->end) {
		bs_err_set(q->e, BS_EIO, "connection closed after %llu of %llu bytes",
		    (unsigned long long)q->pos, (unsigned long long)q->end);
		return 1;
	}
	return 0;
}

static int
request(struct req *q, const char *url)
{
	int tries = 0, rc;
	double wait = 1;

	q->res->status = 0;
	q->res->total = BS_SIZE_UNKNOWN;
	q->res->got = 0;
	q->res->sha256[0] = 0;
	q->res->attempts = 0;
	q->sink_rc = 0;
	q->fatal = 0;
	if (q->end != BS_SIZE_UNKNOWN && q->pos >= q->end)
		return 0;
	for (;;) {
		if ((rc = attempt(q, url)) <= 0)
			return rc;
		if (q->got_now > 0) {
			tries = 0;	/* it moved: start counting again */
			wait = 1;
		}
		if (++tries > q->h->o.retries) {
			char why[sizeof q->e->msg];
			snprintf(why, sizeof why, "%s", q->e->msg);
			return bs_err_set(q->e, BS_EIO, "%s (gave up after %d attempts)",
			    why, q->res->attempts);
		}
		{
			double w = q->retry_after >= 0 ? q->retry_after : wait;
			if (w > q->h->o.max_wait)
				w = q->h->o.max_wait;
			logf_(q->h, "%s; retrying from byte %llu in %.1fs", q->e->msg,
			    (unsigned long long)(q->pos == BS_SIZE_UNKNOWN ? 0 : q->pos), w);
			pause_for(w);
		}
		wait *= 2;
	}
}

int
bs_http_get(struct bs_http *h, const char *url, uint64_t off, uint64_t len,
    bs_http_sink sink, void *arg, struct bs_http_result *res, struct bs_err *e)
{
	struct req q;

	memset(&q, 0, sizeof q);
	q.h = h;
	q.sink = sink;
	q.arg = arg;
	q.res = res;
	q.e = e;
	q.pos = off;
	q.end = len == BS_SIZE_UNKNOWN ? BS_SIZE_UNKNOWN : off + len;
	res->start = off;
	return request(&q, url);
}

int
bs_http_tail(struct bs_http *h, const char *url, uint64_t n,
    bs_http_sink sink, void *arg, struct bs_http_result *res, struct bs_err *e)
{
	struct req q;

	memset(&q, 0, sizeof q);
	q.h = h;
	q.sink = sink;
	q.arg = arg;
	q.res = res;
	q.e = e;
	q.pos = BS_SIZE_UNKNOWN;
	q.end = BS_SIZE_UNKNOWN;
	q.tail = n;
	res->start = 0;
	if (n == 0)
		return bs_err_set(e, BS_EUSAGE, "empty tail request");
	return request(&q, url);
}
