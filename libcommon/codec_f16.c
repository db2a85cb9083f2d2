/*
 * codec_f16.c - F16 (IEEE half) weights.
 *
 * Method: as codec_bf16.c with the 5-bit exponent: each 16-bit value is
 * split into its top b bits (sign, 5 exponent bits and b - 6 top mantissa
 * bits, 6 <= b <= 13), coded as one symbol per value by the static interleaved
 * rANS coder of entropy.c, and its low 16 - b mantissa bits, stored
 * bit-packed.  b is chosen per chunk from the histogram (level >= 7 codes
 * the two best candidates and keeps the smaller).
 *
 * Payload (n = raw_len / 2 values, little endian):
 *   1 byte    b (6..13)
 *   R bytes   the low r = 16 - b bits of every value, packed LSB first,
 *             R = ceil(n r / 8)
 *   L bytes   rANS section (entropy.h) of the n symbols v >> r
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
	return bs_split16_encode(raw, raw_len, 6, 13, out, cap, level);
}

static int
f16_decode(int dtype, const uint8_t *in, size_t in_len, uint8_t *out,
    size_t raw_len)
{
	(void)dtype;
	return bs_split16_decode(in, in_len, raw_len, 6, 13, out);
}

const struct bs_codec bs_codec_f16 = {
	"f16", BS_C_F16, f16_accepts, f16_encode, f16_decode,
};
