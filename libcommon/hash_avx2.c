/*
 * hash_avx2.c - the XXH3 functions of hash.c compiled for AVX2 (this file
 * is built with -mavx2); hash.c calls them when the CPU has AVX2.  The
 * hashes are the same values whichever code computes them.
 */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "internal.h"

uint64_t
bs_xxh64_avx2(const void *p, size_t n)
{
	return XXH3_64bits(p, n);
}

void
bs_xxh128_avx2(const void *p, size_t n, uint64_t *lo, uint64_t *hi)
{
	XXH128_hash_t h = XXH3_128bits(p, n);

	*lo = h.low64;
	*hi = h.high64;
}

void
bs_xxh128_update_avx2(void *state, const void *p, size_t n)
{
	XXH3_128bits_update(state, p, n);
}
