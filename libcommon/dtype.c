/*
 * dtype.c - the safetensors dtypes, their widths in bits, and tensor sizes
 * in checked 64-bit arithmetic.
 */
#include <string.h>

#include "bs.h"

static const struct {
	const char *name;
	unsigned bits;
} dtypes[BS_DT_COUNT] = {
	[BS_DT_UNKNOWN] = { "?", 0 },
	[BS_DT_BOOL] = { "BOOL", 8 },
	[BS_DT_U8] = { "U8", 8 },
	[BS_DT_I8] = { "I8", 8 },
	[BS_DT_U16] = { "U16", 16 },
	[BS_DT_I16] = { "I16", 16 },
	[BS_DT_U32] = { "U32", 32 },
	[BS_DT_I32] = { "I32", 32 },
	[BS_DT_U64] = { "U64", 64 },
	[BS_DT_I64] = { "I64", 64 },
	[BS_DT_F16] = { "F16", 16 },
	[BS_DT_BF16] = { "BF16", 16 },
	[BS_DT_F32] = { "F32", 32 },
	[BS_DT_F64] = { "F64", 64 },
	[BS_DT_C64] = { "C64", 64 },
	[BS_DT_F8_E4M3] = { "F8_E4M3", 8 },
	[BS_DT_F8_E5M2] = { "F8_E5M2", 8 },
	[BS_DT_F8_E8M0] = { "F8_E8M0", 8 },
	[BS_DT_F4] = { "F4", 4 },
	[BS_DT_F6_E2M3] = { "F6_E2M3", 6 },
	[BS_DT_F6_E3M2] = { "F6_E3M2", 6 },
	[BS_DT_BYTES] = { "BYTES", 8 },
};

const char *
bs_dtype_name(int d)
{
	return d > 0 && d < BS_DT_COUNT ? dtypes[d].name : "?";
}

int
bs_dtype_from_name(const char *name, size_t len)
{
	/* BYTES is ours, not a safetensors dtype */
	for (int d = 1; d < BS_DT_BYTES; d++)
		if (strlen(dtypes[d].name) == len && memcmp(dtypes[d].name, name, len) == 0)
			return d;
	return BS_DT_UNKNOWN;
}

unsigned
bs_dtype_bits(int d)
{
	return d > 0 && d < BS_DT_COUNT ? dtypes[d].bits : 0;
}

int
bs_tensor_bytes(int d, const uint64_t *shape, unsigned rank, uint64_t *bytes,
    const char **why)
{
	uint64_t n = bs_dtype_bits(d);

	if (n == 0) {
		*why = "unknown dtype";
		return BS_ECORRUPT;
	}
	for (unsigned i = 0; i < rank; i++)
		if (shape[i] == 0) {
			*bytes = 0;		/* empty, whatever the other dimensions */
			return 0;
		}
	for (unsigned i = 0; i < rank; i++)
		if (__builtin_mul_overflow(n, shape[i], &n)) {
			*why = "tensor size overflows 64 bits";
			return BS_ECORRUPT;
		}
	if (n % 8) {
		*why = "tensor size is not a whole number of bytes";
		return BS_ECORRUPT;
	}
	*bytes = n / 8;
	return 0;
}
