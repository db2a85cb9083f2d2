/*
 * hash.c - checksums: XXH3-64 on frames and payloads, XXH3-128 on tensors
 * (xxhash), SHA-256 on whole files (OpenSSL's libcrypto, which uses the
 * SHA extensions where the CPU has them).
 */
#include <openssl/evp.h>
#include <stdlib.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "bs.h"
#include "internal.h"

/* Inputs at least this long use the AVX2 build of XXH3 when the CPU has it. */
#define AVX2_FROM 1024

static int
have_avx2(void)
{
	static int known = -1;

	if (known < 0)
		known = __builtin_cpu_supports("avx2") ? 1 : 0;
	return known;
}

uint64_t
bs_xxh64(const void *p, size_t n)
{
	if (n >= AVX2_FROM && have_avx2())
		return bs_xxh64_avx2(p, n);
	return XXH3_64bits(p, n);
}

uint32_t
bs_xxh32(const void *p, size_t n)
{
	return (uint32_t)bs_xxh64(p, n);
}

struct bs_hash128
bs_xxh128(const void *p, size_t n)
{
	struct bs_hash128 r;
	XXH128_hash_t h;

	if (n >= AVX2_FROM && have_avx2()) {
		bs_xxh128_avx2(p, n, &r.lo, &r.hi);
		return r;
	}
	h = XXH3_128bits(p, n);
	r.lo = h.low64;
	r.hi = h.high64;
	return r;
}

struct bs_xxh128_state {
	XXH3_state_t st;
};

struct bs_xxh128_state *
bs_xxh128_new(void)
{
	struct bs_xxh128_state *s = aligned_alloc(64, (sizeof *s + 63) & ~(size_t)63);

	if (s)
		XXH3_128bits_reset(&s->st);
	return s;
}

void
bs_xxh128_reset(struct bs_xxh128_state *s)
{
	XXH3_128bits_reset(&s->st);
}

void
bs_xxh128_update(struct bs_xxh128_state *s, const void *p, size_t n)
{
	if (n >= AVX2_FROM && have_avx2())
		bs_xxh128_update_avx2(&s->st, p, n);
	else
		XXH3_128bits_update(&s->st, p, n);
}

struct bs_hash128
bs_xxh128_digest(const struct bs_xxh128_state *s)
{
	XXH128_hash_t h = XXH3_128bits_digest(&s->st);
	struct bs_hash128 r = { h.low64, h.high64 };
	return r;
}

void
bs_xxh128_free(struct bs_xxh128_state *s)
{
	free(s);
}

struct bs_sha256 {
	EVP_MD_CTX *ctx;
};

struct bs_sha256 *
bs_sha256_new(void)
{
	struct bs_sha256 *s = malloc(sizeof *s);

	if (!s)
		return NULL;
	s->ctx = EVP_MD_CTX_new();
	if (!s->ctx || EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(s->ctx);
		free(s);
		return NULL;
	}
	return s;
}

void
bs_sha256_update(struct bs_sha256 *s, const void *p, size_t n)
{
	EVP_DigestUpdate(s->ctx, p, n);
}

void
bs_sha256_final(struct bs_sha256 *s, uint8_t out[32])
{
	unsigned len = 32;

	EVP_DigestFinal_ex(s->ctx, out, &len);
	EVP_DigestInit_ex(s->ctx, EVP_sha256(), NULL);
}

void
bs_sha256_free(struct bs_sha256 *s)
{
	if (!s)
		return;
	EVP_MD_CTX_free(s->ctx);
	free(s);
}

void
bs_hex(const uint8_t *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = 0;
}
