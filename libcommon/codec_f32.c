/*
 * codec_f32.c - F32 weights.
 *
 * Method: each 32-bit value is split into its top b bits (sign, the 8
 * exponent bits and b - 9 top mantissa bits, 9 <= b <= 12), coded as one
 * symbol per value by the static interleaved rANS coder of entropy.c, and its
 * low 32 - b mantissa bits, stored bit-packed (they are close to uniform).
 * A chunk whose values all have zero low 16 bits (BF16 widened to F32) is
 * coded as the BF16 values of its high halves instead.
 *
 * Payload (n = raw_len / 4 values, little endian):
 *   1 byte    mode: 0 = F32 split, 1 = high halves as BF16
 *   mode 0:   1 byte b (9..12); R = ceil(n (32 - b) / 8) bytes of packed
 *             low bits (LSB first); the rANS section of the symbols v >> r
 *   mode 1:   the same with 16-bit values: 1 byte b (9..12); R =
 *             ceil(n (16 - b) / 8) bytes; the rANS section
 *   t bytes   raw_len % 4 trailing raw bytes, stored as is
 * The rANS section runs to in_len - t.
 */
#include <stdlib.h>
#include <string.h>

#include "bs.h"
#include "entropy.h"

static int
f32_accepts(int dtype)
{
	return dtype == BS_DT_F32;
}

static long
f32_encode(int dtype, const uint8_t *raw, size_t raw_len, uint8_t *out,
    size_t cap, int level)
{
	size_t n = raw_len / 4, t = raw_len & 3, i;
	uint32_t low = 0;
	long r;

	(void)dtype;
	if (n < 16 || cap <= t + 1)
		return 0;
	for (i = 0; i < n && !low; i += 64) {
		size_t e = i + 64 < n ? i + 64 : n;
		for (size_t k = i; k < e; k++) {
			uint16_t v;
			memcpy(&v, raw + 4 * k, 2);
			low |= v;
		}
	}
	if (!low) {
		uint16_t *hi = malloc(2 * n);
		if (!hi)
			return BS_ENOMEM;
		for (i = 0; i < n; i++)
			memcpy(hi + i, raw + 4 * i + 2, 2);
		out[0] = 1;
		r = bs_split_encode((const uint8_t *)hi, n, 2, 9, 12, 0, out + 1,
		    cap - t - 1, level);
		free(hi);
	} else {
		out[0] = 0;
		r = bs_split_encode(raw, n, 4, 9, 12, 0, out + 1, cap - t - 1,
		    level);
	}
	if (r <= 0)
		return r;
	r++;
	memcpy(out + r, raw + 4 * n, t);
	return r + (long)t;
}

static int
f32_decode(int dtype, const uint8_t *in, size_t in_len, uint8_t *out,
    size_t raw_len)
{
	size_t n = raw_len / 4, t = raw_len & 3;
	int e;

	(void)dtype;
	if (in_len < t + 2)
		return BS_ECORRUPT;
	if (in[0] == 0) {
		e = bs_split_decode(in + 1, in_len - t - 1, n, 4, 9, 12, 0, out);
	} else if (in[0] == 1) {
		/* decode the high halves into the upper half of out, then
		 * widen in place from the front (never overtaking) */
		uint8_t *hi = out + 2 * n;
		e = bs_split_decode(in + 1, in_len - t - 1, n, 2, 9, 12, 0, hi);
		if (!e)
			for (size_t i = 0; i < n; i++) {
				uint16_t v;
				memcpy(&v, hi + 2 * i, 2);
				uint32_t w = (uint32_t)v << 16;
				memcpy(out + 4 * i, &w, 4);
			}
	} else
		return BS_ECORRUPT;
	if (e)
		return e;
	memcpy(out + 4 * n, in + in_len - t, t);
	return 0;
}

const struct bs_codec bs_codec_f32 = {
	"f32", BS_C_F32, f32_accepts, f32_encode, f32_decode,
};
