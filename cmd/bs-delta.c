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
static long long level = BS_LEVEL_DEFAULT;

static const struct bs_opt opts[] = {
	{ 'b', "base", BS_OPT_STR, &base_path, "BASE", "the base: a safetensors file, a model folder or a .bs file", "file" },
	{ 'a', "auto", BS_OPT_FLAG, &autopick, NULL, "the operands are candidate bases: pick the best (stream on stdin)", NULL },
	{ 'l', "level", BS_OPT_INT, &level, "LEVEL", "level at which residuals are trial-coded (default 3)", NULL },
	{ 'o', "output", BS_OPT_STR, &output, "FILE", "write to FILE (by rename when complete) instead of stdout", "file" },
	{ 'f', "force", BS_OPT_FLAG, &force, NULL, "write to a terminal anyway", NULL },
	{ 0, NULL, 0, NULL, NULL, NULL, NULL }
};

static const struct bs_prog prog = {
	"bs-delta", "{--base BASE [STREAM] | --auto BASE...} [-l LEVEL] [-o FILE]",
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
		m = bs_model_find(base, t->name, t->name_len, t->blob);
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

/* Pick the best of the candidate bases for the stream on fd (seekable). */
static const char *
pick_base(int fd, char **cand, int ncand)
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
			bs_warn("%s", e.msg);
			continue;
		}
		cost = estimate(ft, m, &matched);
		bs_info("--auto: %s: %.0f bytes matched by name, shape and dtype; estimated residual %.0f bytes",
		    cand[i], matched, cost);
		if (matched > 0 && (!best || cost < best_cost)) {
			best = cand[i];
			best_cost = cost;
		}
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

struct ctx {
	struct bs_model *base;
	struct bs_writer *w;
	struct bs_reader *r;
	struct bs_xxh128_state *h;
	uint8_t *raw, *basebuf, *res, *coded;
	/* the current tensor */
	struct bs_frame *tensor;	/* its TENSOR frame as read */
	const struct bs_model_entry *match;
	struct bs_hash128 base_hash;
	int written;			/* TENSOR frame out (kind decided) */
	uint32_t *pending;		/* raw lengths of identical chunks held back */
	size_t npending, cap_pending;
	uint64_t tensors, refs, deltas, whole;
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

/* Write the TENSOR frame of the current tensor as kind, with its base. */
static void
put_tensor(struct ctx *c, int kind)
{
	struct bs_tensor_info ti = c->tensor->u.tensor;

	ti.kind = (uint8_t)kind;
	if (kind == BS_T_DELTA || kind == BS_T_REF) {
		ti.base_hash = c->base_hash;
		/* an empty base name: the base tensor of the same name */
		ti.base_name = c->match->name;
		ti.base_name_len = 0;
		if (kind == BS_T_REF && ti.size == BS_SIZE_UNKNOWN)
			ti.size = c->match->size;
	}
	if (bs_writer_tensor(c->w, &ti) < 0)
		wdie(c);
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
		if (blob) {
			if (bs_model_read(c->base, c->match, off, c->basebuf, ci.raw_len, &e) < 0)
				bs_die(bs_err_status(e.code), "%s", e.msg);
		} else
			memset(c->basebuf, 0, ci.raw_len);
		if (bs_writer_chunk(c->w, &ci, c->basebuf, ci.raw_len) < 0)
			wdie(c);
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
	c->npending = 0;
	c->tensors++;
	bs_xxh128_reset(c->h);
	m = bs_model_find(c->base, t->name, t->name_len, t->kind == BS_T_BLOB);
	if (m && (t->kind == BS_T_BLOB ? (t->size == BS_SIZE_UNKNOWN || t->size == m->size) : same_shape(t, m))) {
		if (bs_model_hash(c->base, m, &c->base_hash, &e) < 0)
			bs_die(bs_err_status(e.code), "%s", e.msg);
		c->match = m;
		return;			/* kind decided by the chunks */
	}
	c->whole++;
	if (bs_writer_copy(c->w, f) < 0)
		wdie(c);
	c->written = 1;
}

static void
on_chunk(struct ctx *c, struct bs_frame *f)
{
	const struct bs_chunk_info *ci = &f->u.chunk;
	const struct bs_tensor_info *t = &c->tensor->u.tensor;
	const uint8_t *raw = f->payload;
	int blob = t->kind == BS_T_BLOB, x, rc;
	struct bs_chunk_info out;
	struct bs_err e;
	size_t coded;

	if (ci->codec != BS_C_NONE) {
		rc = bs_chunk_decode(ci->codec, t->dtype, f->payload, f->payload_len, c->raw, ci->raw_len);
		if (rc < 0)
			bs_die(bs_err_status(rc), "%s: frame %llu: tensor '%s': payload does not decode",
			    bs_reader_name(c->r), (unsigned long long)f->number, tname(t));
		raw = c->raw;
	}
	bs_xxh128_update(c->h, raw, ci->raw_len);
	if (!c->match) {
		if (bs_writer_copy(c->w, f) < 0)
			wdie(c);
		return;
	}
	if (ci->offset + ci->raw_len <= c->match->size) {
		if (bs_model_read(c->base, c->match, ci->offset, c->basebuf, ci->raw_len, &e) < 0)
			bs_die(bs_err_status(e.code), "%s", e.msg);
		if (!c->written && memcmp(raw, c->basebuf, ci->raw_len) == 0) {
			if (c->npending == c->cap_pending) {
				c->cap_pending = c->cap_pending ? 2 * c->cap_pending : 64;
				c->pending = realloc(c->pending, c->cap_pending * sizeof *c->pending);
				if (!c->pending)
					bs_die(2, "out of memory");
			}
			c->pending[c->npending++] = ci->raw_len;
			return;
		}
	} else if (!blob)
		bs_die(1, "%s: tensor '%s': chunk past the end of its base", bs_reader_name(c->r), tname(t));
	if (!c->written) {
		/* it differs: a delta (a blob travels whole) */
		put_tensor(c, blob ? BS_T_BLOB : BS_T_DELTA);
		blob ? c->whole++ : c->deltas++;
		flush_pending(c, blob);
	}
	out = *ci;
	out.codec = BS_C_NONE;
	if (blob) {
		out.transform = BS_X_NONE;
		if (bs_writer_chunk(c->w, &out, raw, ci->raw_len) < 0)
			wdie(c);
		return;
	}
	x = bs_delta_choose(t->dtype, raw, c->basebuf, ci->offset, ci->raw_len, (int)level,
	    c->res, c->coded, &coded, &out.codec);
	if (x < 0)
		bs_die(2, "out of memory");
	out.transform = (uint8_t)x;
	if (bs_writer_chunk(c->w, &out, out.codec == BS_C_NONE ? c->res : c->coded, coded) < 0)
		wdie(c);
}

static void
on_tend(struct ctx *c, struct bs_frame *f)
{
	struct bs_hash128 h = bs_xxh128_digest(c->h);
	const struct bs_tensor_info *t = &c->tensor->u.tensor;

	if (h.lo != f->u.tend.hash.lo || h.hi != f->u.tend.hash.hi)
		bs_die(1, "%s: frame %llu: tensor '%s': checksum mismatch (XXH3-128 of its raw bytes)",
		    bs_reader_name(c->r), (unsigned long long)f->number, tname(t));
	if (!c->written) {
		struct bs_tend_info te = f->u.tend;
		if (te.size != c->match->size) {
			/* a blob that ends before its base's: whole */
			put_tensor(c, BS_T_BLOB);
			c->whole++;
			flush_pending(c, 1);
			if (bs_writer_copy(c->w, f) < 0)
				wdie(c);
			return;
		}
		put_tensor(c, BS_T_REF);
		c->refs++;
		te.chunks = 0;
		if (bs_writer_tend(c->w, &te) < 0)
			wdie(c);
		return;
	}
	if (bs_writer_copy(c->w, f) < 0)
		wdie(c);
}

int
main(int argc, char *argv[])
{
	struct ctx c;
	struct bs_err e = { 0, "" };
	struct bs_output *out;
	struct bs_frame *f;
	int fd, infd = -1, rc;

	bs_proginit(argc, argv, "bs-delta");
	bs_parse_args(&prog, &argc, &argv);
	if (level < 1 || level > 19)
		bs_die(2, "--level: must be between 1 and 19");
	if (autopick) {
		if (base_path)
			bs_die(2, "--auto and --base exclude each other");
		if (argc < 1)
			bs_die(2, "--auto: give the candidate bases as operands");
		infd = STDIN_FILENO;
		if (lseek(infd, 0, SEEK_CUR) < 0 && (infd = bs_spool_fd(STDIN_FILENO, "<stdin>", &e)) < 0)
			bs_die(2, "%s", e.msg);
		base_path = pick_base(infd, argv, argc);
	} else {
		if (!base_path)
			bs_die(2, "no base: give --base BASE or --auto BASE...");
		if (argc > 1)
			bs_die(2, "extra operand '%s'", argv[1]);
		if (argc)
			in = argv[0];
	}
	memset(&c, 0, sizeof c);
	if (bs_model_open(base_path, &c.base, &e) < 0)
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
	c.h = bs_xxh128_new();
	c.raw = bs_xmalloc(BS_MAX_CHUNK);
	c.basebuf = bs_xmalloc(BS_MAX_CHUNK);
	c.res = bs_xmalloc(BS_MAX_CHUNK);
	c.coded = bs_xmalloc(BS_MAX_CHUNK);
	if (!c.h)
		bs_die(2, "out of memory");
	while ((rc = bs_reader_next(c.r, &f)) == 0) {
		switch (f->type) {
		case BS_F_TENSOR:
			bs_frame_free(c.tensor);
			on_tensor(&c, f);
			continue;	/* kept until TEND */
		case BS_F_CHUNK:
			on_chunk(&c, f);
			break;
		case BS_F_TEND:
			on_tend(&c, f);
			break;
		case BS_F_INDEX:
		case BS_F_PARITY:
			break;		/* rebuilt, or no longer valid */
		case BS_F_END:
			if (bs_writer_end(c.w) < 0)
				wdie(&c);
			break;
		default:
			if (bs_writer_copy(c.w, f) < 0)
				wdie(&c);
			break;
		}
		bs_frame_free(f);
	}
	if (rc < 0) {
		bs_out_close(out, output, 0);
		bs_die(bs_err_status(rc), "%s: %s", bs_reader_name(c.r), bs_reader_errmsg(c.r));
	}
	bs_writer_free(c.w);
	bs_out_close(out, output, 1);
	bs_info("%s: %llu tensors against %s: %llu references, %llu deltas, %llu whole",
	    bs_reader_name(c.r), (unsigned long long)c.tensors, base_path,
	    (unsigned long long)c.refs, (unsigned long long)c.deltas, (unsigned long long)c.whole);
	bs_frame_free(c.tensor);
	free(c.pending);
	free(c.raw);
	free(c.basebuf);
	free(c.res);
	free(c.coded);
	bs_xxh128_free(c.h);
	bs_model_close(c.base);
	bs_reader_close(c.r);
	return bs_finish(0);
}
