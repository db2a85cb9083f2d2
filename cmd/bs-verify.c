/*
 * bs-verify - check a stream: every frame, every payload checksum and, by
 * decoding on all cores, every tensor's XXH3-128 and every file's SHA-256;
 * optionally against the original files.  It keeps going after damage,
 * resynchronising at the next intact frame, and reports every problem.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bs.h"

static long long threads, sample = LLONG_MIN;	/* LLONG_MIN: not given */
static int fast, tee_flag;
static const char *against, *base_path;
static struct bs_model *base;

static int force;

static const struct bs_opt opts[] = {
	{ 0, "fast", BS_OPT_FLAG, &fast, NULL, "check only what needs no decoding: frames and payload checksums", NULL },
	{ 'n', "sample", BS_OPT_INT, &sample, "N", "decode N tensors spread across the stream, the rest as with --fast", NULL },
	{ 'T', "threads", BS_OPT_INT, &threads, "N", "decode on N threads (default: all cores)", NULL },
	{ 'a', "against", BS_OPT_STR, &against, "PATH", "also compare with the original safetensors file or model folder", "file" },
	{ 'b', "base", BS_OPT_STR, &base_path, "BASE", "rebuild delta tensors against BASE (model or stream) to check them", "file" },
	{ 't', "tee", BS_OPT_FLAG, &tee_flag, NULL, "copy the stream to stdout (the report goes to stderr)", NULL },
	{ 'f', "force", BS_OPT_FLAG, &force, NULL, "with --tee, write to a terminal anyway", NULL },
	{ 0, NULL, 0, NULL, NULL, NULL, NULL }
};

static const struct bs_prog prog = {
	"bs-verify", "[--fast | -n N] [-T N] [-a PATH] [-b BASE] [-t [-f]] [STREAM]",
	"Check every frame, checksum, tensor and file of a bigsmall stream (STREAM, or stdin).",
	opts, 0, 1
};

static const char *in;		/* the input's name */
static FILE *rep;		/* the report: stdout, or stderr with --tee */
static uint64_t problems;

__attribute__((format(printf, 1, 2)))
static void
report(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	problems++;
	if (bs_verbose < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	fprintf(rep, "%s: %s\n", in, buf);
}

/* A printable copy of a name, malloc'd. */
static char *
printable(const char *p, size_t n)
{
	return bs_printable(p, n, 200);
}

/* ------------------------------------------------------ the originals */

struct orig_tensor {
	char *name;
	uint32_t name_len;
	struct bs_hash128 hash;
	int seen;
};
struct orig_file {
	char *rel, *full;
	int seen;
};
static struct orig_file *origs;
static size_t norigs;

static void
add_orig(const char *rel, const char *full)
{
	if (!(origs = realloc(origs, (norigs + 1) * sizeof *origs)))
		bs_die(2, "out of memory");
	origs[norigs].rel = strdup(rel);
	origs[norigs].full = strdup(full);
	origs[norigs].seen = 0;
	if (!origs[norigs].rel || !origs[norigs].full)
		bs_die(2, "out of memory");
	norigs++;
}

static void
load_origs(const char *path)
{
	struct stat sb;

	if (stat(path, &sb) < 0)
		bs_die(2, "%s: %s", path, strerror(errno));
	if (S_ISDIR(sb.st_mode)) {	/* the files bs-split takes */
		struct bs_err e;
		char **names, *full;
		size_t n;
		if (bs_folder_files(path, &names, &n, &e) < 0)
			bs_die(bs_err_status(e.code), "%s", e.msg);
		for (size_t i = 0; i < n; i++) {
			if (asprintf(&full, "%s/%s", path, names[i]) < 0)
				bs_die(2, "out of memory");
			add_orig(names[i], full);
			free(full);
		}
		bs_folder_files_free(names, n);
	} else {
		const char *slash = strrchr(path, '/');
		add_orig(slash ? slash + 1 : path, path);
	}
}

/* The original of the file record rel, hashed: its SHA-256 and, for a
 * safetensors file, the XXH3-128 of each tensor (a blob: of its bytes). */
struct orig {
	struct orig_file *file;
	uint8_t sha[32];
	int sha_ok, st_ok;
	struct orig_tensor *t;
	size_t n, hint;
};

static void
orig_free(struct orig *o)
{
	for (size_t i = 0; i < o->n; i++)
		free(o->t[i].name);
	free(o->t);
	memset(o, 0, sizeof *o);
}

static void
orig_load(struct orig *o, const char *rel, size_t rel_len, int kind)
{
	struct bs_sha256 *sha = bs_sha256_new();
	struct bs_xxh128_state *xh = bs_xxh128_new();
	struct bs_st st;
	struct bs_err e = { 0, "" };
	uint8_t *buf = bs_xmalloc(1u << 20), lenbuf[8];
	uint64_t hlen = 0, pos = 0, dpos;
	size_t k = 0;
	ssize_t got;
	int fd;

	memset(o, 0, sizeof *o);
	memset(&st, 0, sizeof st);
	if (!sha || !xh)
		bs_die(2, "out of memory");
	for (size_t i = 0; i < norigs; i++)
		if (strlen(origs[i].rel) == rel_len && memcmp(origs[i].rel, rel, rel_len) == 0)
			o->file = &origs[i];
	if (!o->file)
		goto out;
	o->file->seen = 1;
	if ((fd = open(o->file->full, O_RDONLY | O_CLOEXEC)) < 0)
		bs_die(2, "%s: %s", o->file->full, strerror(errno));
	if (kind == BS_FILE_SAFETENSORS) {
		struct stat sb;
		uint8_t *json;
		if (fstat(fd, &sb) < 0 || bs_read_full(fd, lenbuf, 8) != 8)
			goto notst;
		memcpy(&hlen, lenbuf, 8);
		if (hlen > BS_MAX_ST_HEADER || hlen > (uint64_t)sb.st_size - 8)
			goto notst;
		json = bs_xmalloc((size_t)hlen);
		if (bs_read_full(fd, json, (size_t)hlen) != (ssize_t)hlen ||
		    bs_st_parse(json, hlen, (uint64_t)sb.st_size, &st, &e) < 0) {
			free(json);
			goto notst;
		}
		bs_sha256_update(sha, lenbuf, 8);
		bs_sha256_update(sha, json, (size_t)hlen);
		free(json);
		o->st_ok = 1;
		o->n = st.n;
		o->t = calloc(st.n ? st.n : 1, sizeof *o->t);
		if (!o->t)
			bs_die(2, "out of memory");
		for (size_t i = 0; i < st.n; i++) {
			o->t[i].name = st.t[i].name;
			o->t[i].name_len = st.t[i].name_len;
			st.t[i].name = NULL;
		}
		pos = 8 + hlen;
notst:
		if (!o->st_ok) {
			report("original %s: not a valid safetensors file%s%s: its tensors are not compared",
			    o->file->full, e.msg[0] ? ": " : "", e.msg);
			lseek(fd, 0, SEEK_SET);
			pos = 0;
		}
	}
	/* the rest of the file: the SHA-256 of all, the XXH3-128 of each
	 * tensor's bytes (they tile the data, in order of begin) */
	dpos = pos;
	bs_xxh128_reset(xh);
	while ((got = bs_read_full(fd, buf, 1u << 20)) > 0) {
		uint64_t lo = pos - dpos, hi = lo + (uint64_t)got;
		bs_sha256_update(sha, buf, (size_t)got);
		if (kind == BS_FILE_BLOB)
			bs_xxh128_update(xh, buf, (size_t)got);
		while (o->st_ok && k < st.n) {
			uint64_t a = st.t[k].begin > lo ? st.t[k].begin : lo;
			uint64_t b = st.t[k].end < hi ? st.t[k].end : hi;
			if (a < b)
				bs_xxh128_update(xh, buf + (a - lo), (size_t)(b - a));
			if (st.t[k].end > hi)
				break;
			o->t[k++].hash = bs_xxh128_digest(xh);
			bs_xxh128_reset(xh);
		}
		pos += (uint64_t)got;
	}
	if (got < 0)
		bs_die(2, "%s: read error: %s", o->file->full, strerror(errno));
	for (; o->st_ok && k < st.n; k++) {	/* empty tensors at the end */
		o->t[k].hash = bs_xxh128_digest(xh);
		bs_xxh128_reset(xh);
	}
	if (kind == BS_FILE_BLOB) {
		o->n = 1;
		o->t = calloc(1, sizeof *o->t);
		if (!o->t)
			bs_die(2, "out of memory");
		o->t[0].hash = bs_xxh128_digest(xh);
		o->t[0].name = strdup("");
	}
	bs_sha256_final(sha, o->sha);
	o->sha_ok = 1;
	close(fd);
out:
	if (o->st_ok)
		bs_st_free(&st);
	free(buf);
	bs_sha256_free(sha);
	bs_xxh128_free(xh);
}

/* The original tensor of that name, or NULL. */
static struct orig_tensor *
orig_tensor(struct orig *o, const char *name, size_t len, int blob)
{
	if (blob)
		return o->n ? &o->t[0] : NULL;
	for (size_t j = 0; j < o->n; j++) {
		size_t i = (o->hint + j) % o->n;
		if (o->t[i].name_len == len && memcmp(o->t[i].name, name, len) == 0) {
			o->hint = i + 1;
			return &o->t[i];
		}
	}
	return NULL;
}

/* --------------------------------------------------- sampling plan */

/* Tensors in the stream, from the footers of a seekable input; -1 if
 * not known. */
static long long
count_tensors(int fd)
{
	off_t cur = lseek(fd, 0, SEEK_CUR), end = lseek(fd, 0, SEEK_END);
	long long n = 0;

	if (cur < 0 || end < 0)
		return -1;
	while (end > 0) {
		uint8_t foot[BS_FOOTER_SIZE];
		struct bs_frame f;
		const char *why;
		memset(&f, 0, sizeof f);
		if (end < (off_t)BS_FOOTER_SIZE ||
		    pread(fd, foot, sizeof foot, end - BS_FOOTER_SIZE) != (ssize_t)sizeof foot ||
		    bs_frame_header_parse(foot, &f.type, &f.flags, &f.meta_len, &f.payload_len, &why) < 0 ||
		    f.type != BS_F_END || f.meta_len != BS_END_META || f.payload_len != 0) {
			n = -1;
			break;
		}
		f.bytes = foot;
		f.meta = foot + BS_FRAME_HEADER;
		f.payload = f.meta + BS_END_META;
		if (bs_frame_meta_parse(&f, &why) < 0 || f.u.end.member_len > (uint64_t)end ||
		    f.u.end.member_len < BS_FOOTER_SIZE || f.u.end.tensors > (1ull << 40)) {
			n = -1;
			break;
		}
		n += (long long)f.u.end.tensors;
		end -= (off_t)f.u.end.member_len;
	}
	lseek(fd, cur, SEEK_SET);
	return n;
}

static long long total_tensors = -1;

/* Decode tensor number i (from 0)? */
static int
selected(long long i)
{
	if (fast)
		return 0;
	if (sample < 0)
		return 1;
	if (total_tensors <= 0)
		return i < sample;	/* not seekable: the first N */
	return (i + 1) * sample / total_tensors > i * sample / total_tensors;
}

/* -------------------------------------------------------------- tee */

struct teeing {
	int in, pipe_w;
	uint8_t tail[BS_FOOTER_SIZE];
	size_t tail_len;
	volatile int werr;		/* errno of a failed write to stdout */
	int rerr;
	pthread_t th;
};

/* Copy the input to the reader's pipe and to stdout, holding back its last
 * bytes (the last END frame) until the stream is known to be good.  When
 * stdout fails (a reader downstream that stopped, on bad data perhaps),
 * the copy stops but the checking goes on to the end: the report is what
 * the user waits for. */
static void *
tee_run(void *arg)
{
	struct teeing *t = arg;
	size_t cap = 256u << 10, held = 0;
	uint8_t *b = bs_xmalloc(cap + BS_FOOTER_SIZE);
	ssize_t got;

	for (;;) {
		size_t total, out;
		if ((got = read(t->in, b + held, cap)) < 0) {
			if (errno == EINTR)
				continue;
			__atomic_store_n(&t->rerr, errno, __ATOMIC_RELEASE);
			break;
		}
		if (got == 0)
			break;
		if (bs_write_all(t->pipe_w, b + held, (size_t)got) < 0)
			break;		/* the reader is gone */
		total = held + (size_t)got;
		out = total > BS_FOOTER_SIZE ? total - BS_FOOTER_SIZE : 0;
		if (!t->werr && out && bs_write_all(STDOUT_FILENO, b, out) < 0)
			t->werr = errno;
		memmove(b, b + out, total - out);
		held = total - out;
	}
	memcpy(t->tail, b, held);
	t->tail_len = held;
	close(t->pipe_w);
	free(b);
	return NULL;
}

/* The copy's failure, said after the report; a reader that went away
 * (EPIPE) is no news. */
static void
tee_werr(struct teeing *t)
{
	if (t->werr != EPIPE)
		bs_error("<stdout>: write error: %s: the copy stopped; the whole input was checked",
		    strerror(t->werr));
}

/* ------------------------------------------------------------- checking */

enum { J_FRAME, J_ERROR, J_RESYNC };

struct job {
	int kind;
	struct bs_frame *f;
	int dtype, decode;
	uint8_t *buf;			/* decoded bytes */
	const uint8_t *raw;		/* the chunk's raw bytes, when decoded */
	int err;
	char *msg;			/* J_ERROR */
	struct bs_resync_info ri;	/* J_RESYNC */
	int eof;
};

static void
run_job(void *arg)
{
	struct job *j = arg;
	const struct bs_chunk_info *c;

	if (j->kind != J_FRAME || j->f->type != BS_F_CHUNK || !j->decode)
		return;
	c = &j->f->u.chunk;
	if (c->codec == BS_C_NONE) {
		j->raw = j->f->payload;
		return;
	}
	if (!(j->buf = malloc(c->raw_len))) {
		j->err = BS_ENOMEM;
		return;
	}
	j->err = bs_chunk_decode(c->codec, j->dtype, j->f->payload, j->f->payload_len,
	    j->buf, c->raw_len);
	if (j->err == 0)
		j->raw = j->buf;
}

static void
free_job(struct job *j)
{
	bs_frame_free(j->f);
	free(j->buf);
	free(j->msg);
	free(j);
}

/* What the checker knows of the record being read. */
struct rec {
	int open, bad;
	char *name;			/* printable */
	char *raw;			/* the name's bytes */
	uint32_t raw_len;
	uint8_t kind;
	int blob;			/* a file's bytes (dtype BYTES), not a tensor */
	int hash_ok;			/* every raw byte seen, hash checkable */
	const struct bs_model_entry *base;	/* a delta's base tensor, with --base */
	uint64_t offset;		/* of its first frame, from member start */
	int ref;			/* a file reference: 1, and 2 with ref_sha */
	uint8_t ref_sha[32];		/* the base file's SHA-256, with --base */
};

struct idx_rec {			/* a record as the index should list it */
	uint8_t type, kind, dtype;
	uint64_t offset, length, size;
	uint64_t name_hash;
	uint32_t name_len;
};

static struct checker {
	struct rec t, f;
	struct bs_xxh128_state *xh;
	struct bs_sha256 *sha;
	struct orig orig;
	int have_orig;
	uint64_t member_start;
	int member_damaged;
	struct idx_rec *ix;
	size_t nix, capix, open_ix_file, open_ix_tensor;
	/* counts */
	uint64_t members, frames, chunks, raw_bytes;
	uint64_t tensors, blobs, t_ok, t_bad, t_payload_only, f_ref;
	uint64_t t_delta[2];		/* delta, reference records without --base */
	uint64_t files, f_ok, f_bad, f_unchecked;
	uint64_t a_tensors, a_files;	/* --against: differ, extra or missing */
} ck;

static void
ix_add(const struct bs_frame *f, uint8_t type, uint8_t kind, uint8_t dtype, const char *name,
    uint32_t len, uint64_t size)
{
	struct idx_rec *e;

	if (ck.nix == ck.capix) {
		ck.capix = ck.capix ? 2 * ck.capix : 64;
		if (!(ck.ix = realloc(ck.ix, ck.capix * sizeof *ck.ix)))
			bs_die(2, "out of memory");
	}
	e = &ck.ix[ck.nix++];
	e->type = type;
	e->kind = kind;
	e->dtype = dtype;
	e->offset = f->offset - ck.member_start;
	e->length = 0;
	e->size = size;
	e->name_hash = bs_xxh64(name, len);
	e->name_len = len;
	if (type == BS_F_FILE)
		ck.open_ix_file = ck.nix;
	else
		ck.open_ix_tensor = ck.nix;
}

static void
ix_close(const struct bs_frame *f, size_t *open, uint64_t size)
{
	if (*open) {
		struct idx_rec *e = &ck.ix[*open - 1];
		e->length = f->offset + f->size - ck.member_start - e->offset;
		e->size = size;
	}
	*open = 0;
}

/* Check the entries of an INDEX frame against the records read. */
static void
check_index(const struct bs_frame *f)
{
	struct bs_index ix;
	const char *why = "";
	size_t i;
	int rc;

	if (ck.member_damaged)
		return;
	rc = bs_index_parse(f->payload, f->payload_len, f->offset - ck.member_start + 1, &ix, &why);
	if (rc == BS_ENOMEM)
		bs_die(2, "out of memory");
	if (rc < 0) {
		report("frame %llu (INDEX) at offset %llu: %s",
		    (unsigned long long)f->number, (unsigned long long)f->offset, why);
		return;
	}
	for (i = 0; i < ix.n && i < ck.nix; i++) {
		const struct bs_index_entry *e = &ix.e[i];
		const struct idx_rec *w = &ck.ix[i];
		if (e->type != w->type || e->kind != w->kind || e->dtype != w->dtype ||
		    e->offset != w->offset || e->length != w->length || e->size != w->size ||
		    e->name_len != w->name_len || bs_xxh64(e->name, e->name_len) != w->name_hash) {
			char *n = printable(e->name, e->name_len);
			report("frame %llu (INDEX) at offset %llu: entry %zu ('%s') does not describe the record at offset %llu of the member",
			    (unsigned long long)f->number, (unsigned long long)f->offset, i, n,
			    (unsigned long long)w->offset);
			free(n);
			break;
		}
	}
	if (i == ix.n && ix.n != ck.nix)
		report("frame %llu (INDEX) at offset %llu: the index lists %zu records, the member holds %zu",
		    (unsigned long long)f->number, (unsigned long long)f->offset, ix.n, ck.nix);
	bs_index_free(&ix);
}

static void
close_tensor(int lost)
{
	if (!ck.t.open)
		return;
	if (lost) {
		ck.tensors++;
		ck.blobs += ck.t.blob;
		ck.t_bad++;
		if (ck.f.open)
			ck.f.hash_ok = 0;
	}
	free(ck.t.name);
	free(ck.t.raw);
	memset(&ck.t, 0, sizeof ck.t);
}

static void
close_file(int lost)
{
	if (!ck.f.open)
		return;
	if (lost) {
		ck.files++;
		ck.f_bad++;
	}
	free(ck.f.name);
	free(ck.f.raw);
	memset(&ck.f, 0, sizeof ck.f);
	if (ck.have_orig)
		orig_free(&ck.orig);
	ck.have_orig = 0;
}

/* A file reference: with --base, the SHA-256 of the base's file of that
 * path, for its FEND to match; without, nothing can be checked. */
static void
file_ref(const struct bs_frame *f)
{
	const struct bs_file_info *fi = &f->u.file;
	const struct bs_model_file *bf;
	struct bs_err e;

	ck.f.hash_ok = 0;
	ck.f.ref = 1;
	if (!base) {
		ck.f_ref++;
		return;
	}
	if (!(bf = bs_model_file_find(base, fi->path, fi->path_len))) {
		report("frame %llu (FILE) at offset %llu: file reference '%s': the base %s has no such file",
		    (unsigned long long)f->number, (unsigned long long)f->offset, ck.f.name,
		    bs_model_path(base));
		ck.f.bad = 1;
		return;
	}
	if (bs_model_file_sha256(base, bf, ck.f.ref_sha, &e) < 0) {
		report("file reference '%s': %s", ck.f.name, e.msg);
		ck.f.bad = 1;
		return;
	}
	ck.f.ref = 2;
}

/* With --base: the base tensor of the DELTA or REF record f, checked
 * against the record's dtype, shape and base hash; NULL with a report. */
static const struct bs_model_entry *
find_base(const struct bs_frame *f)
{
	const struct bs_tensor_info *t = &f->u.tensor;
	const struct bs_model_entry *m;
	struct bs_hash128 h;
	struct bs_err e = { 0, "" };
	char *bn;
	int blob = t->dtype == BS_DT_BYTES;

	/* an empty base name: the base tensor of the same name */
	const char *bname = t->base_name_len ? t->base_name : t->name;
	uint32_t blen = t->base_name_len ? t->base_name_len : t->name_len;

	bn = printable(bname, blen);
	m = bs_model_find_in(base, ck.f.open ? ck.f.raw : NULL, ck.f.raw_len, bname, blen, blob);
	if (!m)
		report("frame %llu (TENSOR) at offset %llu: tensor '%s': the base %s has no %s '%s'",
		    (unsigned long long)f->number, (unsigned long long)f->offset, ck.t.name,
		    bs_model_path(base), blob ? "file" : "tensor", bn);
	else if (m->dtype != t->dtype || m->size != t->size || m->rank != t->rank ||
	    memcmp(m->shape, t->shape, t->rank * sizeof t->shape[0]) != 0) {
		report("frame %llu (TENSOR) at offset %llu: tensor '%s': base tensor '%s' has another dtype or shape: wrong base",
		    (unsigned long long)f->number, (unsigned long long)f->offset, ck.t.name, bn);
		m = NULL;
	} else if (bs_model_hash(base, m, &h, &e) < 0) {
		if (bs_err_status(e.code) == 2)
			bs_die(2, "%s", e.msg);
		report("%s", e.msg);
		m = NULL;
	} else if (h.lo != t->base_hash.lo || h.hi != t->base_hash.hi) {
		report("frame %llu (TENSOR) at offset %llu: tensor '%s': base tensor '%s' is not the one the delta was made against (XXH3-128 differs)",
		    (unsigned long long)f->number, (unsigned long long)f->offset, ck.t.name, bn);
		m = NULL;
	}
	free(bn);
	if (!m)
		ck.t.bad = 1;
	ck.t.base = m;
	return m;
}

static uint8_t *basebuf, *rebuilt;

/* Read n bytes at off of the base tensor; 0, or -1 with a report. */
static int
base_read(uint64_t off, size_t n)
{
	struct bs_err e = { 0, "" };

	if (!basebuf)
		basebuf = bs_xmalloc(BS_MAX_CHUNK);
	if (bs_model_read(base, ck.t.base, off, basebuf, n, &e) < 0) {
		if (bs_err_status(e.code) == 2)
			bs_die(2, "%s", e.msg);
		report("%s", e.msg);
		ck.t.bad = 1;
		ck.t.hash_ok = ck.f.hash_ok = 0;
		return -1;
	}
	return 0;
}

/* A REF tensor is its base's bytes. */
static void
ref_bytes(const struct bs_frame *f)
{
	for (uint64_t off = 0; off < ck.t.base->size;) {
		size_t n = ck.t.base->size - off < BS_DEFAULT_CHUNK ? (size_t)(ck.t.base->size - off) : BS_DEFAULT_CHUNK;
		if (base_read(off, n) < 0)
			return;
		bs_xxh128_update(ck.xh, basebuf, n);
		if (ck.f.hash_ok)
			bs_sha256_update(ck.sha, basebuf, n);
		off += n;
	}
}

/* Rebuild a delta chunk from its residual and the base; hash it. */
static void
rebuild(const struct bs_frame *f, const struct job *j)
{
	const struct bs_chunk_info *c = &f->u.chunk;

	if (!ck.t.hash_ok || base_read(c->offset, c->raw_len) < 0)
		return;
	if (!rebuilt)
		rebuilt = bs_xmalloc(BS_MAX_CHUNK);
	if (bs_delta_inverse(c->transform, j->dtype, j->raw, basebuf, rebuilt, c->raw_len) < 0) {
		report("frame %llu (CHUNK) at offset %llu: tensor '%s': chunk transform %u does not apply to its dtype",
		    (unsigned long long)f->number, (unsigned long long)f->offset, ck.t.name, c->transform);
		ck.t.bad = 1;
		ck.t.hash_ok = ck.f.hash_ok = 0;
		return;
	}
	bs_xxh128_update(ck.xh, rebuilt, c->raw_len);
	if (ck.f.hash_ok)
		bs_sha256_update(ck.sha, rebuilt, c->raw_len);
}

static const char *
tname(void)
{
	return ck.t.open ? ck.t.name : "?";
}

static void
on_frame(struct job *j)
{
	struct bs_frame *f = j->f;

	ck.frames++;
	switch (f->type) {
	case BS_F_STREAM:
		close_tensor(1);
		close_file(1);
		ck.members++;
		ck.member_start = f->offset;
		ck.member_damaged = 0;
		ck.nix = ck.open_ix_file = ck.open_ix_tensor = 0;
		break;
	case BS_F_FILE: {
		const struct bs_file_info *fi = &f->u.file;
		close_file(1);
		ck.f.open = 1;
		ck.f.name = printable(fi->path, fi->path_len);
		ck.f.raw = bs_xmalloc(fi->path_len + 1);
		memcpy(ck.f.raw, fi->path, fi->path_len);
		ck.f.raw_len = fi->path_len;
		ck.f.kind = fi->kind;
		ck.f.hash_ok = 1;
		bs_sha256_free(ck.sha);
		if (!(ck.sha = bs_sha256_new()))
			bs_die(2, "out of memory");
		bs_sha256_update(ck.sha, f->payload, f->payload_len);
		ix_add(f, BS_F_FILE, fi->kind, 0, fi->path, fi->path_len, fi->size);
		if (fi->kind == BS_FILE_REF)
			file_ref(f);
		if (against) {
			orig_load(&ck.orig, fi->path, fi->path_len, fi->kind);
			ck.have_orig = 1;
			if (!ck.orig.file) {
				report("frame %llu (FILE) at offset %llu: file '%s' is extra: not in %s",
				    (unsigned long long)f->number, (unsigned long long)f->offset, ck.f.name, against);
				ck.a_files++;
			}
		}
		break;
	}
	case BS_F_TENSOR: {
		const struct bs_tensor_info *t = &f->u.tensor;
		close_tensor(1);
		ck.t.open = 1;
		ck.t.name = printable(t->name, t->name_len);
		ck.t.raw = bs_xmalloc(t->name_len + 1);
		memcpy(ck.t.raw, t->name, t->name_len);
		ck.t.raw_len = t->name_len;
		ck.t.kind = t->kind;
		ck.t.blob = t->dtype == BS_DT_BYTES;
		ck.t.hash_ok = j->decode && (t->kind == BS_T_TENSOR || t->kind == BS_T_BLOB);
		bs_xxh128_reset(ck.xh);
		if (t->kind == BS_T_DELTA || t->kind == BS_T_REF) {
			if (base && j->decode && find_base(f))
				ck.t.hash_ok = 1;
			else if (!base)
				ck.t_delta[t->kind == BS_T_REF]++;
		}
		if (!ck.t.hash_ok && ck.f.open)
			ck.f.hash_ok = 0;
		if (ck.t.base && t->kind == BS_T_REF)
			ref_bytes(f);
		ix_add(f, BS_F_TENSOR, t->kind, t->dtype, t->name, t->name_len, t->size);
		break;
	}
	case BS_F_CHUNK: {
		const struct bs_chunk_info *c = &f->u.chunk;
		ck.chunks++;
		ck.raw_bytes += c->raw_len;
		if (j->err < 0) {
			const struct bs_codec *k = bs_codec_by_id(c->codec);
			char what[64];
			if (k)
				snprintf(what, sizeof what, "%s payload does not decode", k->name);
			else
				snprintf(what, sizeof what, "unknown codec %u (written by a newer version?)", c->codec);
			report("frame %llu (CHUNK) at offset %llu: tensor '%s', chunk at %llu: %s",
			    (unsigned long long)f->number, (unsigned long long)f->offset, tname(),
			    (unsigned long long)c->offset, j->err == BS_ENOMEM ? "out of memory" : what);
			ck.t.bad = 1;
			ck.t.hash_ok = ck.f.hash_ok = 0;
			break;
		}
		if (!j->raw) {
			ck.t.hash_ok = 0;
			if (ck.t.kind == BS_T_TENSOR || ck.t.kind == BS_T_BLOB)
				ck.f.hash_ok = 0;
			break;
		}
		if (ck.t.base)
			rebuild(f, j);
		else {
			if (ck.t.hash_ok)
				bs_xxh128_update(ck.xh, j->raw, c->raw_len);
			if (ck.f.hash_ok)
				bs_sha256_update(ck.sha, j->raw, c->raw_len);
		}
		break;
	}
	case BS_F_TEND: {
		const struct bs_tend_info *te = &f->u.tend;
		ck.tensors++;
		ck.blobs += ck.t.blob;
		if (ck.t.bad) {
			ck.t_bad++;
			ck.f.bad = ck.f.open;
		} else if (ck.t.hash_ok) {
			struct bs_hash128 h = bs_xxh128_digest(ck.xh);
			if (h.lo != te->hash.lo || h.hi != te->hash.hi) {
				report("frame %llu (TEND) at offset %llu: tensor '%s': checksum mismatch (XXH3-128 of its raw bytes)",
				    (unsigned long long)f->number, (unsigned long long)f->offset, tname());
				ck.t_bad++;
				ck.f.bad = ck.f.open;
			} else
				ck.t_ok++;
		} else {
			ck.t_ok++;
			ck.t_payload_only++;
		}
		/* a blob's bytes are its file's: the file's SHA-256 at FEND
		 * compares them, once */
		if (ck.have_orig && ck.orig.file && ck.t.open && ck.orig.st_ok && !ck.t.blob) {
			struct orig_tensor *o = orig_tensor(&ck.orig, ck.t.raw, ck.t.raw_len,
			    ck.t.kind == BS_T_BLOB);
			if (!o) {
				report("frame %llu (TEND) at offset %llu: tensor '%s' of '%s' is extra: not in the original",
				    (unsigned long long)f->number, (unsigned long long)f->offset, tname(), ck.f.name);
				ck.a_tensors++;
			} else {
				o->seen = 1;
				if (o->hash.lo != te->hash.lo || o->hash.hi != te->hash.hi) {
					report("frame %llu (TEND) at offset %llu: tensor '%s' of '%s' differs from the original",
					    (unsigned long long)f->number, (unsigned long long)f->offset, tname(), ck.f.name);
					ck.a_tensors++;
				}
			}
		}
		ix_close(f, &ck.open_ix_tensor, te->size);
		close_tensor(0);
		break;
	}
	case BS_F_FEND: {
		const struct bs_fend_info *fe = &f->u.fend;
		uint8_t d[32];
		ck.files++;
		if (ck.f.bad)
			ck.f_bad++;
		else if (ck.f.ref == 2) {
			if (memcmp(ck.f.ref_sha, fe->sha256, 32) != 0) {
				report("frame %llu (FEND) at offset %llu: file reference '%s': the base's file does not match the one the patch was made against (SHA-256 differs)",
				    (unsigned long long)f->number, (unsigned long long)f->offset, ck.f.name);
				ck.f_bad++;
			} else
				ck.f_ok++;
		} else if (ck.f.hash_ok) {
			bs_sha256_final(ck.sha, d);
			if (memcmp(d, fe->sha256, 32) != 0) {
				report("frame %llu (FEND) at offset %llu: file '%s': SHA-256 of the rebuilt file does not match",
				    (unsigned long long)f->number, (unsigned long long)f->offset, ck.f.name);
				ck.f_bad++;
			} else
				ck.f_ok++;
		} else
			ck.f_unchecked++;
		if (ck.have_orig && ck.orig.file) {
			if (memcmp(ck.orig.sha, fe->sha256, 32) != 0) {
				report("frame %llu (FEND) at offset %llu: file '%s' differs from the original %s (SHA-256)",
				    (unsigned long long)f->number, (unsigned long long)f->offset, ck.f.name, ck.orig.file->full);
				ck.a_files++;
			}
			for (size_t i = 0; ck.orig.st_ok && i < ck.orig.n; i++)
				if (!ck.orig.t[i].seen) {
					char *n = printable(ck.orig.t[i].name, ck.orig.t[i].name_len);
					report("file '%s': tensor '%s' of the original is missing from the stream", ck.f.name, n);
					ck.a_tensors++;
					free(n);
				}
		}
		ix_close(f, &ck.open_ix_file, fe->size);
		close_file(0);
		break;
	}
	case BS_F_INDEX:
		check_index(f);
		break;
	case BS_F_END:
		close_tensor(1);
		close_file(1);
		break;
	}
}

static void
on_job(struct job *j)
{
	switch (j->kind) {
	case J_FRAME:
		on_frame(j);
		break;
	case J_ERROR: {
		char ctx[512] = "";
		if (ck.t.open)
			snprintf(ctx, sizeof ctx, " (in tensor '%.200s'%s%.200s%s)", ck.t.name,
			    ck.f.open ? " of '" : "", ck.f.open ? ck.f.name : "", ck.f.open ? "'" : "");
		else if (ck.f.open)
			snprintf(ctx, sizeof ctx, " (in file '%.200s')", ck.f.name);
		report("%s%s", j->msg, ctx);
		break;
	}
	case J_RESYNC: {
		const struct bs_resync_info *ri = &j->ri;
		ck.member_damaged = 1;
		if (bs_verbose >= 0 && (ri->bytes || !j->eof)) {	/* nothing to say of 0 bytes */
			if (j->eof)
				fprintf(rep, "%s: skipped %llu bytes from offset %llu to the end of the input%s\n", in,
				    (unsigned long long)ri->bytes, (unsigned long long)ri->from,
				    ri->cut ? " (no end record: the last member is incomplete)" : "");
			else
				fprintf(rep, "%s: skipped %llu bytes from offset %llu, resuming at offset %llu%s\n", in,
				    (unsigned long long)ri->bytes, (unsigned long long)ri->from,
				    (unsigned long long)ri->to, ri->frames ? " (intact frames of the damaged record passed over)" : "");
		}
		close_tensor(1);
		if (!ri->file_kept || j->eof)
			close_file(1);
		else
			ck.f.bad = 1;	/* it goes on, short of what was lost */
		/* records and files whose start was lost: bad too */
		ck.tensors += ri->records;
		ck.t_bad += ri->records;
		ck.files += ri->files;
		ck.f_bad += ri->files;
		break;
	}
	}
}

static struct job *
new_job(int kind)
{
	struct job *j = calloc(1, sizeof *j);

	if (!j)
		bs_die(2, "out of memory");
	j->kind = kind;
	return j;
}

/* Hand a job to the pool, in order; check the oldest ones while it is full. */
static void
submit(struct bs_pool *pool, struct job *j)
{
	while (bs_pool_full(pool)) {
		struct job *done = bs_pool_take(pool);
		on_job(done);
		free_job(done);
	}
	int run = j->kind == J_FRAME && j->f->type == BS_F_CHUNK && j->decode;
	/* the frame read, and a chunk's decoded bytes */
	bs_pool_submit(pool, j, run, (j->f ? j->f->size : 0) +
	    (run ? j->f->u.chunk.raw_len : 0));
}

int
main(int argc, char *argv[])
{
	struct bs_reader *r;
	struct bs_pool *pool;
	struct bs_frame *f;
	const struct bs_tensor_info *ti;
	struct teeing tp;
	uint64_t nread;
	long long tensor_no = 0;
	int rc, fd, cur_decode = 0, nthreads, eof = 0, status;
	double t0 = bs_now();

	bs_proginit(argc, argv, "bs-verify");
	bs_parse_args(&prog, &argc, &argv);
	in = argc ? argv[0] : "-";
	if (threads < 0 || threads > 1024)
		bs_die(2, "--threads: must be between 0 (all cores) and 1024");
	if ((sample != LLONG_MIN && sample < 0) || (sample >= 0 && fast))
		bs_die(2, "--sample: give a count of 0 or more, and not with --fast");
	rep = tee_flag ? stderr : stdout;
	if (tee_flag)
		bs_refuse_tty(STDOUT_FILENO, force, "a binary stream");
	if (against)
		load_origs(against);
	if (base_path) {
		struct bs_err e = { 0, "" };
		if (bs_model_open(base_path, &base, &e) < 0)
			bs_die(bs_err_status(e.code) == 1 ? 1 : 2, "%s", e.msg);
	}
	if (strcmp(in, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(in, O_RDONLY | O_CLOEXEC)) < 0)
		bs_die(2, "%s: %s", in, strerror(errno));
	if (fd == STDIN_FILENO)
		in = "<stdin>";
	if (sample >= 0)
		total_tensors = count_tensors(fd);
	if (tee_flag) {
		int p[2];
		if (bs_same_file(fd, STDOUT_FILENO))
			bs_die(2, "%s: input is output: --tee would copy the file onto itself", in);
		memset(&tp, 0, sizeof tp);
		if (pipe(p) < 0)
			bs_die(2, "pipe: %s", strerror(errno));
		tp.in = fd;
		tp.pipe_w = p[1];
		if (pthread_create(&tp.th, NULL, tee_run, &tp) != 0)
			bs_die(2, "cannot start a thread");
		fd = p[0];
	}
	if (!(r = bs_reader_open_fd(fd, in)))
		bs_die(2, "out of memory");
	nthreads = fast ? 1 : threads ? (int)threads : bs_ncpu();
	pool = bs_pool_new(nthreads, bs_pool_budget(nthreads), run_job);
	ck.xh = bs_xxh128_new();
	if (!pool || !ck.xh)
		bs_die(2, "out of memory");
	while (!eof) {
		struct job *j;
		rc = bs_reader_next(r, &f);
		/* the copy could not read the input: that, not what the reader
		 * made of the input cut short, is the error */
		if (rc < 0 && tee_flag && __atomic_load_n(&tp.rerr, __ATOMIC_ACQUIRE))
			bs_die(2, "%s: read error: %s", in, strerror(tp.rerr));
		if (rc == BS_EOF)
			break;
		if (rc < 0) {
			if (rc == BS_EIO || rc == BS_ENOMEM)
				bs_die(2, "%s: %s", in, bs_reader_errmsg(r));
			j = new_job(J_ERROR);
			if (!(j->msg = strdup(bs_reader_errmsg(r))))
				bs_die(2, "out of memory");
			submit(pool, j);
			j = new_job(J_RESYNC);
			rc = bs_reader_resync(r, &f, &j->ri);
			if (rc == BS_EIO || rc == BS_ENOMEM)
				bs_die(2, "%s: %s", in, bs_reader_errmsg(r));
			j->eof = eof = rc == BS_EOF;
			submit(pool, j);
			if (eof)
				break;
		}
		j = new_job(J_FRAME);
		j->f = f;
		if (f->type == BS_F_TENSOR)
			cur_decode = selected(tensor_no++);
		ti = bs_reader_tensor(r);
		j->dtype = ti ? ti->dtype : BS_DT_UNKNOWN;
		j->decode = cur_decode && (f->type == BS_F_CHUNK || f->type == BS_F_TENSOR);
		submit(pool, j);
	}
	while (!bs_pool_empty(pool)) {
		struct job *done = bs_pool_take(pool);
		on_job(done);
		free_job(done);
	}
	bs_pool_free(pool);
	close_tensor(0);
	close_file(0);
	if (ck.members == 0 && problems == 0)
		report("no bigsmall stream found");
	for (size_t i = 0; i < norigs; i++)
		if (!origs[i].seen) {
			report("file '%s' of %s is missing from the stream", origs[i].rel, against);
			ck.a_files++;
		}
	nread = bs_reader_offset(r);
	ck.files += bs_reader_lost_files(r);
	ck.f_bad += bs_reader_lost_files(r);
	bs_reader_close(r);
	if (tee_flag) {
		pthread_join(tp.th, NULL);
		if (tp.rerr)
			bs_die(2, "%s: read error: %s", in, strerror(tp.rerr));
		/* the last bytes go out only when the stream checked out; else
		 * a frame cut short after its sync marker, so that the next
		 * program fails even when the bad part was in those last bytes
		 * (junk after a whole stream) */
		if (!tp.werr && bs_write_all(STDOUT_FILENO, problems ? bs_sync : tp.tail,
		    problems ? sizeof bs_sync : tp.tail_len) < 0)
			tp.werr = errno;
	}
	if (bs_verbose >= 0) {
		char only[64] = "", unbuilt[64] = "", blobs[48] = "";
		if (ck.t_payload_only)
			snprintf(only, sizeof only, " (%llu with payload checks only)", (unsigned long long)ck.t_payload_only);
		if (ck.f_unchecked)
			snprintf(unbuilt, sizeof unbuilt, " (%llu not rebuilt)", (unsigned long long)ck.f_unchecked);
		if (ck.blobs)	/* counted apart, as bs-info does */
			snprintf(blobs, sizeof blobs, " and %llu blob%s", (unsigned long long)ck.blobs,
			    ck.blobs == 1 ? "" : "s");
		fprintf(rep, "%s: %llu tensors%s: %llu ok%s, %llu bad; %llu file%s: %llu ok%s, %llu bad; "
		    "%llu raw bytes, %llu stream bytes; %.2f s\n",
		    in, (unsigned long long)(ck.tensors - ck.blobs), blobs, (unsigned long long)ck.t_ok, only,
		    (unsigned long long)ck.t_bad, (unsigned long long)ck.files, ck.files == 1 ? "" : "s",
		    (unsigned long long)(ck.f_ok + ck.f_unchecked), unbuilt, (unsigned long long)ck.f_bad,
		    (unsigned long long)ck.raw_bytes, (unsigned long long)nread, bs_now() - t0);
		if (against)
			fprintf(rep, "%s: against %s: %llu tensor%s and %llu file%s differ or are missing or extra\n",
			    in, against, (unsigned long long)ck.a_tensors, ck.a_tensors == 1 ? "" : "s",
			    (unsigned long long)ck.a_files, ck.a_files == 1 ? "" : "s");
		if (ck.t_delta[0])
			fprintf(rep, "%s: %llu delta tensor%s: residuals checked; the rebuilt tensors are not checked without --base\n",
			    in, (unsigned long long)ck.t_delta[0], ck.t_delta[0] == 1 ? "" : "s");
		if (ck.t_delta[1])
			fprintf(rep, "%s: %llu reference%s to the base's tensors or blobs: not checked without --base\n",
			    in, (unsigned long long)ck.t_delta[1], ck.t_delta[1] == 1 ? "" : "s");
		if (ck.f_ref)
			fprintf(rep, "%s: %llu file references: not checked without --base\n",
			    in, (unsigned long long)ck.f_ref);
		if (problems)
			fprintf(rep, "%s: BAD: %llu problem%s\n", in, (unsigned long long)problems,
			    problems == 1 ? "" : "s");
		else
			fprintf(rep, "%s: OK%s\n", in, fast ? " (--fast: structure and payload checksums)" :
			    sample >= 0 ? " (--sample: the tensors not sampled have payload checks only)" : "");
	}
	status = problems ? 1 : 0;
	if (tee_flag && tp.werr) {
		tee_werr(&tp);
		if (!status)
			status = 2;
	}
	bs_sha256_free(ck.sha);
	bs_xxh128_free(ck.xh);
	free(ck.ix);
	free(basebuf);
	free(rebuilt);
	if (base)
		bs_model_close(base);
	if (tee_flag && fd != STDIN_FILENO)
		close(tp.in);
	return bs_finish(status);
}
