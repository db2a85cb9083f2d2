/*
 * codec_f16.c - F16 (IEEE half) weights.
 *
 * Method: as codec_bf16.c with the 5-bit exponent: each 16-bit value is
 * split into its top b bits (sign, 5 exponent bits and b - 6 top mantissa
 * bits, 6 <= b <= 13), coded as one symbol per value by the static interleaved
 * rANS coder of entropy.c, and its low 16 - b mantissa bits, stored
 * bit-packed.  b is chosen per chunk from the histogram (level >= 7 codes
 * the two best candidates and keeps the smaller).  Where it pays (chunks
 * of 4096 values or more), each symbol is coded with a table chosen by
 * the 5-bit exponent of the value before it: neighbouring F16 weights
 * (the rows of a kernel) share a scale, and that context saves about 1%
 * on isnet-medium (entropy.h: context mode).
 *
 * Payload (n = raw_len / 2 values, little endian):
 *   1 byte    b (6..13), or b | 0x80 (6..10) in context mode
 *   R bytes   the low r = 16 - b bits of every value, packed LSB first,
 *             R = ceil(n r / 8)
 *   L bytes   rANS section (entropy.h) of the n symbols v >> r; in context
 *             mode the tail words, context tables, states and words
 *   t bytes   raw_len % 2 trailing raw byte, stored as is
 * L is what remains: in_len - 1 - R - t.
 */
#include <string.h>

#include "bs.h"
#include "entropy.h"

static int
f16_accepts(int dtype)
{
	return dtype == BS_DT_F16;
}

static long
f16_encode(int dtype, const uint8_t *raw, size_t raw_len, uint8_t *out,
    size_t cap, int level)
{
	(void)dtype;
	return bs_split16_encode(raw, raw_len, 6, 13, 5, out, cap, level);
}

static int
f16_decode(int dtype, const uint8_t *in, size_t in_len, uint8_t *out,
    size_t raw_len)
{
	(void)dtype;
	return bs_split16_decode(in, in_len, raw_len, 6, 13, 5, out);
}

static double
f16_estimate(int dtype, const uint8_t *raw, size_t raw_len, double scale)
{
	(void)dtype;	/* plain mode: context mode only ever does better */
	return bs_split16_estimate(raw, raw_len, 6, 12, scale);
}

const struct bs_codec bs_codec_f16 = {
	"f16", BS_C_F16, f16_accepts, f16_encode, f16_decode, f16_estimate,
};
