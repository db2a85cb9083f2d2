/*
 * t_entropy.c - unit tests of the rANS coder (libcommon/entropy.c): a
 * known answer, round trips over degenerate and ordinary alphabets and
 * odd lengths (around the state-count thresholds too), split-float
 * sections, and corrupted sections.  Prints TAP.
 *
 *   gcc -O2 -g -Wall -Wextra -Ilibcommon tests/unit/t_entropy.c \
 *       libcommon/entropy.c -o t_entropy && ./t_entropy
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bs.h"
#include "entropy.h"

static int ntest, nfail;

static void
ok(int cond, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#include <stdarg.h>
static void
ok(int cond, const char *fmt, ...)
{
	va_list ap;
	printf("%sok %d - ", cond ? "" : "not ", ++ntest);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!cond)
		nfail++;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static void
diag_fail(size_t n, int g1, int g2, int g3)
{
	printf("# failed at n = %zu: %d %d %d\n", n, g1, g2, g3);
}
static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Round trip n byte symbols; returns 1 on success.  *len gets the size. */
static int
rt8(const uint8_t *s, size_t n, unsigned scale, long *len)
{
	uint32_t cnt[256] = { 0 };
	size_t cap = 2 * n + 4096;
	uint8_t *out = malloc(cap), *dec = malloc(n + 1);
	long r;
	int good;

	for (size_t i = 0; i < n; i++)
		cnt[s[i]]++;
	r = bs_ent_encode8(s, n, cnt, scale, out, cap);
	*len = r;
	good = r > 0 && bs_ent_decode8(out, (size_t)r, 256, dec, n) == 0 &&
	    memcmp(dec, s, n) == 0;
	free(out);
	free(dec);
	return good;
}

/* Round trip n 16-bit values (symbols v >> shift < nsym). */
static int
rt16(const uint16_t *v, size_t n, unsigned shift, unsigned nsym,
    unsigned scale, long *len)
{
	uint32_t *cnt = calloc(nsym, sizeof *cnt);
	size_t cap = 4 * n + 16384;
	uint8_t *out = malloc(cap), *dec = malloc(2 * n + 1);
	long r;
	int good = 1;

	for (size_t i = 0; i < n; i++)
		cnt[v[i] >> shift]++;
	r = bs_ent_encode16((const uint8_t *)v, n, shift, cnt, nsym, scale,
	    out, cap);
	*len = r;
	if (r <= 0 || bs_ent_decode16(out, (size_t)r, nsym, shift, dec, n))
		good = 0;
	for (size_t i = 0; good && i < n; i++) {
		uint16_t w;
		memcpy(&w, dec + 2 * i, 2);
		good = w == (uint16_t)((v[i] >> shift) << shift);
	}
	free(cnt);
	free(out);
	free(dec);
	return good;
}

/* BF16-like values: exponent near 0x3c, random sign and mantissa. */
static void
fill_bf16(uint16_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		v[i] = (uint16_t)((0x3c00 + (__builtin_ctzll(rnd() | 1ull << 20)
		    << 7)) ^ (rnd() & 0x807f));
}

/* Split-float round trip of n values of width 2 or 4 into exact-size
 * buffers; returns 1 on success, *len the section size. */
static int
rtsplitc(const uint8_t *raw, size_t n, unsigned width, unsigned bmin,
    unsigned bmax, unsigned ctx, int level, long *len, int *mode)
{
	size_t cap = width * n + 1024;
	uint8_t *out = malloc(cap), *dec = malloc(width * n);
	long r = bs_split_encode(raw, n, width, bmin, bmax, ctx, out, cap,
	    level);
	int good = r > 0;

	*len = r;
	if (good) {
		uint8_t *sec = malloc((size_t)r);	/* exact: ASan sees */
		memcpy(sec, out, (size_t)r);
		*mode = sec[0];
		good = bs_split_decode(sec, (size_t)r, n, width, bmin, bmax,
		    ctx, dec) == 0 && memcmp(dec, raw, width * n) == 0;
		/* a decoder not offered context mode refuses it */
		if (good && (sec[0] & 0x80))
			good = bs_split_decode(sec, (size_t)r, n, width, bmin,
			    bmax, 0, dec) == BS_ECORRUPT;
		free(sec);
	}
	free(out);
	free(dec);
	return good;
}

static int
rtsplit(const uint8_t *raw, size_t n, unsigned width, unsigned bmin,
    unsigned bmax, int level, long *len)
{
	int mode;

	return rtsplitc(raw, n, width, bmin, bmax, 0, level, len, &mode);
}

/* F16-like values whose exponent drifts slowly along the message (as in
 * rows of conv weights): the previous value's exponent predicts the next. */
static void
fill_f16_drift(uint16_t *v, size_t n)
{
	unsigned e = 12;

	for (size_t i = 0; i < n; i++) {
		if (rnd() % 16 == 0)
			e = 4 + (unsigned)(rnd() % 20);
		unsigned ee = e - (unsigned)__builtin_ctzll(rnd() | 1ull << 3);
		v[i] = (uint16_t)((ee << 10) ^ (rnd() & 0x83ff));
	}
}

int
main(void)
{
	long len;
	uint8_t *b = malloc(1 << 20);
	uint16_t *w = malloc(2 << 20);

	/* known answer: the exact bytes for a small message */
	{
		static const uint8_t msg[] = "abracadabra abracadabra!";
		static const uint8_t want[] = {
0x8b, 0x83, 0xe1, 0x5b, 0xb5, 0x02, 0x02, 0xab, 0xaa, 0xb3, 0x6a, 0xaa,
0xaa, 0x42, 0x03, 0xaa, 0xf5, 0x56, 0x00, 0xac, 0x19, 0x2b, 0x00, 0xeb,
0x0e, 0x57, 0x00, 0xa9, 0xe1, 0x44, 0x00, 0x5c, 0xcb, 0x55, 0x00, 0x5d,
0x25, 0x2b, 0x00, 0x5e, 0x5c, 0x56, 0x00, 0x26, 0xc5, 0x44, 0x00
		};
		uint32_t cnt[256] = { 0 };
		uint8_t out[256];
		size_t n = sizeof msg - 1;
		for (size_t i = 0; i < n; i++)
			cnt[msg[i]]++;
		long r = bs_ent_encode8(msg, n, cnt, 12, out, sizeof out);
		if (getenv("KAT_PRINT")) {
			for (long i = 0; i < r; i++)
				fprintf(stderr, "0x%02x,%s", out[i],
				    i % 12 == 11 ? "\n" : " ");
			fprintf(stderr, "\n");
		}
		ok(r == (long)sizeof want && !memcmp(out, want, sizeof want),
		    "known answer (%ld bytes)", r);
		{ int g_ = rt8(msg, n, 12, &len); ok(g_, "known answer round trip"); }
	}
	/* degenerate alphabets */
	memset(b, 7, 100000);
	{ int g_ = rt8(b, 100000, 12, &len); ok(g_ &&
	    len < 4 * BS_ENT_STATES_MAX + 32,
	    "one symbol, 100000 times: %ld bytes", len); }
	{ int g_ = rt8(b, 1, 12, &len); ok(g_, "one symbol, once"); }
	for (unsigned sc = 1; sc <= 15; sc++) {
		int good = rt8(b, 1000, sc, &len);
		if (sc == 1 || sc == 8 || sc == 15 || !good)
			ok(good, "one symbol at scale %u", sc);
	}
	for (size_t i = 0; i < 256 * 64; i++)
		b[i] = (uint8_t)i;
	{ int g_ = rt8(b, 256 * 64, 12, &len); ok(g_ && len < 256 * 64 + 600,
	    "all 256 symbols uniform: %ld bytes", len); }
	{ int g_ = rt8(b, 256, 8, &len); ok(g_, "all 256 symbols at scale 8 (all freq 1)"); }
	{ int g_ = rt8(b, 256, 4, &len); ok(g_, "256 symbols at scale 4 (scale raised)"); }
	{
		uint32_t cnt[256] = { 0 };
		uint8_t out[64];
		ok(bs_ent_encode8(b, 0, cnt, 12, out, sizeof out) == BS_EUSAGE,
		    "empty input is a usage error to encode");
		ok(bs_ent_decode8(out, 0, 256, b, 0) == 0,
		    "empty section decodes to nothing");
		ok(bs_ent_decode8(out, 1, 256, b, 0) == BS_ECORRUPT,
		    "non-empty section for zero symbols is corrupt");
	}
	/* skewed random, every length 1..40 and some larger */
	{
		int good = 1;
		for (size_t n = 1; n <= 40; n++) {
			for (size_t i = 0; i < n; i++)
				b[i] = (uint8_t)(__builtin_ctzll(rnd() | 1u << 30));
			good &= rt8(b, n, 12, &len);
		}
		ok(good, "lengths 1..40, skewed symbols");
		for (size_t i = 0; i < (1 << 20); i++)
			b[i] = (uint8_t)(__builtin_ctzll(rnd()) + (rnd() & 1));
		{ int g_ = rt8(b, 1 << 20, 12, &len); ok(g_ && len < (1 << 20) / 3,
		    "1 MiB skewed: %ld bytes", len); }
		for (size_t i = 0; i < (1 << 20); i++)
			b[i] = (uint8_t)rnd();
		{ int g_ = rt8(b, 1 << 20, 12, &len); ok(g_ && len < (1 << 20) + 1000,
		    "1 MiB random: %ld bytes", len); }
	}
	/* 16-bit symbols, large alphabets, shifts */
	{
		for (size_t i = 0; i < (1 << 20); i++)
			w[i] = (uint16_t)(rnd() & 0xfff);
		{ int g_ = rt16(w, 1 << 20, 0, 4096, 12, &len); ok(g_,
		    "4096 symbols uniform: %ld bytes", len); }
		{ int g_ = rt16(w, 5000, 0, 4096, 12, &len); ok(g_,
		    "4096-symbol alphabet, 5000 symbols (scale raised)"); }
		for (size_t i = 0; i < (1 << 19); i++)
			w[i] = (uint16_t)((0x3c00 + (__builtin_ctzll(rnd()) << 7)) ^
			    (rnd() & 0x807f));
		{ int g_ = rt16(w, 1 << 19, 4, 4096, 13, &len); ok(g_,
		    "float-like, shift 4: %ld bytes", len); }
		{ int g_ = rt16(w, 1 << 19, 7, 512, 11, &len); ok(g_,
		    "float-like, shift 7: %ld bytes", len); }
		int good = 1;
		for (size_t n = 1; n <= 33; n++)
			good &= rt16(w + 100, n, 4, 4096, 12, &len);
		ok(good, "16-bit lengths 1..33");
	}
	/* varints */
	{
		uint8_t vb[16];
		uint64_t vals[] = { 0, 1, 127, 128, 300, 1u << 20, 1ull << 62 };
		int good = 1;
		for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
			uint64_t v;
			size_t k = bs_ent_varint_put(vb, sizeof vb, vals[i]);
			good &= k > 0 && bs_ent_varint_get(vb, k, &v) == k &&
			    v == vals[i] && bs_ent_varint_get(vb, k - 1, &v) == 0;
		}
		ok(good, "varint round trips and truncation");
	}
	/* corruption: never crash; either an error or n symbols */
	{
		uint32_t cnt[256] = { 0 };
		size_t n = 3000;
		uint8_t out[8192], bad[8192], dec[3000];
		int fine = 1, caught = 0, trials = 0;
		for (size_t i = 0; i < n; i++)
			cnt[b[i] = (uint8_t)(__builtin_ctzll(rnd()) * 3)]++;
		long r = bs_ent_encode8(b, n, cnt, 12, out, sizeof out);
		ok(r > 0, "corruption base: %ld bytes", r);
		for (int t = 0; t < 3000; t++) {
			size_t len2 = (size_t)r;
			memcpy(bad, out, (size_t)r);
			switch (t % 3) {
			case 0:
				bad[rnd() % (size_t)r] ^= (uint8_t)(1u << (rnd() & 7));
				break;
			case 1:
				len2 = rnd() % (size_t)r;
				break;
			case 2:
				for (size_t i = 0; i < len2; i++)
					bad[i] = (uint8_t)rnd();
				break;
			}
			int e = bs_ent_decode8(bad, len2, 256, dec, n);
			trials++;
			if (e != 0 && e != BS_ECORRUPT)
				fine = 0;
			caught += e == BS_ECORRUPT;
		}
		ok(fine, "3000 corrupted sections: no crash, %d of %d caught",
		    caught, trials);
		for (size_t i = 0; i < 2000; i++)
			w[i] = (uint16_t)((0x3c00 + (__builtin_ctzll(rnd()) << 7)) ^
			    (rnd() & 0x807f));
		uint32_t c16[4096] = { 0 };
		for (size_t i = 0; i < 2000; i++)
			c16[w[i] >> 4]++;
		r = bs_ent_encode16((uint8_t *)w, 2000, 4, c16, 4096, 12, out,
		    sizeof out);
		fine = r > 0;
		for (int t = 0; t < 2000 && fine; t++) {
			uint8_t d16[4000];
			memcpy(bad, out, (size_t)r);
			bad[rnd() % (size_t)r] ^= (uint8_t)(1u << (rnd() & 7));
			int e = bs_ent_decode16(bad, (size_t)r - (t & 1), 4096,
			    4, d16, 2000);
			fine = e == 0 || e == BS_ECORRUPT;
		}
		ok(fine, "2000 corrupted 16-bit sections: no crash");
	}
	/* split floats around the state-count thresholds (8, 16, 32, 64) */
	{
		static const size_t ns[] = { 16, 17, 1000, 4095, 4096, 4103,
		    16383, 16384, 16391, 65535, 65536, 65536 + 13, 262147 };
		int good = 1;
		fill_bf16(w, 1 << 20);
		for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
			const uint8_t *wb = (const uint8_t *)w;
			int g1 = rtsplit(wb, ns[k], 2, 9, 14, 3, &len);
			int g2 = rtsplit(wb, ns[k], 2, 6, 13, 7, &len);
			int g3 = rtsplit(wb, ns[k] / 2 + 16, 4, 9, 12, 3,
			    &len);
			if (!(g1 && g2 && g3))
				diag_fail(ns[k], g1, g2, g3);
			good &= g1 && g2 && g3;
		}
		ok(good, "split-float round trips, n from 16 to 262147");
		/* 16-bit symbols only, wide and long */
		good = 1;
		for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++)
			good &= rt16(w, ns[k], 2, 16384, 13, &len);
		ok(good, "16-bit sections of 14-bit symbols, n to 262147");
	}
	/* corrupted long split sections: the SIMD loop meets garbage */
	{
		size_t n = 70001, cap = 2 * n + 1024;
		uint8_t *sec = malloc(cap), *bad = malloc(cap);
		uint8_t *dec = malloc(2 * n);
		long r = bs_split_encode((uint8_t *)w, n, 2, 9, 14, 0, sec, cap,
		    3);
		int fine = r > 0, caught = 0;
		for (int t = 0; t < 300 && fine; t++) {
			size_t l2 = (size_t)r;
			memcpy(bad, sec, (size_t)r);
			if (t % 3 == 0)
				l2 = 1 + rnd() % (size_t)r;
			else if (t % 3 == 1)
				bad[rnd() % (size_t)r] ^=
				    (uint8_t)(1u << (rnd() & 7));
			else
				for (size_t i = 1 + rnd() % (size_t)r; i < l2;
				    i++)
					bad[i] = (uint8_t)rnd();
			uint8_t *ex = malloc(l2);	/* exact length */
			memcpy(ex, bad, l2);
			int e = bs_split_decode(ex, l2, n, 2, 9, 14, 0, dec);
			free(ex);
			fine = e == 0 || e == BS_ECORRUPT;
			caught += e == BS_ECORRUPT;
		}
		ok(fine && caught > 150,
		    "300 corrupted long split sections: no crash, %d caught",
		    caught);
		free(sec);
		free(bad);
		free(dec);
	}
	/* order-1 context mode (F16): chosen where it pays, exact around
	 * the state-count thresholds, refused by a decoder not offered it */
	{
		static const size_t ns[] = { 16, 1000, 4096, 4099, 16383,
		    16384 + 5, 65535, 65536 + 13, 262147 };
		int good = 1, used = 0, mode;
		fill_f16_drift(w, 1 << 20);
		for (size_t k = 0; k < sizeof ns / sizeof ns[0]; k++) {
			int g = rtsplitc((const uint8_t *)w, ns[k], 2, 6, 13, 5,
			    k & 1 ? 7 : 3, &len, &mode);
			if (!g)
				printf("# context mode fails at n = %zu\n", ns[k]);
			good &= g;
			used += g && len > 0 && (mode & 0x80);
		}
		ok(good && used >= 5,
		    "context-mode round trips, n from 16 to 262147 (%d coded "
		    "in context mode)", used);
		/* the same values without drift: no context mode */
		fill_bf16(w, 70000);
		good = rtsplitc((const uint8_t *)w, 70000, 2, 6, 13, 5, 3,
		    &len, &mode) && !(mode & 0x80);
		ok(good, "no context mode where the context does not pay");
	}
	/* corrupted context-mode sections: no crash, mostly caught */
	{
		size_t n = 70001, cap = 2 * n + 1024;
		uint8_t *sec = malloc(cap), *bad = malloc(cap);
		uint8_t *dec = malloc(2 * n);
		fill_f16_drift(w, n);
		long r = bs_split_encode((uint8_t *)w, n, 2, 6, 13, 5, sec, cap,
		    3);
		int fine = r > 0 && (sec[0] & 0x80), caught = 0;
		for (int t = 0; t < 300 && fine; t++) {
			size_t l2 = (size_t)r;
			memcpy(bad, sec, (size_t)r);
			if (t % 3 == 0)
				l2 = 1 + rnd() % (size_t)r;
			else if (t % 3 == 1)
				bad[1 + rnd() % ((size_t)r - 1)] ^=
				    (uint8_t)(1u << (rnd() & 7));
			else
				for (size_t i = 1 + rnd() % (size_t)r; i < l2;
				    i++)
					bad[i] = (uint8_t)rnd();
			uint8_t *ex = malloc(l2);	/* exact length */
			memcpy(ex, bad, l2);
			int e = bs_split_decode(ex, l2, n, 2, 6, 13, 5, dec);
			free(ex);
			fine = e == 0 || e == BS_ECORRUPT;
			caught += e == BS_ECORRUPT;
		}
		ok(fine && caught > 100,
		    "300 corrupted context-mode sections: no crash, %d caught",
		    caught);
		free(sec);
		free(bad);
		free(dec);
	}
	free(b);
	free(w);
	printf("1..%d\n", ntest);
	return nfail != 0;
}
