/*
 * fuzz_codec_roundtrip.c - libFuzzer target: any bytes of any dtype,
 * encoded by bs_chunk_encode at a level and by each codec that accepts the
 * dtype, must decode back to the same bytes.  Input: dtype (1 byte), level
 * (1 byte), then the raw bytes.
 */
#include <stdlib.h>

#include "fuzz.h"

static void
check(int codec, int dtype, const uint8_t *raw, size_t n, const uint8_t *coded, size_t len)
{
	uint8_t *back = malloc(n);

	if (bs_chunk_decode(codec, dtype, coded, len, back, n) != 0 || memcmp(back, raw, n) != 0)
		abort();
	free(back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int dtype, level;
	size_t n;
	uint8_t *raw, *out, codec;
	long len;

	if (size < 3)
		return 0;
	dtype = 1 + data[0] % (BS_DT_COUNT - 1);
	level = 1 + data[1] % 19;
	n = size - 2;
	if (n * 8 % bs_dtype_bits(dtype))
		n -= n * 8 % bs_dtype_bits(dtype) / 8;	/* whole elements where it matters */
	if (n == 0)
		return 0;
	raw = malloc(n);
	memcpy(raw, data + 2, n);
	out = malloc(n + 64);
	/* the level's low bit: as a residual chunk (the delta codec joins) */
	len = bs_chunk_encode(dtype, level & 1 ? BS_X_XOR : BS_X_NONE, raw, n,
	    out, level, NULL, &codec);
	if (len <= 0 || (size_t)len > n)
		abort();
	check(codec, dtype, raw, n, out, (size_t)len);
	for (int i = 0; bs_codecs[i]; i++) {
		const struct bs_codec *c = bs_codecs[i];
		if (!c->accepts(dtype))
			continue;
		len = c->encode(dtype, raw, n, out, n + 64, level);
		if (len < 0 && len != BS_ENOMEM && len != BS_EUNSUPPORTED && len != BS_ECORRUPT)
			abort();
		if (len > 0)
			check(c->id, dtype, raw, n, out, (size_t)len);
	}
	free(raw);
	free(out);
	return 0;
}
