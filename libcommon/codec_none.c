/*
 * codec_none.c - the floor: the payload is the raw bytes.
 */
#include <string.h>

#include "bs.h"

static int
none_accepts(int dtype)
{
	(void)dtype;
	return 1;
}

static long
none_encode(int dtype, const uint8_t *raw, size_t n, uint8_t *out, size_t cap,
    int level)
{
	(void)dtype, (void)level;
	if (n > cap)
		return 0;
	memcpy(out, raw, n);
	return (long)n;
}

static int
none_decode(int dtype, const uint8_t *in, size_t n, uint8_t *out,
    size_t raw_len)
{
	(void)dtype;
	if (n != raw_len)
		return BS_ECORRUPT;
	memcpy(out, in, n);
	return 0;
}

const struct bs_codec bs_codec_none = {
	"none", BS_C_NONE, none_accepts, none_encode, none_decode,
};
