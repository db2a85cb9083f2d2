/*
 * codec.c - the codec registry and the per-chunk choice.
 *
 * Adding a codec: write codec_<name>.c defining `const struct bs_codec
 * bs_codec_<name>`, and add it to the table below.  Codec ids are stored in
 * the stream and never reused.
 */
#include <stdlib.h>
#include <string.h>

#include "bs.h"

extern const struct bs_codec bs_codec_none, bs_codec_zstd, bs_codec_bf16,
    bs_codec_f16, bs_codec_f32, bs_codec_f8, bs_codec_delta;

const struct bs_codec *const bs_codecs[] = {
	&bs_codec_none,
	&bs_codec_zstd,
	&bs_codec_bf16,
	&bs_codec_f16,
	&bs_codec_f32,
	&bs_codec_f8,
	&bs_codec_delta,
	NULL
};

const struct bs_codec *
bs_codec_by_id(int id)
{
	for (size_t i = 0; bs_codecs[i]; i++)
		if (bs_codecs[i]->id == id)
			return bs_codecs[i];
	return NULL;
}

const struct bs_codec *
bs_codec_by_name(const char *name)
{
	for (size_t i = 0; bs_codecs[i]; i++)
		if (strcmp(bs_codecs[i]->name, name) == 0)
			return bs_codecs[i];
	return NULL;
}

const struct bs_codec *
bs_codec_for_dtype(int dtype)
{
	for (size_t i = 0; bs_codecs[i]; i++) {
		const struct bs_codec *c = bs_codecs[i];
		if (c->id != BS_C_NONE && c->id != BS_C_ZSTD && c->accepts(dtype))
			return c;
	}
	return NULL;
}

/*
 * Estimates choose between codecs; they need not be exact.  A chunk is
 * estimated from a sample of it: its first BS_SAMPLE_BLOCK bytes of every
 * k BS_SAMPLE_BLOCK, k = len / 64 KiB clamped to 1..8 (the whole chunk up
 * to 128 KiB; a sample of at least 64 KiB, an eighth of a large chunk),
 * scaled up.
 */
size_t
bs_sample_stride(size_t len)
{
	size_t k = len >> 16;

	return BS_SAMPLE_BLOCK * (k < 1 ? 1 : k > 8 ? 8 : k);
}

size_t
bs_copy_blocks(uint8_t *dst, const uint8_t *src, size_t len, size_t block,
    size_t stride)
{
	size_t n = 0;

	for (size_t o = 0; o < len; o += stride) {
		size_t k = len - o < block ? len - o : block;
		memcpy(dst + n, src + o, k);
		n += k;
	}
	return n;
}

size_t
bs_sample_copy(uint8_t *dst, const uint8_t *src, size_t len)
{
	return bs_copy_blocks(dst, src, len, BS_SAMPLE_BLOCK,
	    bs_sample_stride(len));
}

struct sample {
	const uint8_t *p;
	size_t n;
	double scale;
	uint8_t *own;
};

static void
sample_make(struct sample *s, const uint8_t *raw, size_t raw_len)
{
	*s = (struct sample){ raw, raw_len, 1.0, NULL };
	if (bs_sample_stride(raw_len) == BS_SAMPLE_BLOCK ||
	    !(s->own = malloc(raw_len / 2 + BS_SAMPLE_BLOCK)))
		return;
	s->n = bs_sample_copy(s->own, raw, raw_len);
	s->p = s->own;
	s->scale = (double)raw_len / (double)s->n;
}

static double
sample_est(const struct bs_codec *c, int dtype, const struct sample *s)
{
	return c->estimate(dtype, s->p, s->n, s->scale);
}

/*
 * Candidates, in order: the forced codec alone; or the dtype's specialised
 * codec, the delta codec for a residual, and zstd when none applies or the
 * level asks to try more.  Below BS_LEVEL_TRY_ALL, of the specialised and
 * the delta codec only the one with the smaller estimate codes (the other
 * when it fails).  The smallest result wins; none is the floor.
 */
long
bs_chunk_encode(int dtype, int transform, const uint8_t *raw, size_t raw_len,
    uint8_t *out, int level, const char *force, uint8_t *codec)
{
	const struct bs_codec *cand[3] = { NULL, NULL, NULL };
	uint8_t *tmp = NULL;
	size_t best = raw_len;
	long n;
	int k = 0;

	if (force) {
		cand[0] = bs_codec_by_name(force);
		if (cand[0] && !cand[0]->accepts(dtype))
			cand[0] = NULL;
	} else {
		if ((cand[k] = bs_codec_for_dtype(dtype)))
			k++;
		if (transform != BS_X_NONE && bs_codec_delta.accepts(dtype)) {
			cand[k++] = &bs_codec_delta;
			if (k == 2 && level < BS_LEVEL_TRY_ALL &&
			    cand[0]->estimate && raw_len > 0) {
				struct sample sm;
				sample_make(&sm, raw, raw_len);
				if (sample_est(&bs_codec_delta, dtype, &sm) <
				    sample_est(cand[0], dtype, &sm)) {
					cand[1] = cand[0];	/* delta first */
					cand[0] = &bs_codec_delta;
				}
				free(sm.own);
			}
		}
		if (!k || level >= BS_LEVEL_TRY_ZSTD)
			cand[k++] = &bs_codec_zstd;
	}
	*codec = BS_C_NONE;
	for (int i = 0; i < 3 && raw_len > 0; i++) {
		const struct bs_codec *c = cand[i];
		uint8_t *dst = out;
		if (!c || c->id == BS_C_NONE)
			continue;
		/* estimated: the runner-up codes only when the first failed */
		if (i == 1 && cand[1] != &bs_codec_zstd &&
		    level < BS_LEVEL_TRY_ALL && *codec != BS_C_NONE)
			continue;
		if (*codec != BS_C_NONE) {
			if (!tmp && !(tmp = malloc(raw_len)))
				break;
			dst = tmp;
		}
		n = c->encode(dtype, raw, raw_len, dst, best, level);
		if (n > 0 && (size_t)n < best) {
			if (dst != out)
				memcpy(out, dst, (size_t)n);
			best = (size_t)n;
			*codec = c->id;
		}
	}
	free(tmp);
	if (*codec != BS_C_NONE)
		return (long)best;
	memcpy(out, raw, raw_len);
	return (long)raw_len;
}

double
bs_codec_estimate(const struct bs_codec *c, int dtype, const uint8_t *sample,
    size_t sample_len, size_t raw_len)
{
	if (!c || !c->estimate)
		return -1;
	return c->estimate(dtype, sample, sample_len, sample_len &&
	    sample_len < raw_len ? (double)raw_len / (double)sample_len : 1.0);
}

int
bs_chunk_decode(int codec, int dtype, const uint8_t *in, size_t in_len,
    uint8_t *out, size_t raw_len)
{
	const struct bs_codec *c = bs_codec_by_id(codec);

	if (!c)
		return BS_EUNSUPPORTED;
	if (!c->accepts(dtype) && codec != BS_C_NONE && codec != BS_C_ZSTD)
		return BS_ECORRUPT;
	return c->decode(dtype, in, in_len, out, raw_len);
}

const uint8_t *
bs_chunk_raw(const struct bs_frame *f, int dtype, uint8_t *buf, int *rc)
{
	const struct bs_chunk_info *c = &f->u.chunk;

	*rc = 0;
	if (c->codec == BS_C_NONE)
		return f->payload;
	*rc = bs_chunk_decode(c->codec, dtype, f->payload, (size_t)f->payload_len,
	    buf, c->raw_len);
	return *rc < 0 ? NULL : buf;
}
