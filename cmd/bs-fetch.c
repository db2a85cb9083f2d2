/*
 * bs-fetch - download a file, a model or a few of its tensors over
 * HTTP(S): the bytes of a URL, a hub repo id turned into one raw stream,
 * or (--tensor) only the byte ranges the selected tensors need.
 *
 * Whatever is turned into frames is fetched by a second thread into a
 * pipe, which the splitting code reads as it reads a local file.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "bs.h"

static struct bs_strlist patterns;
static const char *output, *max_wait_arg = "60", *stall_arg = "30";
static long long retries = 5, chunk = BS_DEFAULT_CHUNK;
static int split, cont, force;

static const struct bs_opt opts[] = {
	{ 'o', "output", BS_OPT_STR, &output, "FILE", "write to FILE (renamed into place when complete and verified)", "file" },
	{ 'C', "continue", BS_OPT_FLAG, &cont, NULL, "resume FILE.part left by an interrupted -o FILE", NULL },
	{ 's', "split", BS_OPT_FLAG, &split, NULL, "turn a safetensors file into a raw stream on the fly", NULL },
	{ 't', "tensor", BS_OPT_LIST, &patterns, "PATTERN", "fetch only the tensors whose names match PATTERN (glob; repeatable)", NULL },
	{ 'r', "retries", BS_OPT_INT, &retries, "N", "attempts after a failure that made no progress (default 5)", NULL },
	{ 0, "max-wait", BS_OPT_STR, &max_wait_arg, "SECONDS", "longest wait between attempts (default 60)", NULL },
	{ 0, "timeout", BS_OPT_STR, &stall_arg, "SECONDS", "give up an attempt after SECONDS without data (default 30)", NULL },
	{ 'c', "chunk-size", BS_OPT_SIZE, &chunk, "SIZE", "chunk size of the frames made (default 1M)", NULL },
	{ 'f', "force", BS_OPT_FLAG, &force, NULL, "write to a terminal anyway", NULL },
	{ 0, NULL, 0, NULL, NULL, NULL, NULL }
};

static const struct bs_prog prog = {
	"bs-fetch", "[-Cs] [-o FILE] [-t PATTERN]... [-r N] [--max-wait SECONDS] [--timeout SECONDS] [-c SIZE] URL|REPO",
	"Write the bytes of URL, or of a hub repo id (hf:ORG/NAME[@REV][:PATH]),\n"
	"to stdout; a model repo becomes one raw bigsmall stream.",
	opts, 1, 1,
	bs_http_version
};

/* Files of a model folder fetched besides the weights, when present. */
static const char *const extras[] = {
	"config.json", "generation_config.json", "tokenizer.json",
	"tokenizer_config.json", "tokenizer.model", "special_tokens_map.json",
	"added_tokens.json", "vocab.json", "merges.txt", "chat_template.jinja",
	"preprocessor_config.json", NULL
};

#define ABSENT (BS_SIZE_UNKNOWN - 1)	/* preamble of an optional file not there */

static struct bs_http *http;

static void
log_line(const char *msg, void *arg)
{
	(void)arg;
	bs_info("%s", msg);
}

/* ------------------------------------------------------------- sinks */

struct mem {
	uint8_t *p;
	size_t n, cap, max;
};

static int
mem_sink(void *arg, const void *p, size_t n, struct bs_err *e)
{
	struct mem *m = arg;

	if (m->n + n > m->max)
		return bs_err_set(e, BS_ECORRUPT, "larger than %zu bytes", m->max);
	if (m->n + n > m->cap) {
		size_t nc = m->cap ? m->cap : 65536;
		uint8_t *np;
		while (nc < m->n + n)
			nc *= 2;
		if (!(np = realloc(m->p, nc)))
			return bs_err_set(e, BS_ENOMEM, "out of memory");
		m->p = np;
		m->cap = nc;
	}
	memcpy(m->p + m->n, p, n);
	m->n += n;
	return 0;
}

/* The bytes of a URL into memory; 0, or the error (404 when *status says so). */
static int
fetch_mem(const char *url, uint64_t off, uint64_t len, size_t max, struct mem *m,
    struct bs_http_result *res, struct bs_err *e)
{
	memset(m, 0, sizeof *m);
	m->max = max;
	return bs_http_get(http, url, off, len, mem_sink, m, res, e);
}

struct out {
	int fd;
	const char *name;
	struct bs_sha256 *sha;
	const struct bs_http_result *res;
	struct bs_progress *prog;
	uint64_t done;
	int pipe_broken;
};

static int
out_sink(void *arg, const void *p, size_t n, struct bs_err *e)
{
	struct out *o = arg;

	if (!o->prog && o->res)
		o->prog = bs_progress_new("fetching", o->res->total);
	if (bs_write_all(o->fd, p, n) < 0) {
		if (errno == EPIPE)
			o->pipe_broken = 1;
		return bs_err_set(e, BS_EIO, "%s: write error: %s", o->name, strerror(errno));
	}
	if (o->sha)
		bs_sha256_update(o->sha, p, n);
	o->done += n;
	bs_progress_update(o->prog, o->done);
	return 0;
}

/* Compare a finished hash with what the server announced: 0 or BS_ECHECKSUM. */
static int
check_sha(struct bs_sha256 *sha, const char *announced, const char *url, struct bs_err *e)
{
	uint8_t d[32];
	char hex[65];

	bs_sha256_final(sha, d);
	bs_hex(d, 32, hex);
	if (!announced[0]) {
		bs_info("%s: no sha256 announced; not verified", url);
		return 0;
	}
	if (strcasecmp(hex, announced) != 0)
		return bs_err_set(e, BS_ECHECKSUM, "%s: sha256 mismatch: got %s, the server announced %s",
		    url, hex, announced);
	bs_info("%s: sha256 %s verified", url, hex);
	return 0;
}

/* ------------------------------------------------------------ sources */

struct src {
	char *url;		/* of one file, or NULL for a whole hub repo */
	char *base;		/* hub: ENDPOINT/ORG/NAME/resolve/REV/ */
	const char *repo;	/* as given, for messages */
};

static char *
xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		bs_die(2, "out of memory");
	return p;
}

static char *
cat3(const char *a, const char *b, const char *c)
{
	char *p;

	if (asprintf(&p, "%s%s%s", a, b, c) < 0)
		bs_die(2, "out of memory");
	return p;
}

static int
repo_char(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '_' || c == '.';
}

/* ORG/NAME[@REV][:PATH] into a hub source; 0, or -1 when it is not one. */
static int
parse_repo(const char *spec, struct src *s)
{
	const char *p = spec, *slash = NULL, *at = NULL, *colon, *endpoint;
	char *repo, *rev, *path = NULL, *q;
	size_t n;

	for (; *p && *p != '@' && *p != ':'; p++) {
		if (*p == '/') {
			if (slash)
				return -1;
			slash = p;
		} else if (!repo_char((unsigned char)*p))
			return -1;
	}
	if (!slash || slash == spec || slash + 1 == p)
		return -1;
	repo = strndup(spec, (size_t)(p - spec));
	if (*p == '@')
		at = p + 1;
	colon = strchr(p, ':');
	if (at) {
		n = colon ? (size_t)(colon - at) : strlen(at);
		if (n == 0)
			return -1;
		/* refs/pr/1 -> refs%2Fpr%2F1 */
		rev = bs_xmalloc(3 * n + 1);
		for (q = rev; n--; at++)
			q += *at == '/' ? sprintf(q, "%%2F") : sprintf(q, "%c", *at);
	} else
		rev = xstrdup("main");
	if (colon && colon[1])
		path = xstrdup(colon + 1);
	else if (colon)
		return -1;
	endpoint = getenv("HF_ENDPOINT");
	if (!endpoint || !*endpoint)
		endpoint = "https://huggingface.co";
	n = strlen(endpoint);
	while (n > 0 && endpoint[n - 1] == '/')
		n--;
	if (asprintf(&s->base, "%.*s/%s/resolve/%s/", (int)n, endpoint, repo, rev) < 0)
		bs_die(2, "out of memory");
	s->url = path ? cat3(s->base, path, "") : NULL;
	free(repo);
	free(rev);
	free(path);
	return 0;
}

static void
resolve(const char *arg, struct src *s)
{
	struct stat sb;

	memset(s, 0, sizeof *s);
	s->repo = arg;
	if (strncmp(arg, "http://", 7) == 0 || strncmp(arg, "https://", 8) == 0) {
		s->url = xstrdup(arg);
		return;
	}
	if (strncmp(arg, "hf:", 3) == 0) {
		if (parse_repo(arg + 3, s) < 0)
			bs_die(2, "%s: not a hub repo id (hf:ORG/NAME[@REVISION][:PATH])", arg);
		return;
	}
	if (stat(arg, &sb) == 0)
		bs_die(2, "%s: a local path; bs-fetch reads URLs and hub repo ids (use bs-split)", arg);
	if (parse_repo(arg, s) < 0)
		bs_die(2, "%s: not a URL (http://, https://) or a hub repo id (ORG/NAME)", arg);
}

static const char *
basename_of(const char *url)
{
	const char *b = strrchr(url, '/');

	return b ? b + 1 : url;
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Does url exist?  1, 0 for 404; exits 2 on other trouble. */
static int
exists(const char *url)
{
	struct bs_http_result res;
	struct bs_err e = { 0, "" };
	struct mem m;
	int rc = fetch_mem(url, 0, 1, 1, &m, &res, &e);

	free(m.p);
	if (rc == 0)
		return 1;
	if (res.status == 404)
		return 0;
	bs_die(bs_err_status(rc), "%s: %s", url, e.msg);
}

/* ---------------------------------------------------------- plain bytes */

static int
fetch_plain(const char *url)
{
	struct bs_http_result res;
	struct bs_err e = { 0, "" };
	struct out o;
	char *part;
	uint64_t from = 0;
	int rc;

	memset(&o, 0, sizeof o);
	o.res = &res;
	if (!(o.sha = bs_sha256_new()))
		bs_die(2, "out of memory");
	if (!output || strcmp(output, "-") == 0) {
		if (cont)
			bs_die(2, "-C needs -o FILE");
		bs_refuse_tty(STDOUT_FILENO, force, "binary data");
		o.fd = STDOUT_FILENO;
		o.name = "<stdout>";
		rc = bs_http_get(http, url, 0, BS_SIZE_UNKNOWN, out_sink, &o, &res, &e);
		bs_progress_end(o.prog);
		if (rc < 0)
			bs_die(bs_err_status(rc), "%s", e.msg);
		if (check_sha(o.sha, res.sha256, url, &e) < 0)
			bs_die(1, "%s; the bytes written to stdout are not the file", e.msg);
		bs_sha256_free(o.sha);
		return 0;
	}
	part = cat3(output, ".part", "");
	o.name = part;
	if ((o.fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC | (cont ? 0 : O_TRUNC), 0666)) < 0)
		bs_die(2, "%s: %s", part, strerror(errno));
	if (cont) {
		/* hash what is there, so the whole file is verified */
		uint8_t *buf = bs_xmalloc(1 << 20);
		ssize_t got;
		while ((got = read(o.fd, buf, 1 << 20)) > 0) {
			bs_sha256_update(o.sha, buf, (size_t)got);
			from += (uint64_t)got;
		}
		free(buf);
		if (got < 0)
			bs_die(2, "%s: %s", part, strerror(errno));
		bs_info("%s: resuming after %llu bytes", part, (unsigned long long)from);
	}
	o.done = from;
	rc = bs_http_get(http, url, from, BS_SIZE_UNKNOWN, out_sink, &o, &res, &e);
	bs_progress_end(o.prog);
	if (rc < 0) {
		close(o.fd);
		if (rc == BS_EIO && !o.pipe_broken && from + res.got > 0)
			bs_die(2, "%s; %llu bytes kept in %s (-C resumes)", e.msg,
			    (unsigned long long)(from + res.got), part);
		bs_die(bs_err_status(rc), "%s", e.msg);
	}
	if (check_sha(o.sha, res.sha256, url, &e) < 0) {
		close(o.fd);
		unlink(part);
		bs_die(1, "%s", e.msg);
	}
	if (fsync(o.fd) < 0 && errno != EINVAL)
		bs_die(2, "%s: %s", part, strerror(errno));
	if (close(o.fd) < 0 || rename(part, output) < 0)
		bs_die(2, "%s: %s", output, strerror(errno));
	bs_sha256_free(o.sha);
	free(part);
	return 0;
}

/* ------------------------------------------------- producer and consumer */

struct range {
	uint64_t off, len;
};

struct item {
	char *rel;			/* name in the stream */
	char *url;
	int kind;			/* BS_FILE_*; 0: the ranges below */
	int optional;			/* a 404 skips it */
	struct mem data;		/* already fetched (data.p set) */
	struct range *r;
	size_t nr;
	struct bs_tensor_info *ti;	/* the tensors the ranges carry, in order */
	size_t nti;
	struct bs_st st;		/* names of ti point into it */
};

struct job {
	struct item *it;
	size_t n;
	int fd;				/* write end of the pipe */
	int rc;
	struct bs_err e;
	int pipe_broken;
	uint64_t bytes;			/* fetched */
	struct bs_progress *prog;
	/* the current whole file */
	struct bs_http_result res;
	struct bs_sha256 *sha;
	int preamble_done;
	const struct item *cur;
};

static int
pipe_put(struct job *j, const void *p, size_t n)
{
	if (bs_write_all(j->fd, p, n) < 0) {
		j->pipe_broken = 1;
		return bs_err_set(&j->e, BS_EIO, "pipe: %s", strerror(errno));
	}
	return 0;
}

static int
preamble(struct job *j, uint64_t size)
{
	j->preamble_done = 1;
	return pipe_put(j, &size, 8);
}

static int
job_sink(void *arg, const void *p, size_t n, struct bs_err *e)
{
	struct job *j = arg;
	int rc;

	(void)e;
	if (!j->prog)
		j->prog = bs_progress_new("fetching", 0);
	j->bytes += n;
	bs_progress_update(j->prog, j->bytes);
	if (j->sha)
		bs_sha256_update(j->sha, p, n);
	if (j->cur && j->cur->kind) {
		if (!j->preamble_done && (rc = preamble(j, j->res.total)) < 0)
			return rc;
	}
	return pipe_put(j, p, n);
}

static int
produce_item(struct job *j, const struct item *it)
{
	int rc;

	j->cur = it;
	j->preamble_done = 0;
	j->sha = NULL;
	if (it->kind == 0) {
		for (size_t i = 0; i < it->nr; i++)
			if ((rc = bs_http_get(http, it->url, it->r[i].off, it->r[i].len,
			    job_sink, j, &j->res, &j->e)) < 0)
				return rc;
		return 0;
	}
	if (it->data.p) {
		if ((rc = preamble(j, it->data.n)) < 0)
			return rc;
		return pipe_put(j, it->data.p, it->data.n);
	}
	if (!(j->sha = bs_sha256_new()))
		return bs_err_set(&j->e, BS_ENOMEM, "out of memory");
	rc = bs_http_get(http, it->url, 0, BS_SIZE_UNKNOWN, job_sink, j, &j->res, &j->e);
	if (rc < 0 && it->optional && j->res.status == 404 && j->res.got == 0) {
		bs_info("%s: not there; skipped", it->url);
		rc = preamble(j, ABSENT);
	} else if (rc == 0) {
		rc = check_sha(j->sha, j->res.sha256, it->url, &j->e);
		if (rc == 0 && !j->preamble_done)
			rc = preamble(j, 0);	/* empty */
	}
	bs_sha256_free(j->sha);
	j->sha = NULL;
	return rc;
}

static void *
produce(void *arg)
{
	struct job *j = arg;

	j->rc = 0;
	for (size_t i = 0; i < j->n && j->rc == 0; i++)
		j->rc = produce_item(j, &j->it[i]);
	close(j->fd);
	return NULL;
}

/* Turn the pipe's contents into frames on w, following the items. */
static int
consume_items(int fd, struct item *it, size_t n, struct bs_writer *w,
    const struct bs_split_opts *so, struct bs_err *e)
{
	struct bs_splitter *sp = bs_splitter_new(w, so, e);
	int rc = 0;

	if (!sp)
		return bs_err_set(e, BS_ENOMEM, "out of memory");
	for (size_t i = 0; i < n && rc == 0; i++) {
		uint64_t size;
		if (it[i].kind == 0) {
			for (size_t k = 0; k < it[i].nti && rc == 0; k++)
				rc = bs_split_tensor_fd(fd, &it[i].ti[k], w, so, e);
			continue;
		}
		if (bs_read_full(fd, &size, 8) != 8)
			rc = bs_err_set(e, BS_ETRUNC, "%s: cut short", it[i].url);
		else if (size != ABSENT)
			rc = bs_splitter_add(sp, bs_read_fd, &fd, it[i].rel, it[i].url, size);
	}
	bs_splitter_free(sp);
	return rc;
}

/* Count of TEND frames that end the selected records of a .bs. */
static size_t bs_records;

/* Copy the STREAM frame and the selected records read from the pipe. */
static int
consume_bs(int fd, const char *name, struct bs_writer *w, struct bs_err *e)
{
	struct bs_reader *r;
	struct bs_frame *f;
	size_t ends = 0;
	int rc = 0, rfd = dup(fd);

	/* the reader closes its fd; the pipe's is the caller's */
	if (rfd < 0 || !(r = bs_reader_open_fd(rfd, name))) {
		if (rfd >= 0)
			close(rfd);
		return bs_err_set(e, BS_ENOMEM, "out of memory");
	}
	while (ends < bs_records) {
		if ((rc = bs_reader_next(r, &f)) != 0) {
			rc = bs_err_set(e, rc == BS_EOF ? BS_ETRUNC : rc, "%s", rc == BS_EOF ?
			    "fetched records end early" : bs_reader_errmsg(r));
			break;
		}
		if (f->type == BS_F_TEND)
			ends++;
		if (f->type == BS_F_STREAM || f->type == BS_F_TENSOR || f->type == BS_F_CHUNK ||
		    f->type == BS_F_TEND) {
			if (bs_writer_copy(w, f) < 0)
				rc = bs_err_set(e, BS_EIO, "%s", bs_writer_errmsg(w));
		}
		bs_frame_free(f);
		if (rc < 0)
			break;
	}
	bs_reader_close(r);
	return rc;
}

/*
 * Run the producer over items and the consumer on this thread; write the
 * member to output (or stdout).  bs: the items are records of a .bs.
 */
static int
pipeline(struct item *it, size_t n, int bs, const char *what)
{
	struct bs_split_opts so = { 0 };
	struct bs_err e = { 0, "" };
	struct bs_output *out;
	struct bs_writer *w;
	struct job j;
	pthread_t th;
	int p[2], fd, rc;

	memset(&j, 0, sizeof j);
	j.it = it;
	j.n = n;
	if (pipe(p) < 0)
		bs_die(2, "pipe: %s", strerror(errno));
	fcntl(p[0], F_SETFD, FD_CLOEXEC);
	fcntl(p[1], F_SETFD, FD_CLOEXEC);
	fd = bs_out_open(output, force, &out);
	if (!(w = bs_writer_open_fd(fd, output ? output : "<stdout>")))
		bs_die(2, "out of memory");
	j.fd = p[1];
	if (pthread_create(&th, NULL, produce, &j) != 0)
		bs_die(2, "cannot start a thread");
	so.chunk_size = (uint32_t)chunk;
	if (bs)
		rc = consume_bs(p[0], what, w, &e);
	else if ((rc = bs_writer_stream(w, (uint32_t)chunk)) < 0)
		rc = bs_err_set(&e, BS_EIO, "%s", bs_writer_errmsg(w));
	else
		rc = consume_items(p[0], it, n, w, &so, &e);
	if (rc == 0) {
		/* the producer must have nothing left to say */
		char extra;
		if (read(p[0], &extra, 1) > 0)
			rc = bs_err_set(&e, BS_ECORRUPT, "%s: more bytes than expected", what);
	}
	close(p[0]);
	pthread_join(th, NULL);
	bs_progress_end(j.prog);
	if (j.rc < 0 && !j.pipe_broken) {
		rc = j.rc;
		e = j.e;
	}
	if (rc == 0 && bs_writer_end(w) < 0)
		rc = bs_err_set(&e, BS_EIO, "%s", bs_writer_errmsg(w));
	bs_writer_free(w);
	bs_out_close(out, output, rc == 0);
	if (rc < 0) {
		if (rc == BS_ECHECKSUM && !out)
			bs_die(1, "%s; what was written to stdout is not a complete stream", e.msg);
		bs_die(bs_err_status(rc), "%s", e.msg);
	}
	return 0;
}

/* ------------------------------------------------------------- selection */

static int
selected(const char *name)
{
	for (size_t i = 0; i < patterns.n; i++)
		if (fnmatch(patterns.v[i], name, 0) == 0)
			return 1;
	return 0;
}

static void
add_range(struct item *it, uint64_t off, uint64_t len)
{
	if (it->nr && it->r[it->nr - 1].off + it->r[it->nr - 1].len == off) {
		it->r[it->nr - 1].len += len;	/* adjacent: one request */
		return;
	}
	it->r = realloc(it->r, (it->nr + 1) * sizeof *it->r);
	if (!it->r)
		bs_die(2, "out of memory");
	it->r[it->nr].off = off;
	it->r[it->nr++].len = len;
}

/* The selected tensors of one safetensors file: header by range requests. */
static void
select_st(struct item *it)
{
	struct bs_http_result res;
	struct bs_err e = { 0, "" };
	struct mem m;
	uint64_t hlen;
	int rc;

	if ((rc = fetch_mem(it->url, 0, 65536, 65536, &m, &res, &e)) < 0)
		bs_die(bs_err_status(rc), "%s: %s", it->url, e.msg);
	if (m.n < 8)
		bs_die(1, "%s: too short for a safetensors header", it->url);
	memcpy(&hlen, m.p, 8);
	if (hlen > BS_MAX_ST_HEADER || (res.total != BS_SIZE_UNKNOWN && hlen > res.total - 8))
		bs_die(1, "%s: header length %llu is not plausible", it->url, (unsigned long long)hlen);
	if (8 + hlen > m.n) {
		uint64_t total = res.total;
		m.max = (size_t)(8 + hlen);
		if ((rc = bs_http_get(http, it->url, m.n, 8 + hlen - m.n, mem_sink, &m, &res, &e)) < 0)
			bs_die(bs_err_status(rc), "%s: %s", it->url, e.msg);
		res.total = total;
	}
	if (m.n < 8 + hlen)
		bs_die(1, "%s: header cut short", it->url);
	if ((rc = bs_st_parse(m.p + 8, hlen, res.total, &it->st, &e)) < 0)
		bs_die(bs_err_status(rc), "%s: %s", it->url, e.msg);
	free(m.p);
	it->ti = calloc(it->st.n ? it->st.n : 1, sizeof *it->ti);
	if (!it->ti)
		bs_die(2, "out of memory");
	for (size_t i = 0; i < it->st.n; i++) {
		const struct bs_st_tensor *t = &it->st.t[i];
		struct bs_tensor_info *ti = &it->ti[it->nti];
		if (memchr(t->name, 0, t->name_len) || !selected(t->name))
			continue;
		ti->kind = BS_T_TENSOR;
		ti->dtype = t->dtype;
		ti->rank = t->rank;
		memcpy(ti->shape, t->shape, t->rank * sizeof t->shape[0]);
		ti->size = t->end - t->begin;
		ti->name = t->name;
		ti->name_len = t->name_len;
		it->nti++;
		if (ti->size)
			add_range(it, 8 + hlen + t->begin, ti->size);
	}
}

/* Random access to a remote .bs for bs_index_read_at: a cached tail. */
struct remote {
	const char *url;
	struct mem tail;
	uint64_t tail_start;
	struct bs_err e;
};

static int
remote_read_at(void *arg, void *buf, size_t n, uint64_t off)
{
	struct remote *r = arg;
	struct bs_http_result res;
	struct mem m;

	if (off >= r->tail_start && off + n <= r->tail_start + r->tail.n) {
		memcpy(buf, r->tail.p + (off - r->tail_start), n);
		return 0;
	}
	if (fetch_mem(r->url, off, n, n, &m, &res, &r->e) < 0 || m.n != n) {
		free(m.p);
		if (!r->e.code)
			bs_err_set(&r->e, BS_EIO, "short answer");
		errno = EIO;
		return -1;
	}
	memcpy(buf, m.p, n);
	free(m.p);
	return 0;
}

/* The selected tensor records of a remote .bs, with its STREAM frame first. */
static void
select_bs(struct item *it)
{
	struct bs_http_result res;
	struct bs_index ix;
	struct remote r;
	struct bs_err e = { 0, "" };
	uint64_t start;
	int rc;

	memset(&r, 0, sizeof r);
	r.url = it->url;
	r.tail.max = 1 << 20;
	if ((rc = bs_http_tail(http, it->url, 16384, mem_sink, &r.tail, &res, &e)) < 0)
		bs_die(bs_err_status(rc), "%s: %s", it->url, e.msg);
	r.tail_start = res.start;
	if (res.total == BS_SIZE_UNKNOWN)
		bs_die(2, "%s: the server does not say the size", it->url);
	if ((rc = bs_index_read_at(res.total, remote_read_at, &r, &ix, &start, &e)) < 0) {
		if (r.e.code)
			bs_die(bs_err_status(r.e.code), "%s: %s", it->url, r.e.msg);
		bs_die(bs_err_status(rc), "%s: %s", it->url, e.msg);
	}
	free(r.tail.p);
	if (ix.n == 0)
		bs_die(1, "%s: the index is empty", it->url);
	add_range(it, start, ix.e[0].offset);	/* the STREAM frame */
	for (size_t i = 0; i < ix.n; i++) {
		const struct bs_index_entry *x = &ix.e[i];
		if (x->type != BS_F_TENSOR || x->kind == BS_T_BLOB || !selected(x->name))
			continue;
		add_range(it, start + x->offset, x->length);
		bs_records++;
		it->nti++;
	}
	bs_index_free(&ix);
}

/* ------------------------------------------------------------- the hub */

static int
cmp_item(const void *a, const void *b)
{
	return strcmp(((const struct item *)a)->rel, ((const struct item *)b)->rel);
}

static struct item *
new_item(struct item **v, size_t *n, const char *base, const char *rel, int kind)
{
	struct item *it;

	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i].rel, rel) == 0)
			return NULL;
	if (!(*v = realloc(*v, (*n + 1) * sizeof **v)))
		bs_die(2, "out of memory");
	it = &(*v)[(*n)++];
	memset(it, 0, sizeof *it);
	it->rel = xstrdup(rel);
	it->url = cat3(base, rel, "");
	it->kind = kind;
	return it;
}

/* A repo: index.json, or model.safetensors, or model.bs. */
static int
fetch_repo(struct src *s)
{
	static struct item *items;	/* until exit */
	static size_t n;
	struct bs_http_result res;
	struct bs_err e = { 0, "" };
	struct item *it;
	struct mem idx;
	char *url;
	int rc;

	url = cat3(s->base, "model.safetensors.index.json", "");
	rc = fetch_mem(url, 0, BS_SIZE_UNKNOWN, 64u << 20, &idx, &res, &e);
	if (rc < 0 && res.status != 404)
		bs_die(bs_err_status(rc), "%s: %s", url, e.msg);
	if (rc == 0) {
		json_error_t je;
		json_t *root = json_loadb((const char *)idx.p, idx.n, 0, &je), *wm, *v;
		const char *k;
		if (!root || !(wm = json_object_get(root, "weight_map")) || !json_is_object(wm))
			bs_die(1, "%s: not a safetensors index (no weight_map)", url);
		it = new_item(&items, &n, s->base, "model.safetensors.index.json", BS_FILE_BLOB);
		it->data = idx;
		json_object_foreach(wm, k, v) {
			const char *f = json_string_value(v);
			if (!f || !*f || strstr(f, "..") || f[0] == '/')
				bs_die(1, "%s: bad file name in weight_map", url);
			if (patterns.n && !selected(k))
				continue;
			new_item(&items, &n, s->base, f, patterns.n ? 0 : BS_FILE_SAFETENSORS);
		}
		json_decref(root);
		if (patterns.n) {
			/* only the shards holding a selected tensor, and not the index */
			free(items[0].rel);
			free(items[0].url);
			free(items[0].data.p);
			memmove(items, items + 1, --n * sizeof *items);
			if (n == 0)
				bs_die(1, "%s: no tensor matches", s->repo);
		}
	} else if (exists((free(url), url = cat3(s->base, "model.safetensors", "")))) {
		new_item(&items, &n, s->base, "model.safetensors", patterns.n ? 0 : BS_FILE_SAFETENSORS);
	} else {
		free(url);
		url = cat3(s->base, "model.bs", "");
		if (!exists(url))
			bs_die(2, "%s: no model.safetensors.index.json, model.safetensors or model.bs in the repo",
			    s->repo);
		if (patterns.n) {
			static struct item one;
			memset(&one, 0, sizeof one);
			one.url = url;
			select_bs(&one);
			if (!bs_records)
				bs_die(1, "%s: no tensor matches", url);
			return pipeline(&one, 1, 1, url);
		}
		rc = fetch_plain(url);
		free(url);
		return rc;
	}
	free(url);
	if (!patterns.n)
		for (const char *const *x = extras; *x; x++)
			if ((it = new_item(&items, &n, s->base, *x, BS_FILE_BLOB)))
				it->optional = 1;
	qsort(items, n, sizeof *items, cmp_item);
	if (patterns.n) {
		size_t total = 0;
		for (size_t i = 0; i < n; i++) {
			select_st(&items[i]);
			total += items[i].nti;
		}
		if (!total)
			bs_die(1, "%s: no tensor matches", s->repo);
	}
	return pipeline(items, n, 0, s->repo);
}

/* One file by URL with --split or --tensor. */
static int
fetch_file(const char *url)
{
	static struct item it;	/* until exit */
	int is_bs;

	memset(&it, 0, sizeof it);
	it.url = xstrdup(url);
	it.rel = xstrdup(basename_of(url));
	it.rel[strcspn(it.rel, "?#")] = 0;
	if (!ends_with(it.rel, ".safetensors") && !ends_with(it.rel, ".bs")) {
		/* --split reads a safetensors file, whatever its name */
		free(it.rel);
		it.rel = xstrdup("model.safetensors");
	}
	is_bs = ends_with(it.rel, ".bs");
	if (!patterns.n) {
		it.kind = BS_FILE_SAFETENSORS;
		return pipeline(&it, 1, 0, url);
	}
	if (is_bs) {
		select_bs(&it);
		if (!bs_records)
			bs_die(1, "%s: no tensor matches", url);
		return pipeline(&it, 1, 1, url);
	}
	select_st(&it);
	if (!it.nti)
		bs_die(1, "%s: no tensor matches", url);
	return pipeline(&it, 1, 0, url);
}

static double
seconds(const char *s, const char *opt)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || v < 0 || v > 86400)
		bs_die(2, "%s: not a number of seconds: %s", opt, s);
	return v;
}

int
main(int argc, char *argv[])
{
	struct bs_http_opts ho;
	static struct src s;	/* until exit */
	struct bs_err e = { 0, "" };
	const char *token;

	bs_proginit(argc, argv, "bs-fetch");
	bs_parse_args(&prog, &argc, &argv);
	if (retries < 0 || retries > 1000)
		bs_die(2, "--retries: must be between 0 and 1000");
	if (chunk < 4096 || chunk > BS_MAX_CHUNK || chunk % 64)
		bs_die(2, "chunk size must be a multiple of 64 between 4K and 64M");
	memset(&ho, 0, sizeof ho);
	ho.retries = (int)retries;
	ho.max_wait = seconds(max_wait_arg, "--max-wait");
	ho.stall = seconds(stall_arg, "--timeout");
	ho.log = log_line;
	resolve(argv[0], &s);
	token = getenv("HF_TOKEN");
	if (token && *token && s.base) {
		/* only to the hub the repo id names */
		ho.token = token;
		ho.token_prefix = s.base;
	}
	if (!(http = bs_http_new(&ho, &e)))
		bs_die(2, "%s", e.msg);
	if (cont && (split || patterns.n || !s.url))
		bs_die(2, "-C resumes a plain download: not with --split, --tensor or a whole repo");
	if (!s.url)
		fetch_repo(&s);
	else if (split || patterns.n)
		fetch_file(s.url);
	else
		fetch_plain(s.url);
	bs_http_free(http);
	free(patterns.v);
	free(s.url);
	free(s.base);
	return bs_finish(0);
}
