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

static const struct bs_opt opts[] = {
	{ 'b', "base", BS_OPT_STR, &base_path, "BASE", "the base: a safetensors file, a model folder or a .bs file", "file" },
	{ 'o', "output", BS_OPT_STR, &output, "FILE", "write to FILE (by rename when complete) instead of stdout", "file" },
	{ 'f', "force", BS_OPT_FLAG, &force, NULL, "write to a terminal anyway", NULL },
	{ 0, NULL, 0, NULL, NULL, NULL, NULL }
};

static const struct bs_prog prog = {
	"bs-patch", "--base BASE [-o FILE] [STREAM]",
	"Rebuild the full raw stream from a delta stream (STREAM, or stdin) and its base.",
	opts, 0, 1
};

struct ctx {
	struct bs_model *base;
	struct bs_writer *w;
	struct bs_reader *r;
	struct bs_xxh128_state *h;
	uint8_t *raw, *basebuf;
	uint32_t chunk_size;		/* of the member, for rebuilt references */
	struct bs_frame *tensor;
	const struct bs_model_entry *match;
	uint32_t chunks;
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

static void
put_chunk(struct ctx *c, uint64_t off, const uint8_t *p, uint32_t n)
{
	struct bs_chunk_info ci = { BS_C_NONE, BS_X_NONE, n, off };

	bs_xxh128_update(c->h, p, n);
	if (bs_writer_chunk(c->w, &ci, p, n) < 0)
		wdie(c);
	c->chunks++;
}

static void
on_tensor(struct ctx *c, struct bs_frame *f)
{
	const struct bs_tensor_info *t = &f->u.tensor;
	struct bs_tensor_info ti = *t;
	const struct bs_model_entry *m;
	struct bs_hash128 h;
	struct bs_err e;
	int blob = t->dtype == BS_DT_BYTES;

	c->tensor = f;
	c->match = NULL;
	c->chunks = 0;
	bs_xxh128_reset(c->h);
	if (t->kind != BS_T_DELTA && t->kind != BS_T_REF) {
		if (bs_writer_copy(c->w, f) < 0)
			wdie(c);
		return;
	}
	if (t->base_name_len == 0)	/* the base tensor of the same name */
		m = bs_model_find(c->base, t->name, t->name_len, blob);
	else
		m = bs_model_find(c->base, t->base_name, t->base_name_len, blob);
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
	ti.kind = blob ? BS_T_BLOB : BS_T_TENSOR;
	ti.base_name = NULL;
	ti.base_name_len = 0;
	memset(&ti.base_hash, 0, sizeof ti.base_hash);
	if (bs_writer_tensor(c->w, &ti) < 0)
		wdie(c);
	if (t->kind == BS_T_REF) {
		/* the base's bytes, cut as bs-split cuts them */
		uint64_t off = 0;
		uint32_t cs = c->chunk_size && c->chunk_size <= BS_MAX_CHUNK ? c->chunk_size : BS_DEFAULT_CHUNK;
		while (off < m->size) {
			uint32_t n = m->size - off < cs ? (uint32_t)(m->size - off) : cs;
			if (bs_model_read(c->base, m, off, c->basebuf, n, &e) < 0)
				bs_die(bs_err_status(e.code), "%s", e.msg);
			put_chunk(c, off, c->basebuf, n);
			off += n;
		}
	}
}

static void
on_chunk(struct ctx *c, struct bs_frame *f)
{
	const struct bs_chunk_info *ci = &f->u.chunk;
	const struct bs_tensor_info *t = &c->tensor->u.tensor;
	const uint8_t *raw = f->payload;
	struct bs_err e;
	int rc;

	if (ci->codec != BS_C_NONE) {
		rc = bs_chunk_decode(ci->codec, t->dtype, f->payload, f->payload_len, c->raw, ci->raw_len);
		if (rc < 0)
			bs_die(bs_err_status(rc), "%s: frame %llu at offset %llu: tensor '%s': payload does not decode",
			    bs_reader_name(c->r), (unsigned long long)f->number,
			    (unsigned long long)f->offset, tname(t->name, t->name_len));
		raw = c->raw;
	}
	if (c->match) {
		if (bs_model_read(c->base, c->match, ci->offset, c->basebuf, ci->raw_len, &e) < 0)
			bs_die(bs_err_status(e.code), "%s", e.msg);
		rc = bs_delta_inverse(ci->transform, t->dtype, raw, c->basebuf, c->raw, ci->raw_len);
		if (rc < 0)
			bs_die(1, "%s: frame %llu at offset %llu: tensor '%s': chunk transform %u does not apply to %s",
			    bs_reader_name(c->r), (unsigned long long)f->number, (unsigned long long)f->offset,
			    tname(t->name, t->name_len), ci->transform, bs_dtype_name(t->dtype));
		raw = c->raw;
	}
	put_chunk(c, ci->offset, raw, ci->raw_len);
}

static void
on_tend(struct ctx *c, struct bs_frame *f)
{
	struct bs_hash128 h = bs_xxh128_digest(c->h);
	const struct bs_tensor_info *t = &c->tensor->u.tensor;
	struct bs_tend_info te = f->u.tend;

	if (h.lo != te.hash.lo || h.hi != te.hash.hi)
		bs_die(1, "%s: frame %llu at offset %llu: tensor '%s': %s does not match its checksum (XXH3-128)",
		    bs_reader_name(c->r), (unsigned long long)f->number, (unsigned long long)f->offset,
		    tname(t->name, t->name_len), c->match ? "the rebuilt tensor" : "the tensor");
	te.chunks = c->chunks;
	if (bs_writer_tend(c->w, &te) < 0)
		wdie(c);
	bs_frame_free(c->tensor);
	c->tensor = NULL;
}

int
main(int argc, char *argv[])
{
	struct ctx c;
	struct bs_err e = { 0, "" };
	struct bs_output *out;
	struct bs_frame *f;
	const char *in;
	int fd, rc;

	bs_proginit(argc, argv, "bs-patch");
	bs_parse_args(&prog, &argc, &argv);
	if (!base_path)
		bs_die(2, "no base: give --base BASE");
	in = argc ? argv[0] : "-";
	memset(&c, 0, sizeof c);
	if (bs_model_open(base_path, &c.base, &e) < 0)
		bs_die(bs_err_status(e.code), "%s", e.msg);
	if (!(c.r = bs_reader_open(in)))
		bs_die(2, "%s: %s", in, strerror(errno));
	fd = bs_out_open(output, force, &out);
	if (!(c.w = bs_writer_open_fd(fd, output ? output : "<stdout>")))
		bs_die(2, "out of memory");
	c.h = bs_xxh128_new();
	c.raw = bs_xmalloc(BS_MAX_CHUNK);
	c.basebuf = bs_xmalloc(BS_MAX_CHUNK);
	if (!c.h)
		bs_die(2, "out of memory");
	while ((rc = bs_reader_next(c.r, &f)) == 0) {
		switch (f->type) {
		case BS_F_STREAM:
			c.chunk_size = f->u.stream.chunk_size;
			if (bs_writer_copy(c.w, f) < 0)
				wdie(&c);
			break;
		case BS_F_TENSOR:
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
	if (rc < 0)
		bs_die(bs_err_status(rc), "%s: %s", bs_reader_name(c.r), bs_reader_errmsg(c.r));
	bs_writer_free(c.w);
	bs_out_close(out, output, 1);
	free(c.raw);
	free(c.basebuf);
	bs_xxh128_free(c.h);
	bs_model_close(c.base);
	bs_reader_close(c.r);
	return bs_finish(0);
}
