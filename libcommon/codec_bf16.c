/*
 * codec_bf16.c - BF16 weights.
 *
 * Method: each 16-bit value is split into its top b bits (sign, the 8
 * exponent bits and b - 9 top mantissa bits, 9 <= b <= 14) and its low
 * 16 - b mantissa bits.  The top bits are coded as ONE symbol per value by
 * the static interleaved rANS coder of entropy.c (one table per chunk), which
 * captures the exponent's information together with the skew of the top
 * mantissa bits given the exponent; the low bits are nearly uniform and are
 * stored bit-packed.  b is chosen per chunk from the histogram (cost
 * estimate of every b; level >= 7 codes the two best and keeps the smaller).
 *
 * Payload (raw_len bytes; n = raw_len / 2 values, little endian):
 *   1 byte    b (9..14)
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
bf16_accepts(int dtype)
{
	return dtype == BS_DT_BF16;
}

static long
bf16_encode(int dtype, const uint8_t *raw, size_t raw_len, uint8_t *out,
    size_t cap, int level)
{
	(void)dtype;
	return bs_split16_encode(raw, raw_len, 9, 14, 0, out, cap, level);
}

static int
bf16_decode(int dtype, const uint8_t *in, size_t in_len, uint8_t *out,
    size_t raw_len)
{
	(void)dtype;
	return bs_split16_decode(in, in_len, raw_len, 9, 14, 0, out);
}

static double
bf16_estimate(int dtype, const uint8_t *raw, size_t raw_len, double scale)
{
	(void)dtype;	/* up to 12 bits: 16 KiB of counts stay in L1 */
	return bs_split16_estimate(raw, raw_len, 9, 12, scale);
}

const struct bs_codec bs_codec_bf16 = {
	"bf16", BS_C_BF16, bf16_accepts, bf16_encode, bf16_decode,
	bf16_estimate,
};
