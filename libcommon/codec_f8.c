/*
 * codec_f8.c - 8-bit floats (F8_E4M3, F8_E5M2, F8_E8M0).
 *
 * Method: every byte is one symbol of the static interleaved rANS coder of
 * entropy.c (one frequency table per chunk); the sign, exponent and
 * mantissa of an 8-bit float are all skewed and short enough to code
 * jointly.
 *
 * Payload: the rANS section (entropy.h) of the raw_len byte symbols, and
 * nothing else.
 */
#include <string.h>

#include "bs.h"
#include "entropy.h"

static int
f8_accepts(int dtype)
{
	return dtype == BS_DT_F8_E4M3 || dtype == BS_DT_F8_E5M2 ||
	    dtype == BS_DT_F8_E8M0;
}

static long
f8_encode(int dtype, const uint8_t *raw, size_t raw_len, uint8_t *out,
    size_t cap, int level)
{
	uint32_t cnt[256] = { 0 };

	(void)dtype, (void)level;
	if (raw_len < 32)
		return 0;
	for (size_t i = 0; i < raw_len; i++)
		cnt[raw[i]]++;
	if (bs_ent_estimate(cnt, 256, 1.0) >= 8.0 * (double)raw_len)
		return 0;
	return bs_ent_encode8(raw, raw_len, cnt, BS_ENT_DEF_SCALE, out, cap);
}

static int
f8_decode(int dtype, const uint8_t *in, size_t in_len, uint8_t *out,
    size_t raw_len)
{
	(void)dtype;
	if (raw_len == 0)
		return in_len == 0 ? 0 : BS_ECORRUPT;
	return bs_ent_decode8(in, in_len, 256, out, raw_len);
}

const struct bs_codec bs_codec_f8 = {
	"f8", BS_C_F8, f8_accepts, f8_encode, f8_decode,
};
