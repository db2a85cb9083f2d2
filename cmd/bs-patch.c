/*
 * bs-patch - undo bs-delta: rebuild every DELTA and REF tensor of a stream
 * from the base model, after checking that the base tensor is the one the
 * delta was made against, and check each rebuilt tensor's XXH3-128.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bs.h"

static const char *base_path, *output;
static int force;
static long long threads;

static const struct bs_opt opts[] = {
	{ 'b', "base", BS_OPT_STR, &base_path, "BASE", "the base: a safetensors file, a model folder or a .bs file", "file" },
	{ 'T', "threads", BS_OPT_INT, &threads, "N", "rebuild on N threads (default: all cores)", NULL },
	{ 'o', "output", BS_OPT_STR, &output, "FILE", "write to FILE (by rename when complete) instead of stdout", "file" },
	{ 'f', "force", BS_OPT_FLAG, &force, NULL, "write to a terminal anyway", NULL },
	{ 0, NULL, 0, NULL, NULL, NULL, NULL }
};

static const struct bs_prog prog = {
	"bs-patch", "--base BASE [-T N] [-o FILE] [STREAM]",
	"Rebuild the full raw stream from a delta stream (STREAM, or stdin) and its base.",
	opts, 0, 1
};

/*
 * Every frame written goes through an ordered pool as a job: chunks are
 * decoded and rebuilt from their residual on worker threads, and emit()
 * writes them in order, hashing the rebuilt bytes as they go by.
 */
enum { J_COPY, J_FILE, J_TENSOR, J_CHUNK, J_TEND, J_TENDX, J_FEND, J_END };

struct job {
	int op;
	struct bs_frame *f;		/* the frame read (J_TENSOR: owned till its TEND) */
	struct bs_tensor_info ti;	/* J_TENSOR: as written */
	struct bs_file_info fi;		/* J_FILE: as written (buf: its payload) */
	struct bs_frame *hold;		/* J_FEND: the FILE frame of a reference */
	size_t len;			/* J_FILE: payload length */
	struct bs_chunk_info ci;	/* J_CHUNK */
	int dtype, rebuild;		/* J_CHUNK: of its tensor; against base bytes */
	const uint8_t *data;		/* J_CHUNK: raw_len bytes written */
	uint8_t *buf, *base;		/* malloc'd */
	const struct bs_model *bm;	/* J_CHUNK: base bytes to read on the worker */
	const struct bs_model_entry *bt;
	struct bs_err berr;		/* reading them failed */
	int err;			/* BS_E* of the worker */
};

struct ctx {
	struct bs_model *base;
	struct bs_writer *w;
	struct bs_reader *r;
	struct bs_pool *pool;
	struct bs_xxh128_state *h;
	uint32_t chunk_size;		/* of the member, for rebuilt references */
	struct bs_frame *tensor;	/* read side: the current tensor */
	const struct bs_model_entry *match;
	struct bs_frame *out_tensor;	/* write side: the tensor being written */
	int out_match;
	uint32_t chunks;
	/* write side: a file reference being rebuilt, its bytes hashed */
	struct bs_sha256 *sha;
	int sha_on;
	struct bs_frame *ref_file;	/* read side: the FILE frame of a reference */
};

static const char *
tname(const char *name, uint32_t len)
{
	static char buf[2][128];
	static int k;

	k ^= 1;
	snprintf(buf[k], sizeof buf[k], "%.*s", (int)(len > 100 ? 100 : len), name);
	return buf[k];
}

static void
wdie(struct ctx *c)
{
	bs_die(2, "%s", bs_writer_errmsg(c->w));
}

/* Worker: decode the chunk and undo its transform against the base. */
static void
run_chunk(void *arg)
{
	struct job *j = arg;
	const struct bs_chunk_info *ci = &j->f->u.chunk;
	size_t n = ci->raw_len ? ci->raw_len : 1;
	int rc;

	j->data = j->f->payload;
	if (j->bm) {	/* the base bytes, read here (pread: any thread) */
		j->base = malloc(n);
		if (!j->base || bs_model_pread(j->bm, j->bt, ci->offset, j->base,
		    ci->raw_len, &j->berr) < 0) {
			if (!j->base)
				bs_err_set(&j->berr, BS_ENOMEM, "out of memory");
			j->err = j->berr.code;
			return;
		}
	}
	if (ci->codec == BS_C_NONE && !j->rebuild)
		return;
	if (!(j->buf = malloc(n))) {
		j->err = BS_ENOMEM;
		return;
	}
	if (ci->codec != BS_C_NONE) {
		if ((rc = bs_chunk_decode(ci->codec, j->dtype, j->f->payload, j->f->payload_len,
		    j->buf, ci->raw_len)) < 0) {
			j->err = rc;
			return;
		}
		j->data = j->buf;
	}
	if (j->rebuild) {
		if (bs_delta_inverse(ci->transform, j->dtype, j->data, j->base, j->buf, ci->raw_len) < 0) {
			j->err = BS_EUNSUPPORTED;
			return;
		}
		j->data = j->buf;
	}
}

static void
emit(struct ctx *c, struct job *j)
{
	const struct bs_tensor_info *t = c->out_tensor ? &c->out_tensor->u.tensor : NULL;
	struct bs_frame *f = j->f;
	int rc = 0;

	switch (j->op) {
	case J_COPY:
		rc = bs_writer_copy(c->w, f);
		break;
	case J_FILE:
		bs_sha256_final(c->sha, (uint8_t[32]){ 0 });	/* reset */
		c->sha_on = 1;
		bs_sha256_update(c->sha, j->buf, j->len);
		rc = bs_writer_file(c->w, &j->fi, j->buf, j->len);
		break;
	case J_TENSOR:
		bs_xxh128_reset(c->h);
		c->chunks = 0;
		c->out_tensor = f;
		c->out_match = j->rebuild;
		rc = j->rebuild ? bs_writer_tensor(c->w, &j->ti) : bs_writer_copy(c->w, f);
		j->f = NULL;		/* freed at its TEND */
		break;
	case J_TENDX: {	/* a tensor of a file reference: its hash computed */
		struct bs_tend_info te = { j->ti.size, c->chunks, bs_xxh128_digest(c->h) };
		rc = bs_writer_tend(c->w, &te);
		break;
	}
	case J_FEND:
		if (j->hold) {
			uint8_t d[32];
			bs_sha256_final(c->sha, d);
			c->sha_on = 0;
			if (memcmp(d, f->u.fend.sha256, 32) != 0)
				bs_die(1, "%s: frame %llu at offset %llu: file '%s' of the base %s does not match the one the patch was made against (SHA-256 differs): wrong or modified base",
				    bs_reader_name(c->r), (unsigned long long)f->number, (unsigned long long)f->offset,
				    tname(j->hold->u.file.path, j->hold->u.file.path_len), bs_model_path(c->base));
		}
		rc = bs_writer_copy(c->w, f);
		break;
	case J_CHUNK:
		if (j->berr.code)
			bs_die(bs_err_status(j->berr.code), "%s", j->berr.msg);
		if (j->err == BS_EUNSUPPORTED)
			bs_die(1, "%s: frame %llu at offset %llu: tensor '%s': chunk transform %u does not apply to %s",
			    bs_reader_name(c->r), (unsigned long long)f->number, (unsigned long long)f->offset,
			    tname(t->name, t->name_len), f->u.chunk.transform, bs_dtype_name(t->dtype));
		if (j->err < 0)
			bs_die(bs_err_status(j->err), "%s: frame %llu at offset %llu: tensor '%s': payload does not decode",
			    bs_reader_name(c->r), (unsigned long long)f->number,
			    (unsigned long long)f->offset, tname(t->name, t->name_len));
		bs_xxh128_update(c->h, j->data, j->ci.raw_len);
		if (c->sha_on)
			bs_sha256_update(c->sha, j->data, j->ci.raw_len);
		rc = bs_writer_chunk(c->w, &j->ci, j->data, j->ci.raw_len);
		c->chunks++;
		break;
	case J_TEND: {
		struct bs_hash128 h = bs_xxh128_digest(c->h);
		struct bs_tend_info te = f->u.tend;
		if (h.lo != te.hash.lo || h.hi != te.hash.hi)
			bs_die(1, "%s: frame %llu at offset %llu: tensor '%s': %s does not match its checksum (XXH3-128)",
			    bs_reader_name(c->r), (unsigned long long)f->number, (unsigned long long)f->offset,
			    tname(t->name, t->name_len), c->out_match ? "the rebuilt tensor" : "the tensor");
		te.chunks = c->chunks;
		rc = bs_writer_tend(c->w, &te);
		bs_frame_free(c->out_tensor);
		c->out_tensor = NULL;
		break;
	}
	case J_END:
		rc = bs_writer_end(c->w);
		break;
	}
	if (rc < 0)
		wdie(c);
	bs_frame_free(j->f);
	bs_frame_free(j->hold);
	free(j->buf);
	free(j->base);
	free(j);
}

/* Queue a job (run: on a worker), writing finished ones to make room. */
static void
submit(struct ctx *c, struct job *j, int run)
{
	while (bs_pool_full(c->pool))
		emit(c, bs_pool_take(c->pool));
	/* the frame read; a chunk's base and output */
	bs_pool_submit(c->pool, j, run, (j->f ? j->f->size : 0) +
	    2 * (uint64_t)j->ci.raw_len);
}

static struct job *
job_new(int op, struct bs_frame *f)
{
	struct job *j = calloc(1, sizeof *j);

	if (!j)
		bs_die(2, "out of memory");
	j->op = op;
	j->f = f;
	return j;
}

/* The bytes of base entry m as raw chunks, cut as bs-split cuts them. */
static void
base_chunks(struct ctx *c, const struct bs_model_entry *m)
{
	uint32_t cs = c->chunk_size && c->chunk_size <= BS_MAX_CHUNK ? c->chunk_size : BS_DEFAULT_CHUNK;
	uint64_t off = 0;
	struct bs_err e;

	while (off < m->size) {
		uint32_t n = m->size - off < cs ? (uint32_t)(m->size - off) : cs;
		struct bs_chunk_info ci = { BS_C_NONE, BS_X_NONE, n, off };
		uint8_t *buf = bs_xmalloc(n);
		struct job *j;
		if (bs_model_read(c->base, m, off, buf, n, &e) < 0)
			bs_die(bs_err_status(e.code), "%s", e.msg);
		j = job_new(J_CHUNK, NULL);
		j->buf = buf;
		j->ci = ci;
		j->data = j->buf;
		submit(c, j, 0);
		off += n;
	}
}

/* A file reference: the base's file of that path, record by record; its
 * SHA-256 is checked against the FEND that follows. */
static void
on_file_ref(struct ctx *c, struct bs_frame *f)
{
	const struct bs_file_info *fi = &f->u.file;
	const struct bs_model_file *bf = bs_model_file_find(c->base, fi->path, fi->path_len);
	struct bs_err e;
	struct job *j;

	if (!bf)
		bs_die(1, "%s: file '%s': the base %s has no such file: wrong base",
		    bs_reader_name(c->r), tname(fi->path, fi->path_len), bs_model_path(c->base));
	if (bf->size != fi->size)
		bs_die(1, "%s: file '%s': the base's file has another size (%llu bytes, not %llu): wrong or modified base",
		    bs_reader_name(c->r), tname(fi->path, fi->path_len), (unsigned long long)bf->size,
		    (unsigned long long)fi->size);
	j = job_new(J_FILE, NULL);
	j->fi = *fi;
	j->fi.kind = (uint8_t)bf->kind;
	if (bs_model_file_header(c->base, bf, &j->buf, &j->len, &e) < 0)
		bs_die(bs_err_status(e.code), "%s", e.msg);
	/* j->fi.path lives in f, which the FEND's job frees after */
	submit(c, j, 0);
	for (size_t i = 0; i < bf->count; i++) {
		const struct bs_model_entry *m = bs_model_entry_at(c->base, bf->first + i);
		j = job_new(J_TENSOR, NULL);
		memset(&j->ti, 0, sizeof j->ti);
		j->ti.kind = m->blob ? BS_T_BLOB : BS_T_TENSOR;
		j->ti.dtype = m->dtype;
		j->ti.rank = m->rank;
		memcpy(j->ti.shape, m->shape, m->rank * sizeof m->shape[0]);
		j->ti.size = m->size;
		j->ti.name = m->name;
		j->ti.name_len = m->name_len;
		j->rebuild = 1;
		submit(c, j, 0);
		base_chunks(c, m);
		j = job_new(J_TENDX, NULL);
		j->ti.size = m->size;
		submit(c, j, 0);
	}
	c->ref_file = f;
}

static void
on_tensor(struct ctx *c, struct bs_frame *f)
{
	const struct bs_tensor_info *t = &f->u.tensor;
	struct job *j;
	const struct bs_model_entry *m;
	struct bs_hash128 h;
	struct bs_err e;
	int blob = t->dtype == BS_DT_BYTES;

	c->tensor = f;
	c->match = NULL;
	if (t->kind != BS_T_DELTA && t->kind != BS_T_REF) {
		submit(c, job_new(J_TENSOR, f), 0);	/* copied as read */
		return;
	}
	/* the base tensor of the same name (or of its base name), in the
	 * base's file of the same path when there are several */
	const struct bs_file_info *fi = bs_reader_file(c->r);
	m = bs_model_find_in(c->base, fi ? fi->path : NULL, fi ? fi->path_len : 0,
	    t->base_name_len ? t->base_name : t->name,
	    t->base_name_len ? t->base_name_len : t->name_len, blob);
	if (!m)
		bs_die(1, "%s: tensor '%s': the base %s has no %s '%s'", bs_reader_name(c->r),
		    tname(t->name, t->name_len), bs_model_path(c->base), blob ? "file" : "tensor",
		    t->base_name_len ? tname(t->base_name, t->base_name_len) : tname(t->name, t->name_len));
	if (m->dtype != t->dtype || m->size != t->size || m->rank != t->rank ||
	    memcmp(m->shape, t->shape, t->rank * sizeof t->shape[0]) != 0)
		bs_die(1, "%s: tensor '%s': base tensor '%s' in %s has another dtype or shape: wrong base",
		    bs_reader_name(c->r), tname(t->name, t->name_len), m->name, bs_model_path(c->base));
	if (bs_model_hash(c->base, m, &h, &e) < 0)
		bs_die(bs_err_status(e.code), "%s", e.msg);
	if (h.lo != t->base_hash.lo || h.hi != t->base_hash.hi)
		bs_die(1, "%s: tensor '%s': base tensor '%s' in %s does not match the one the delta was made against (XXH3-128 differs): wrong or modified base",
		    bs_reader_name(c->r), tname(t->name, t->name_len), m->name, bs_model_path(c->base));
	c->match = m;
	j = job_new(J_TENSOR, f);
	j->ti = *t;
	j->ti.kind = blob ? BS_T_BLOB : BS_T_TENSOR;
	j->ti.base_name = NULL;
	j->ti.base_name_len = 0;
	memset(&j->ti.base_hash, 0, sizeof j->ti.base_hash);
	j->rebuild = 1;
	submit(c, j, 0);
	if (t->kind == BS_T_REF)
		base_chunks(c, m);
}

static void
on_chunk(struct ctx *c, struct bs_frame *f)
{
	const struct bs_chunk_info *ci = &f->u.chunk;
	struct job *j;
	struct bs_err e;
	uint8_t *base = NULL;

	/* a stream's bytes are read here, in order (it decodes them through
	 * a cache); a safetensors file's on the worker */
	if (c->match && bs_model_is_stream(c->base)) {
		base = bs_xmalloc(ci->raw_len ? ci->raw_len : 1);
		if (bs_model_read(c->base, c->match, ci->offset, base, ci->raw_len, &e) < 0)
			bs_die(bs_err_status(e.code), "%s", e.msg);
	}
	j = job_new(J_CHUNK, f);
	j->dtype = c->tensor->u.tensor.dtype;
	j->ci = (struct bs_chunk_info){ BS_C_NONE, BS_X_NONE, ci->raw_len, ci->offset };
	j->rebuild = c->match != NULL;
	j->base = base;
	if (c->match && !base) {
		j->bm = c->base;
		j->bt = c->match;
	}
	submit(c, j, 1);
}

int
main(int argc, char *argv[])
{
	struct ctx c;
	struct bs_err e = { 0, "" };
	struct bs_output *out;
	struct bs_frame *f;
	const char *in;
	int fd, rc, nthr;

	bs_proginit(argc, argv, "bs-patch");
	bs_parse_args(&prog, &argc, &argv);
	if (!base_path)
		bs_die(2, "no base: give --base BASE");
	if (threads < 0 || threads > 1024)
		bs_die(2, "--threads: must be between 0 (all cores) and 1024");
	in = argc ? argv[0] : "-";
	memset(&c, 0, sizeof c);
	if (bs_model_open(base_path, &c.base, &e) < 0)
		bs_die(bs_err_status(e.code), "%s", e.msg);
	if (!(c.r = bs_reader_open(in)))
		bs_die(2, "%s: %s", in, strerror(errno));
	fd = bs_out_open(output, force, &out);
	if (!(c.w = bs_writer_open_fd(fd, output ? output : "<stdout>")))
		bs_die(2, "out of memory");
	nthr = threads ? (int)threads : bs_ncpu();
	c.h = bs_xxh128_new();
	c.sha = bs_sha256_new();
	c.pool = bs_pool_new(nthr, bs_pool_budget(nthr), run_chunk);
	if (!c.h || !c.sha || !c.pool)
		bs_die(2, "out of memory");
	while ((rc = bs_reader_next(c.r, &f)) == 0) {
		switch (f->type) {
		case BS_F_STREAM:
			c.chunk_size = f->u.stream.chunk_size;
			submit(&c, job_new(J_COPY, f), 0);
			break;
		case BS_F_TENSOR:	/* the reader checks the nesting */
			on_tensor(&c, f);
			break;
		case BS_F_CHUNK:
			on_chunk(&c, f);
			break;
		case BS_F_TEND:
			c.tensor = NULL;
			submit(&c, job_new(J_TEND, f), 0);
			break;
		case BS_F_FILE:
			if (f->u.file.kind == BS_FILE_REF)
				on_file_ref(&c, f);
			else
				submit(&c, job_new(J_COPY, f), 0);
			break;
		case BS_F_FEND: {
			struct job *j = job_new(J_FEND, f);
			j->hold = c.ref_file;	/* freed with it */
			c.ref_file = NULL;
			submit(&c, j, 0);
			break;
		}
		case BS_F_INDEX:
		case BS_F_PARITY:
			bs_frame_free(f);	/* rebuilt, or no longer valid */
			break;
		case BS_F_END:
			submit(&c, job_new(J_END, f), 0);
			break;
		default:
			submit(&c, job_new(J_COPY, f), 0);
			break;
		}
	}
	while (!bs_pool_empty(c.pool))
		emit(&c, bs_pool_take(c.pool));
	if (rc < 0)
		bs_die(bs_err_status(rc), "%s: %s", bs_reader_name(c.r), bs_reader_errmsg(c.r));
	bs_pool_free(c.pool);
	bs_writer_free(c.w);
	bs_out_close(out, output, 1);
	bs_frame_free(c.out_tensor);
	bs_xxh128_free(c.h);
	bs_sha256_free(c.sha);
	bs_frame_free(c.ref_file);
	bs_model_close(c.base);
	bs_reader_close(c.r);
	return bs_finish(0);
}
