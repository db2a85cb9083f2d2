/*
 * bs-delta - express each tensor of a stream against the same-named tensor
 * of a base model: a residual (XOR or SUB, per chunk, whichever codes
 * smaller), a reference when identical, the tensor whole otherwise.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bs.h"

static const char *base_path, *output;
static int autopick, force;
static long long level = BS_LEVEL_DEFAULT, threads;

static const struct bs_opt opts[] = {
	{ 'b', "base", BS_OPT_STR, &base_path, "BASE", "the base: a safetensors file, a model folder or a .bs file", "file" },
	{ 'a', "auto", BS_OPT_FLAG, &autopick, NULL, "the operands are candidate bases: pick the best (stream on stdin)", NULL },
	{ 'T', "threads", BS_OPT_INT, &threads, "N", "choose residuals on N threads (default: all cores)", NULL },
	{ 'l', "level", BS_OPT_INT, &level, "LEVEL", "codec level: below 7 choose by estimate, from 7 by coding (default 3)", NULL },
	{ 'o', "output", BS_OPT_STR, &output, "FILE", "write to FILE (by rename when complete) instead of stdout", "file" },
	{ 'f', "force", BS_OPT_FLAG, &force, NULL, "write to a terminal anyway", NULL },
	{ 0, NULL, 0, NULL, NULL, NULL, NULL }
};

static const struct bs_prog prog = {
	"bs-delta", "{--base BASE [STREAM] | --auto BASE...} [-T N] [-l LEVEL] [-o FILE]",
	"Write a stream (STREAM, or stdin) as a delta against a base model.",
	opts, 0, -1
};

static const char *in = "-";

static int
same_shape(const struct bs_tensor_info *t, const struct bs_model_entry *b)
{
	return t->dtype == b->dtype && t->rank == b->rank &&
	    memcmp(t->shape, b->shape, t->rank * sizeof t->shape[0]) == 0 &&
	    t->size == b->size;
}

/* ------------------------------------------------------------- --auto */

static int
popcount_bytes(const uint8_t *a, const uint8_t *b, size_t n)
{
	int c = 0;

	for (size_t i = 0; i < n; i++)
		c += __builtin_popcount(a[i] ^ b[i]);
	return c;
}

/*
 * Estimated bytes a patch of ft against base would keep: a tensor without
 * a match counts whole, a matched one by the share of bits that differ in
 * a sample of it; blobs by size unless their hashes agree.
 */
static double
estimate(struct bs_model *ft, struct bs_model *base, double *matched)
{
	enum { SAMPLE = 4096 };
	uint8_t a[SAMPLE], b[SAMPLE];
	struct bs_err e;
	double cost = 0;

	*matched = 0;
	for (size_t i = 0; i < bs_model_count(ft); i++) {
		const struct bs_model_entry *t = bs_model_entry_at(ft, i), *m;
		struct bs_hash128 h1, h2;
		m = bs_model_find_entry(base, ft, t);
		if (!m || m->dtype != t->dtype || m->rank != t->rank || m->size != t->size ||
		    memcmp(m->shape, t->shape, t->rank * sizeof t->shape[0]) != 0) {
			cost += (double)t->size;
			continue;
		}
		*matched += (double)t->size;
		if (t->blob) {
			if (bs_model_hash(ft, t, &h1, &e) < 0 || bs_model_hash(base, m, &h2, &e) < 0 ||
			    h1.lo != h2.lo || h1.hi != h2.hi)
				cost += (double)t->size;
			continue;
		}
		if (t->size == 0)
			continue;
		size_t n = t->size < SAMPLE ? (size_t)t->size : SAMPLE;
		uint64_t off = (t->size - n) / 2;
		if (bs_model_read(ft, t, off, a, n, &e) < 0)
			bs_die(bs_err_status(e.code), "%s", e.msg);
		if (bs_model_read(base, m, off, b, n, &e) < 0)
			bs_die(bs_err_status(e.code), "%s", e.msg);
		cost += (double)t->size * popcount_bytes(a, b, n) / (8.0 * n);
	}
	return cost;
}

/* Pick the best of the candidate bases for the stream on fd (seekable);
 * *keep is the winner, open (a pipe given as a candidate is read once). */
static const char *
pick_base(int fd, char **cand, int ncand, struct bs_model **keep)
{
	struct bs_model *ft, *m;
	struct bs_err e;
	const char *best = NULL;
	double best_cost = 0, matched;

	if (bs_model_open_fd(fd, "<stdin>", &ft, &e) < 0)
		bs_die(bs_err_status(e.code), "%s", e.msg);
	for (int i = 0; i < ncand; i++) {
		double cost;
		if (bs_model_open(cand[i], &m, &e) < 0) {
			bs_warn("--auto: passing over a candidate: %s", e.msg);
			continue;
		}
		cost = estimate(ft, m, &matched);
		bs_info("--auto: %s: %.0f bytes matched by name, shape and dtype; estimated residual %.0f bytes",
		    cand[i], matched, cost);
		if (matched > 0 && (!best || cost < best_cost)) {
			best = cand[i];
			best_cost = cost;
			bs_model_close(*keep);
			*keep = m;
		} else
			bs_model_close(m);
	}
	bs_model_close(ft);
	if (!best)
		bs_die(1, "--auto: no candidate base shares a tensor with %s", "<stdin>");
	if (bs_verbose >= 0)
		fprintf(stderr, "%s: --auto: base %s\n", bs_progname, best);
	if (lseek(fd, 0, SEEK_SET) < 0)
		bs_die(2, "%s: %s", in, strerror(errno));
	return best;
}

/* -------------------------------------------------------------- delta */

/*
 * Everything written goes through an ordered pool as a job, so that the
 * residuals of delta chunks are chosen and coded on worker threads while
 * the output keeps the input's order.  The main thread reads, checks,
 * compares against the base and decides kinds; emit() writes.
 */
enum { J_COPY, J_FILE, J_TENSOR, J_CHUNK, J_DELTA, J_TEND, J_END };

struct job {
	int op;
	struct bs_frame *f;		/* J_COPY, J_CHUNK, J_DELTA, J_TEND: the frame read */
	const struct bs_frame *same;	/* J_COPY of a frame owned elsewhere */
	struct bs_frame *tensor;	/* J_TEND: the tensor's frame, freed after */
	struct bs_tensor_info ti;	/* J_TENSOR */
	struct bs_tend_info te;		/* J_TEND */
	struct bs_chunk_info ci;	/* J_CHUNK, J_DELTA: as written */
	const uint8_t *data;		/* J_CHUNK: ci.raw_len bytes */
	uint8_t *buf;			/* malloc'd: decoded raw bytes, or J_CHUNK data */
	uint8_t *base, *res, *coded;	/* J_DELTA */
	int force_x, force_codec;	/* J_DELTA: the tensor's choice, or -1 */
	size_t coded_len;
	int dtype, err;
};

struct ctx {
	struct bs_model *base;
	struct bs_writer *w;
	struct bs_reader *r;
	struct bs_pool *pool;
	struct bs_xxh128_state *h;
	/* the current tensor */
	struct bs_frame *tensor;	/* its TENSOR frame as read */
	const struct bs_model_entry *match;
	struct bs_hash128 base_hash;
	int written;			/* TENSOR frame out (kind decided) */
	/* a tensor of several chunks: the transform and codec chosen from its
	 * first delta chunk, on this thread, for all (-1: not yet or none) */
	int tx, tcodec;
	uint32_t *pending;		/* raw lengths of identical chunks held back */
	size_t npending, cap_pending;
	/* while every record of the current file refers to the base file of
	 * the same path (same header), its output is held back: at its end
	 * it becomes one file reference */
	const struct bs_model_file *bfile;
	struct job **held;
	size_t nheld, cap_held, file_refs;
	/* [0] tensors, [1] blobs */
	uint64_t tensors[2], refs[2], deltas, whole[2], files_ref;
};

static void
wdie(struct ctx *c)
{
	bs_die(2, "%s", bs_writer_errmsg(c->w));
}

static const char *
tname(const struct bs_tensor_info *t)
{
	static char buf[128];

	snprintf(buf, sizeof buf, "%.*s", (int)(t->name_len > 100 ? 100 : t->name_len), t->name);
	return buf;
}

/* Worker: choose and make the residual of one chunk. */
static void
run_delta(void *arg)
{
	struct job *j = arg;
	const uint8_t *raw = j->buf ? j->buf : j->f->payload;
	size_t n = j->ci.raw_len ? j->ci.raw_len : 1;
	int x;

	if (!(j->res = malloc(n)) || !(j->coded = malloc(n))) {
		j->err = BS_ENOMEM;
		return;
	}
	x = bs_delta_choose(j->dtype, raw, j->base, j->ci.offset, j->ci.raw_len, (int)level,
	    j->force_x, j->force_codec, j->res, j->coded, &j->coded_len, &j->ci.codec);
	if (x < 0)
		j->err = x;
	else
		j->ci.transform = (uint8_t)x;
}

static void
job_free(struct job *j)
{
	bs_frame_free(j->f);
	bs_frame_free(j->tensor);
	free(j->buf);
	free(j->base);
	free(j->res);
	free(j->coded);
	free(j);
}

static void
emit(struct ctx *c, struct job *j)
{
	int rc = 0;

	switch (j->op) {
	case J_COPY:
		rc = bs_writer_copy(c->w, j->f ? j->f : j->same);
		break;
	case J_FILE: {
		struct bs_file_info fi = j->f->u.file;
		fi.kind = BS_FILE_REF;
		fi.size = j->te.size;
		rc = bs_writer_file(c->w, &fi, NULL, 0);
		break;
	}
	case J_TENSOR:
		rc = bs_writer_tensor(c->w, &j->ti);
		break;
	case J_CHUNK:
		rc = bs_writer_chunk(c->w, &j->ci, j->data, j->ci.raw_len);
		break;
	case J_DELTA:
		if (j->err < 0)
			bs_die(bs_err_status(j->err), "%s: frame %llu: residual: out of memory",
			    bs_reader_name(c->r), (unsigned long long)j->f->number);
		rc = bs_writer_chunk(c->w, &j->ci, j->ci.codec == BS_C_NONE ? j->res : j->coded,
		    j->coded_len);
		break;
	case J_TEND:
		rc = j->f ? bs_writer_copy(c->w, j->f) : bs_writer_tend(c->w, &j->te);
		break;
	case J_END:
		rc = bs_writer_end(c->w);
		break;
	}
	if (rc < 0)
		wdie(c);
	job_free(j);
}

/* Queue a job (run: on a worker), writing finished ones to make room. */
static void
submit_now(struct ctx *c, struct job *j, int run)
{
	while (bs_pool_full(c->pool))
		emit(c, bs_pool_take(c->pool));
	/* the frame read; a chunk's base, residual and coded bytes */
	bs_pool_submit(c->pool, j, run, (j->f ? j->f->size : 0) +
	    3 * (uint64_t)j->ci.raw_len);
}

/* The file is not a reference after all: out with what was held. */
static void
stop_holding(struct ctx *c)
{
	c->bfile = NULL;
	for (size_t i = 0; i < c->nheld; i++)
		submit_now(c, c->held[i], 0);
	c->nheld = 0;
}

static void
submit(struct ctx *c, struct job *j, int run)
{
	if (c->bfile && run)
		stop_holding(c);
	if (c->bfile) {
		if (c->nheld == c->cap_held) {
			c->cap_held = c->cap_held ? 2 * c->cap_held : 64;
			if (!(c->held = realloc(c->held, c->cap_held * sizeof *c->held)))
				bs_die(2, "out of memory");
		}
		c->held[c->nheld++] = j;
		return;
	}
	submit_now(c, j, run);
}

static struct job *
job_new(int op)
{
	struct job *j = calloc(1, sizeof *j);

	if (!j)
		bs_die(2, "out of memory");
	j->op = op;
	return j;
}

static void
put_copy(struct ctx *c, struct bs_frame *f)
{
	struct job *j = job_new(J_COPY);

	j->f = f;
	submit(c, j, 0);
}

/* Write the TENSOR frame of the current tensor as kind, with its base. */
static void
put_tensor(struct ctx *c, int kind)
{
	struct job *j = job_new(J_TENSOR);
	struct bs_tensor_info *ti = &j->ti;

	if (kind != BS_T_REF)
		stop_holding(c);
	*ti = c->tensor->u.tensor;
	ti->kind = (uint8_t)kind;
	if (kind == BS_T_DELTA || kind == BS_T_REF) {
		ti->base_hash = c->base_hash;
		/* an empty base name: the base tensor of the same name */
		ti->base_name = c->match->name;
		ti->base_name_len = 0;
		if (kind == BS_T_REF && ti->size == BS_SIZE_UNKNOWN)
			ti->size = c->match->size;
	}
	submit(c, j, 0);
	c->written = 1;
}

/* The chunks held back while the tensor still equalled its base. */
static void
flush_pending(struct ctx *c, int blob)
{
	struct bs_err e;
	uint64_t off = 0;

	for (size_t i = 0; i < c->npending; i++) {
		struct bs_chunk_info ci = { BS_C_NONE, blob ? BS_X_NONE : BS_X_XOR, c->pending[i], off };
		uint8_t *buf = blob ? malloc(ci.raw_len ? ci.raw_len : 1) : calloc(1, ci.raw_len ? ci.raw_len : 1);
		struct job *j;
		if (!buf)
			bs_die(2, "out of memory");
		if (blob && bs_model_read(c->base, c->match, off, buf, ci.raw_len, &e) < 0)
			bs_die(bs_err_status(e.code), "%s", e.msg);
		j = job_new(J_CHUNK);
		j->ci = ci;
		j->buf = buf;
		j->data = buf;
		submit(c, j, 0);
		off += ci.raw_len;
	}
	c->npending = 0;
}

static void
on_tensor(struct ctx *c, struct bs_frame *f)
{
	const struct bs_tensor_info *t = &f->u.tensor;
	const struct bs_model_entry *m;
	struct bs_err e;

	if (t->kind == BS_T_DELTA || t->kind == BS_T_REF)
		bs_die(1, "%s: tensor '%s' is already a delta", bs_reader_name(c->r), tname(t));
	c->tensor = f;
	c->match = NULL;
	c->written = 0;
	c->tx = c->tcodec = -1;
	c->npending = 0;
	c->tensors[t->kind == BS_T_BLOB]++;
	bs_xxh128_reset(c->h);
	/* the base's tensor of that name, in its file of the same path when
	 * several files have one (a model of several parts) */
	const struct bs_file_info *fi = bs_reader_file(c->r);
	m = bs_model_find_in(c->base, fi ? fi->path : NULL, fi ? fi->path_len : 0,
	    t->name, t->name_len, t->kind == BS_T_BLOB);
	if (m && (t->kind == BS_T_BLOB ? (t->size == BS_SIZE_UNKNOWN || t->size == m->size) : same_shape(t, m))) {
		if (bs_model_hash(c->base, m, &c->base_hash, &e) < 0)
			bs_die(bs_err_status(e.code), "%s", e.msg);
		c->match = m;
		return;			/* kind decided by the chunks */
	}
	c->whole[t->kind == BS_T_BLOB]++;
	stop_holding(c);
	/* written as read; the frame stays with c->tensor until its TEND */
	struct job *j = job_new(J_COPY);
	j->same = f;
	submit(c, j, 0);
	c->written = 1;
}

static void
on_chunk(struct ctx *c, struct bs_frame *f)
{
	const struct bs_chunk_info *ci = &f->u.chunk;
	const struct bs_tensor_info *t = &c->tensor->u.tensor;
	const uint8_t *raw = f->payload;
	int blob = t->kind == BS_T_BLOB, rc;
	uint8_t *dec = NULL, *basebuf = NULL;
	struct job *j;
	struct bs_err e;
	size_t n = ci->raw_len ? ci->raw_len : 1;

	if (ci->codec != BS_C_NONE) {
		dec = bs_xmalloc(n);
		rc = bs_chunk_decode(ci->codec, t->dtype, f->payload, f->payload_len, dec, ci->raw_len);
		if (rc < 0) {
			free(dec);
			bs_die(bs_err_status(rc), "%s: frame %llu: tensor '%s': payload does not decode",
			    bs_reader_name(c->r), (unsigned long long)f->number, tname(t));
		}
		raw = dec;
	}
	bs_xxh128_update(c->h, raw, ci->raw_len);
	if (!c->match) {
		free(dec);
		put_copy(c, f);
		return;
	}
	if (ci->offset + ci->raw_len <= c->match->size) {
		basebuf = bs_xmalloc(n);
		if (bs_model_read(c->base, c->match, ci->offset, basebuf, ci->raw_len, &e) < 0) {
			free(dec);
			free(basebuf);
			bs_die(bs_err_status(e.code), "%s", e.msg);
		}
		if (!c->written && memcmp(raw, basebuf, ci->raw_len) == 0) {
			if (c->npending == c->cap_pending) {
				c->cap_pending = c->cap_pending ? 2 * c->cap_pending : 64;
				c->pending = realloc(c->pending, c->cap_pending * sizeof *c->pending);
				if (!c->pending)
					bs_die(2, "out of memory");
			}
			c->pending[c->npending++] = ci->raw_len;
			free(dec);
			free(basebuf);
			bs_frame_free(f);
			return;
		}
	} else if (!blob) {
		free(dec);
		bs_die(1, "%s: tensor '%s': chunk past the end of its base", bs_reader_name(c->r), tname(t));
	}
	if (!c->written) {
		/* it differs: a delta (a blob travels whole) */
		put_tensor(c, blob ? BS_T_BLOB : BS_T_DELTA);
		blob ? c->whole[1]++ : c->deltas++;
		flush_pending(c, blob);
	}
	j = job_new(blob ? J_CHUNK : J_DELTA);
	j->f = f;
	j->buf = dec;
	j->ci = *ci;
	j->ci.codec = BS_C_NONE;
	j->dtype = t->dtype;
	if (blob) {
		free(basebuf);
		j->ci.transform = BS_X_NONE;
		j->data = raw;
		submit(c, j, 0);
		return;
	}
	j->base = basebuf;
	j->force_x = j->force_codec = -1;
	if (level < BS_LEVEL_TRY_ALL && ci->raw_len < t->size) {
		/* several chunks: decide once, from the first delta chunk */
		if (c->tx < 0) {
			int x;
			uint8_t k;
			rc = bs_delta_decide(t->dtype, raw, basebuf, ci->offset, ci->raw_len, &x, &k);
			if (rc == BS_ENOMEM)
				bs_die(2, "out of memory");
			if (rc == 0)
				c->tx = x, c->tcodec = k;
		}
		j->force_x = c->tx;
		j->force_codec = c->tcodec;
	}
	submit(c, j, 1);
}

/* The TEND frame; the tensor's frame goes with it, freed once written. */
static void
on_tend(struct ctx *c, struct bs_frame *f)
{
	struct bs_hash128 h = bs_xxh128_digest(c->h);
	const struct bs_tensor_info *t = &c->tensor->u.tensor;
	struct job *j = job_new(J_TEND);

	if (h.lo != f->u.tend.hash.lo || h.hi != f->u.tend.hash.hi)
		bs_die(1, "%s: frame %llu: tensor '%s': checksum mismatch (XXH3-128 of its raw bytes)",
		    bs_reader_name(c->r), (unsigned long long)f->number, tname(t));
	j->te = f->u.tend;
	j->f = f;
	if (!c->written) {
		if (j->te.size != c->match->size) {
			/* a blob that ends before its base's: whole */
			put_tensor(c, BS_T_BLOB);
			c->whole[1]++;
			flush_pending(c, 1);
		} else {
			put_tensor(c, BS_T_REF);
			c->refs[t->kind == BS_T_BLOB]++;
			c->file_refs++;
			j->te.chunks = 0;
			j->f = NULL;
			bs_frame_free(f);
		}
	}
	j->tensor = c->tensor;
	c->tensor = NULL;
	submit(c, j, 0);
}

/* A file record: held back while it may turn out to equal the base's. */
static void
on_file(struct ctx *c, struct bs_frame *f)
{
	const struct bs_file_info *fi = &f->u.file;
	const struct bs_model_file *bf;
	uint8_t *hdr = NULL;
	size_t hlen = 0;
	struct bs_err e;
	int same;

	if (fi->kind == BS_FILE_REF)
		bs_die(1, "%s: file '%.*s' is already a reference to a base's file: the input is a delta",
		    bs_reader_name(c->r), (int)(fi->path_len > 100 ? 100 : fi->path_len), fi->path);
	stop_holding(c);
	bf = bs_model_file_find(c->base, fi->path, fi->path_len);
	same = bf && bf->kind == fi->kind && (fi->size == BS_SIZE_UNKNOWN || fi->size == bf->size);
	if (same && bf->kind == BS_FILE_SAFETENSORS) {
		if (bs_model_file_header(c->base, bf, &hdr, &hlen, &e) < 0)
			bs_die(bs_err_status(e.code), "%s", e.msg);
		same = hlen == f->payload_len && memcmp(hdr, f->payload, hlen) == 0;
		free(hdr);
	}
	if (same) {	/* hold from the file frame on: it is held[0] */
		c->bfile = bf;
		c->file_refs = 0;
	}
	put_copy(c, f);
}

/* The end of a file: every record a reference to the base's file of the
 * same path and size is one file reference. */
static void
on_fend(struct ctx *c, struct bs_frame *f)
{
	struct job *j;

	if (!c->bfile || c->file_refs != c->bfile->count || f->u.fend.size != c->bfile->size) {
		stop_holding(c);
		put_copy(c, f);
		return;
	}
	c->bfile = NULL;
	c->files_ref++;
	/* the file frame went out held as the first job: keep its frame */
	j = job_new(J_FILE);
	j->f = c->held[0]->f;
	c->held[0]->f = NULL;
	j->te.size = f->u.fend.size;
	for (size_t i = 0; i < c->nheld; i++)
		job_free(c->held[i]);
	c->nheld = 0;
	submit_now(c, j, 0);
	put_copy(c, f);
}

int
main(int argc, char *argv[])
{
	struct ctx c = { 0 };
	struct bs_err e = { 0, "" };
	struct bs_output *out;
	struct bs_frame *f;
	int fd, infd = -1, rc, nthr;

	bs_proginit(argc, argv, "bs-delta");
	bs_parse_args(&prog, &argc, &argv);
	if (level < 1 || level > 19)
		bs_die(2, "--level: must be between 1 and 19");
	if (threads < 0 || threads > 1024)
		bs_die(2, "--threads: must be between 0 (all cores) and 1024");
	if (autopick) {
		if (base_path)
			bs_die(2, "--auto and --base exclude each other");
		if (argc < 1)
			bs_die(2, "--auto: give the candidate bases as operands");
		infd = STDIN_FILENO;
		if (lseek(infd, 0, SEEK_CUR) < 0 && (infd = bs_spool_fd(STDIN_FILENO, "<stdin>", &e)) < 0)
			bs_die(2, "%s", e.msg);
		base_path = pick_base(infd, argv, argc, &c.base);
	} else {
		if (!base_path)
			bs_die(2, "no base: give --base BASE or --auto BASE...");
		if (argc > 1)
			bs_die(2, "extra operand '%s'", argv[1]);
		if (argc)
			in = argv[0];
	}
	if (!c.base && bs_model_open(base_path, &c.base, &e) < 0)
		bs_die(bs_err_status(e.code), "%s", e.msg);
	if (infd >= 0)
		c.r = bs_reader_open_fd(infd, "<stdin>");
	else
		c.r = bs_reader_open(in);
	if (!c.r)
		bs_die(2, "%s: %s", in, strerror(errno));
	fd = bs_out_open(output, force, &out);
	if (!(c.w = bs_writer_open_fd(fd, output ? output : "<stdout>")))
		bs_die(2, "out of memory");
	nthr = threads ? (int)threads : bs_ncpu();
	c.h = bs_xxh128_new();
	c.pool = bs_pool_new(nthr, bs_pool_budget(nthr), run_delta);
	if (!c.h || !c.pool)
		bs_die(2, "out of memory");
	while ((rc = bs_reader_next(c.r, &f)) == 0) {
		switch (f->type) {
		case BS_F_TENSOR:	/* the reader checks the nesting */
			on_tensor(&c, f);
			break;
		case BS_F_CHUNK:
			on_chunk(&c, f);
			break;
		case BS_F_TEND:
			on_tend(&c, f);
			break;
		case BS_F_FILE:
			on_file(&c, f);
			break;
		case BS_F_FEND:
			on_fend(&c, f);
			break;
		case BS_F_INDEX:
		case BS_F_PARITY:
			bs_frame_free(f);	/* rebuilt, or no longer valid */
			break;
		case BS_F_END:
			bs_frame_free(f);
			stop_holding(&c);
			submit(&c, job_new(J_END), 0);
			break;
		default:
			put_copy(&c, f);
			break;
		}
	}
	while (!bs_pool_empty(c.pool))
		emit(&c, bs_pool_take(c.pool));
	if (rc < 0) {
		bs_out_close(out, output, 0);
		bs_die(bs_err_status(rc), "%s: %s", bs_reader_name(c.r), bs_reader_errmsg(c.r));
	}
	bs_pool_free(c.pool);
	bs_writer_free(c.w);
	bs_out_close(out, output, 1);
#define S(n) ((n) == 1 ? "" : "s")
	bs_info("%s: %llu tensor%s against %s: %llu reference%s, %llu delta%s, %llu whole",
	    bs_reader_name(c.r), (unsigned long long)c.tensors[0], S(c.tensors[0]), base_path,
	    (unsigned long long)c.refs[0], S(c.refs[0]), (unsigned long long)c.deltas,
	    S(c.deltas), (unsigned long long)c.whole[0]);
	if (c.tensors[1])
		bs_info("%s: %llu blob%s (files other than safetensors): %llu reference%s, %llu whole",
		    bs_reader_name(c.r), (unsigned long long)c.tensors[1], S(c.tensors[1]),
		    (unsigned long long)c.refs[1], S(c.refs[1]), (unsigned long long)c.whole[1]);
	if (c.files_ref)
		bs_info("%s: %llu file%s identical to the base's, written as file references",
		    bs_reader_name(c.r), (unsigned long long)c.files_ref, S(c.files_ref));
#undef S
	bs_frame_free(c.tensor);
	free(c.pending);
	free(c.held);
	bs_xxh128_free(c.h);
	bs_model_close(c.base);
	bs_reader_close(c.r);
	return bs_finish(0);
}
