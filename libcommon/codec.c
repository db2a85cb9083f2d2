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

/* The specialised codec for a dtype, or NULL. */
static const struct bs_codec *
codec_for_dtype(int dtype)
{
	for (size_t i = 0; bs_codecs[i]; i++) {
		const struct bs_codec *c = bs_codecs[i];
		if (c->id != BS_C_NONE && c->id != BS_C_ZSTD && c->accepts(dtype))
			return c;
	}
	return NULL;
}

/*
 * Candidates, in order: the forced codec alone; or the dtype's specialised
 * codec, and zstd when none applies or the level asks to try more.  The
 * smallest result wins; none is the floor.
 */
long
bs_chunk_encode(int dtype, const uint8_t *raw, size_t raw_len, uint8_t *out,
    int level, const char *force, uint8_t *codec)
{
	const struct bs_codec *cand[2] = { NULL, NULL };
	uint8_t *tmp = NULL;
	size_t best = raw_len;
	long n;

	if (force) {
		cand[0] = bs_codec_by_name(force);
		if (cand[0] && !cand[0]->accepts(dtype))
			cand[0] = NULL;
	} else {
		cand[0] = codec_for_dtype(dtype);
		if (!cand[0])
			cand[0] = &bs_codec_zstd;
		else if (level >= BS_LEVEL_TRY_ZSTD)
			cand[1] = &bs_codec_zstd;
	}
	*codec = BS_C_NONE;
	for (int i = 0; i < 2 && raw_len > 0; i++) {
		const struct bs_codec *c = cand[i];
		uint8_t *dst = out;
		if (!c || c->id == BS_C_NONE)
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
