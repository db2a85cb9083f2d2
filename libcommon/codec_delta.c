/*
 * codec_delta.c - residuals of 16-bit float tensors (BF16, F16) against
 * their base, as bs-delta makes them: mostly small integers (SUB) or
 * patterns with few low bits set (XOR).
 *
 * Method: each 16-bit value v (optionally zig-zagged first, z = (v << 1) ^
 * (v >> 15 ? 0xffff : 0), so that small negative differences are small too)
 * is split into its magnitude class L = bit length (0..16), the k bits
 * under its leading 1 (k = min(K, L - 1)) and the L - 1 - k bits below
 * them.  The symbol (L << K) | top is coded by the rANS coder of entropy.c,
 * the low bits are stored packed.  K (0..2) and zig-zag are chosen per
 * chunk from the histograms.  AVX2 and AVX-512 loops (bs_simd_level) make
 * the symbols, the histograms and the packed bits, and unpack them, with
 * the same bytes as the portable loops.
 *
 * Payload (n = raw_len / 2 values, little endian):
 *   1 byte   mode: bits 0-1 K, bit 2 zig-zag; other bits 0
 *   4 bytes  S, the length of the rANS section
 *   S bytes  rANS section (entropy.h, 8-bit variant) of the n symbols
 *   R bytes  the low bits of every value with L - 1 > K, in order, packed
 *            LSB first; R = ceil(total / 8), padding bits 0
 *   t bytes  raw_len % 2 trailing byte, stored as is
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bs.h"
#include "entropy.h"
#include "internal.h"

#define NSYM(K) (17u << (K))

static int
delta_accepts(int dtype)
{
	/* not the 16-bit integers: codec.c would then pick it for their
	 * raw chunks instead of zstd */
	return dtype == BS_DT_BF16 || dtype == BS_DT_F16;
}

static inline unsigned
zz16(unsigned v)
{
	return ((v << 1) ^ (v & 0x8000 ? 0xffff : 0)) & 0xffff;
}

static inline unsigned
unzz16(unsigned z)
{
	return ((z >> 1) ^ (z & 1 ? 0xffff : 0)) & 0xffff;
}

static inline unsigned
bitlen(unsigned v)
{
	return v ? 32 - (unsigned)__builtin_clz(v) : 0;
}

/*
 * The K = 2 symbol of every 16-bit value w, from a 2 KiB table that stays
 * in L1: below 1024 by w itself, above by w >> 6 (the two bits under the
 * leading 1 of w >= 1024 are at bit 6 or higher).
 */
static uint8_t sym2_tab[2048];
static pthread_once_t sym2_once = PTHREAD_ONCE_INIT;

static unsigned
sym2_slow(unsigned w)
{
	unsigned L = bitlen(w);

	return L << 2 | (L > 2 ? (w >> (L - 3)) & 3 : L == 2 ? (w & 1) : 0);
}

static void
sym2_init(void)
{
	for (unsigned w = 0; w < 1024; w++)
		sym2_tab[w] = (uint8_t)sym2_slow(w);
	for (unsigned h = 16; h < 1024; h++)
		sym2_tab[1024 + h] = (uint8_t)sym2_slow(h << 6);
}

static inline unsigned
sym2_of(unsigned w)
{
	return sym2_tab[w >= 1024 ? 1024 + (w >> 6) : w];
}


/* Append the len low bits of bits (len <= 32) to the packed low bits: acc
 * holds *used < 32 pending bits, a word is stored at every call and lp
 * moves on when it is full (branch-free). */
static inline void
put_bits(uint8_t **lp, uint64_t *acc, unsigned *used, uint64_t bits,
    unsigned len)
{
	*acc |= bits << *used;
	*used += len;
	put32(*lp, (uint32_t)*acc);
	unsigned full = *used >> 5;
	*lp += 4 * full;
	*acc >>= 32 * full;
	*used &= 31;
}

#ifdef BS_X86_SIMD
#include <immintrin.h>

/* An exclusive prefix sum of the 16 lanes of r; *total their sum. */
__attribute__((target("avx512f"))) static inline __m512i
excl_scan16(__m512i r, uint32_t *total)
{
	__m512i z = _mm512_setzero_si512(), s = r;

	s = _mm512_add_epi32(s, _mm512_alignr_epi32(s, z, 15));
	s = _mm512_add_epi32(s, _mm512_alignr_epi32(s, z, 14));
	s = _mm512_add_epi32(s, _mm512_alignr_epi32(s, z, 12));
	s = _mm512_add_epi32(s, _mm512_alignr_epi32(s, z, 8));
	*total = (uint32_t)_mm_extract_epi32(_mm512_extracti32x4_epi32(s, 3), 3);
	return _mm512_sub_epi32(s, r);
}

/*
 * The values of sym[i..n) from their symbols and low bits, 16 at a time,
 * without gathers (slow on some cores): a symbol's low-bit count and top
 * bits come from byte tables of 128 entries in two registers each (rt, bl,
 * bh: tab's fields), and each value's low bits from a 64-byte window of
 * lo loaded at the step's first bit, by byte permutes.  Runs while 64
 * bytes remain past *bp (16 values take at most 32 bytes and a 4-byte read
 * past their start).  Stops early at a symbol no encoder writes, for the
 * portable loop to report.  Returns the index reached; *bp follows.
 */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vbmi"))) static size_t
unpack_avx512(const uint16_t *sym, size_t n, const uint32_t tab[256],
    const uint8_t *lo, size_t A, size_t *bp, unsigned z, uint8_t *out)
{
	uint8_t rt[128], bl[128], bh[128];
	size_t i = 0, b = *bp;

	for (unsigned q = 0; q < 128; q++) {
		rt[q] = (uint8_t)(tab[q] >> 16);
		bl[q] = (uint8_t)tab[q];
		bh[q] = (uint8_t)(tab[q] >> 8);
	}
	const __m512i rt0 = _mm512_loadu_si512(rt), rt1 = _mm512_loadu_si512(rt + 64),
	    bl0 = _mm512_loadu_si512(bl), bl1 = _mm512_loadu_si512(bl + 64),
	    bh0 = _mm512_loadu_si512(bh), bh1 = _mm512_loadu_si512(bh + 64);
	const __m512i one = _mm512_set1_epi32(1), v16 = _mm512_set1_epi32(16),
	    lowb = _mm512_set1_epi32(0xff), seven = _mm512_set1_epi32(7),
	    bytes = _mm512_set1_epi32(0x03020100),
	    bcast = _mm512_set_epi8(
		60, 60, 60, 60, 56, 56, 56, 56, 52, 52, 52, 52, 48, 48, 48, 48,
		44, 44, 44, 44, 40, 40, 40, 40, 36, 36, 36, 36, 32, 32, 32, 32,
		28, 28, 28, 28, 24, 24, 24, 24, 20, 20, 20, 20, 16, 16, 16, 16,
		12, 12, 12, 12, 8, 8, 8, 8, 4, 4, 4, 4, 0, 0, 0, 0);

	for (; i + 16 <= n && (b >> 3) + 64 <= A; i += 16) {
		__m512i q = _mm512_cvtepu16_epi32(_mm256_loadu_si256(
		    (const __m256i *)(sym + i)));
		/* the symbols are below NSYM(2) = 68: one byte each */
		__m512i r = _mm512_and_si512(_mm512_permutex2var_epi8(rt0, q,
		    rt1), lowb);
		if (_mm512_cmpgt_epu32_mask(r, v16))
			break;
		__m512i base = _mm512_or_si512(
		    _mm512_and_si512(_mm512_permutex2var_epi8(bl0, q, bl1), lowb),
		    _mm512_slli_epi32(_mm512_and_si512(
		    _mm512_permutex2var_epi8(bh0, q, bh1), lowb), 8));
		uint32_t total;
		__m512i off = _mm512_add_epi32(excl_scan16(r, &total),
		    _mm512_set1_epi32((int)(b & 7)));
		__m512i win = _mm512_loadu_si512(lo + (b >> 3));
		__m512i idx = _mm512_add_epi8(_mm512_permutexvar_epi8(bcast,
		    _mm512_srli_epi32(off, 3)), bytes);
		__m512i g = _mm512_permutexvar_epi8(idx, win);
		__m512i w = _mm512_srlv_epi32(g, _mm512_and_si512(off, seven));
		w = _mm512_and_si512(w, _mm512_sub_epi32(_mm512_sllv_epi32(one,
		    r), one));
		w = _mm512_or_si512(w, base);
		if (z)	/* (w >> 1) ^ -(w & 1); the store keeps 16 bits */
			w = _mm512_xor_si512(_mm512_srli_epi32(w, 1),
			    _mm512_sub_epi32(_mm512_setzero_si512(),
			    _mm512_and_si512(w, one)));
		_mm256_storeu_si256((__m256i *)(out + 2 * i),
		    _mm512_cvtepi32_epi16(w));
		b += total;
	}
	*bp = b;
	return i;
}

/*
 * The K = k symbols of 16 values v (zig-zagged first when z), their low
 * bits and the count r of those: the portable loops' sums in lanes.
 */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512cd"))) static inline __m512i
sym16(__m512i v, unsigned z, unsigned k, __m512i *low, __m512i *r)
{
	const __m512i zero = _mm512_setzero_si512(), one = _mm512_set1_epi32(1);

	if (z)
		v = _mm512_and_si512(_mm512_xor_si512(_mm512_slli_epi32(v, 1),
		    _mm512_sub_epi32(zero, _mm512_srli_epi32(v, 15))),
		    _mm512_set1_epi32(0xffff));
	__m512i L = _mm512_sub_epi32(_mm512_set1_epi32(32), _mm512_lzcnt_epi32(v));
	/* r = max(L - 1 - k, 0); the top bits kept: min(k, max(L - 1, 0)) */
	__m512i rr = _mm512_max_epi32(_mm512_sub_epi32(L,
	    _mm512_set1_epi32((int)k + 1)), zero);
	__m512i kk = _mm512_min_epi32(_mm512_set1_epi32((int)k),
	    _mm512_max_epi32(_mm512_sub_epi32(L, one), zero));
	__m512i tm = _mm512_sub_epi32(_mm512_sllv_epi32(one, kk), one);
	*r = rr;
	*low = _mm512_and_si512(v, _mm512_sub_epi32(_mm512_sllv_epi32(one, rr), one));
	return _mm512_or_si512(_mm512_sllv_epi32(L, _mm512_set1_epi32((int)k)),
	    _mm512_and_si512(_mm512_srlv_epi32(v, rr), tm));
}

/*
 * unpack_avx512 with AVX2, 8 values a step: the symbol's fields by a gather
 * from tab, the prefix sum across the two halves, each value's bits by a
 * gather of 32-bit words.  Runs while 24 bytes remain past *bp.
 */
__attribute__((target("avx2"))) static size_t
unpack_avx2(const uint16_t *sym, size_t n, const uint32_t tab[256],
    const uint8_t *lo, size_t A, size_t *bp, unsigned z, uint8_t *out)
{
	const __m256i one = _mm256_set1_epi32(1), v16 = _mm256_set1_epi32(16),
	    low16 = _mm256_set1_epi32(0xffff), seven = _mm256_set1_epi32(7);
	size_t i = 0, b = *bp;

	for (; i + 8 <= n && (b >> 3) + 24 <= A; i += 8) {
		__m256i q = _mm256_cvtepu16_epi32(_mm_loadu_si128(
		    (const __m128i *)(sym + i)));
		__m256i t = _mm256_i32gather_epi32((const int *)tab, q, 4);
		__m256i r = _mm256_srli_epi32(t, 16);
		if (!_mm256_testz_si256(_mm256_cmpgt_epi32(r, v16), _mm256_cmpgt_epi32(r, v16)))
			break;
		/* inclusive sums in each half, then the low half's total
		 * added to the high half */
		__m256i s = _mm256_add_epi32(r, _mm256_slli_si256(r, 4));
		s = _mm256_add_epi32(s, _mm256_slli_si256(s, 8));
		s = _mm256_add_epi32(s, _mm256_permute2x128_si256(
		    _mm256_shuffle_epi32(s, 0xff), _mm256_shuffle_epi32(s, 0xff), 0x08));
		uint32_t total = (uint32_t)_mm256_extract_epi32(s, 7);
		__m256i off = _mm256_add_epi32(_mm256_sub_epi32(s, r),
		    _mm256_set1_epi32((int)(b & 7)));
		__m256i g = _mm256_i32gather_epi32((const int *)(lo + (b >> 3)),
		    _mm256_srli_epi32(off, 3), 1);
		__m256i w = _mm256_srlv_epi32(g, _mm256_and_si256(off, seven));
		w = _mm256_and_si256(w, _mm256_sub_epi32(_mm256_sllv_epi32(one, r), one));
		w = _mm256_or_si256(w, _mm256_and_si256(t, low16));
		if (z)
			w = _mm256_xor_si256(_mm256_srli_epi32(w, 1),
			    _mm256_sub_epi32(_mm256_setzero_si256(),
			    _mm256_and_si256(w, one)));
		w = _mm256_and_si256(w, low16);
		w = _mm256_permute4x64_epi64(_mm256_packus_epi32(w, w), 0x08);
		_mm_storeu_si128((__m128i *)(out + 2 * i), _mm256_castsi256_si128(w));
		b += total;
	}
	*bp = b;
	return i;
}

/* sym16 for 8 values with AVX2: the bit length from the float exponent of
 * the value (exact below 2^24; 0 gives 0). */
__attribute__((target("avx2"))) static inline __m256i
sym8(__m256i v, unsigned z, unsigned k, __m256i *low, __m256i *r)
{
	const __m256i zero = _mm256_setzero_si256(), one = _mm256_set1_epi32(1);

	if (z)
		v = _mm256_and_si256(_mm256_xor_si256(_mm256_slli_epi32(v, 1),
		    _mm256_sub_epi32(zero, _mm256_srli_epi32(v, 15))),
		    _mm256_set1_epi32(0xffff));
	__m256i L = _mm256_max_epi32(_mm256_sub_epi32(_mm256_srli_epi32(
	    _mm256_castps_si256(_mm256_cvtepi32_ps(v)), 23), _mm256_set1_epi32(126)), zero);
	__m256i rr = _mm256_max_epi32(_mm256_sub_epi32(L,
	    _mm256_set1_epi32((int)k + 1)), zero);
	__m256i kk = _mm256_min_epi32(_mm256_set1_epi32((int)k),
	    _mm256_max_epi32(_mm256_sub_epi32(L, one), zero));
	__m256i tm = _mm256_sub_epi32(_mm256_sllv_epi32(one, kk), one);
	*r = rr;
	*low = _mm256_and_si256(v, _mm256_sub_epi32(_mm256_sllv_epi32(one, rr), one));
	return _mm256_or_si256(_mm256_sllv_epi32(L, _mm256_set1_epi32((int)k)),
	    _mm256_and_si256(_mm256_srlv_epi32(v, rr), tm));
}

/* The K = 2 symbols of m values (a multiple of 8) as bytes, with AVX2. */
__attribute__((target("avx2"))) static void
syms2_avx2(const uint8_t *raw, size_t m, unsigned z, uint8_t *buf)
{
	for (size_t j = 0; j < m; j += 8) {
		__m256i low, r, v = _mm256_cvtepu16_epi32(_mm_loadu_si128(
		    (const __m128i *)(raw + 2 * j)));
		/* below 68: to 16 then 8 bits, four bytes in each half */
		__m256i s = sym8(v, z, 2, &low, &r);
		s = _mm256_packus_epi16(_mm256_packus_epi32(s, s), s);
		put32(buf + j, (uint32_t)_mm256_extract_epi32(s, 0));
		put32(buf + j + 4, (uint32_t)_mm256_extract_epi32(s, 4));
	}
}

/* pack_avx512 with AVX2, 8 values a step (n done: a multiple of 8). */
__attribute__((target("avx2"))) static size_t
pack_avx2(const uint8_t *raw, size_t n, unsigned z, unsigned k,
    uint16_t *sym, uint8_t **lp, uint64_t *acc, unsigned *used)
{
	const __m256i m32 = _mm256_set1_epi64x(0xffffffff);
	uint64_t pb[4], pl[4];
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		__m256i low, r, v = _mm256_cvtepu16_epi32(_mm_loadu_si128(
		    (const __m128i *)(raw + 2 * i)));
		__m256i s = sym8(v, z, k, &low, &r);
		/* 32 to 16 bits in each half, then the halves together */
		s = _mm256_permute4x64_epi64(_mm256_packus_epi32(s, s), 0x08);
		_mm_storeu_si128((__m128i *)(sym + i), _mm256_castsi256_si128(s));
		__m256i re = _mm256_and_si256(r, m32);
		_mm256_storeu_si256((__m256i *)pb, _mm256_or_si256(_mm256_and_si256(low,
		    m32), _mm256_sllv_epi64(_mm256_srli_epi64(low, 32), re)));
		_mm256_storeu_si256((__m256i *)pl, _mm256_add_epi64(re,
		    _mm256_srli_epi64(r, 32)));
		for (int j = 0; j < 4; j++)
			put_bits(lp, acc, used, pb[j], (unsigned)pl[j]);
	}
	return i;
}

/* The K = 2 symbols of m values (a multiple of 16) as bytes, with AVX-512. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512cd"))) static void
syms2_avx512(const uint8_t *raw, size_t m, unsigned z, uint8_t *buf)
{
	for (size_t j = 0; j < m; j += 16) {
		__m512i low, r, v = _mm512_cvtepu16_epi32(
		    _mm256_loadu_si256((const __m256i *)(raw + 2 * j)));
		_mm_storeu_si128((__m128i *)(buf + j),
		    _mm512_cvtepi32_epi8(sym16(v, z, 2, &low, &r)));
	}
}

/* delta_histogram's counting for z (0 or 1) over n values, n a multiple of
 * 16, into part (four interleaved tables): the symbols made 256 at a time
 * by syms (a SIMD loop), counted here. */
static void
hist_simd(void (*syms)(const uint8_t *, size_t, unsigned, uint8_t *),
    const uint8_t *raw, size_t n, unsigned z, uint32_t part[4][17 << 2])
{
	uint8_t buf[256];

	for (size_t i = 0; i < n; ) {
		size_t m = n - i < 256 ? n - i : 256;
		syms(raw + 2 * i, m, z, buf);
		for (size_t j = 0; j < m; j += 4) {
			part[0][buf[j]]++;
			part[1][buf[j + 1]]++;
			part[2][buf[j + 2]]++;
			part[3][buf[j + 3]]++;
		}
		i += m;
	}
}

/*
 * delta_encode's loop, 16 values a step: the symbols to sym, the low bits
 * paired in lanes (at most 30 bits a pair) and appended by put_bits.
 * Returns the values done (a multiple of 16).
 */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512cd"))) static size_t
pack_avx512(const uint8_t *raw, size_t n, unsigned z, unsigned k,
    uint16_t *sym, uint8_t **lp, uint64_t *acc, unsigned *used)
{
	const __m512i m32 = _mm512_set1_epi64(0xffffffff);
	uint64_t pb[8], pl[8];
	size_t i = 0;

	for (; i + 16 <= n; i += 16) {
		__m512i low, r, v = _mm512_cvtepu16_epi32(_mm256_loadu_si256(
		    (const __m256i *)(raw + 2 * i)));
		_mm256_storeu_si256((__m256i *)(sym + i),
		    _mm512_cvtepi32_epi16(sym16(v, z, k, &low, &r)));
		__m512i re = _mm512_and_si512(r, m32);
		_mm512_storeu_si512(pb, _mm512_or_si512(_mm512_and_si512(low,
		    m32), _mm512_sllv_epi64(_mm512_srli_epi64(low, 32), re)));
		_mm512_storeu_si512(pl, _mm512_add_epi64(re,
		    _mm512_srli_epi64(r, 32)));
		for (int j = 0; j < 8; j++)
			put_bits(lp, acc, used, pb[j], (unsigned)pl[j]);
	}
	return i;
}
#endif

/*
 * Histogram of the K = 2 symbol of every value, plain (h[0]) and zig-zagged
 * (h[1]); derive_counts makes the K = 1 and K = 0 ones from it.  Zig-zag
 * only pays for values with the top bit set (negative differences), and
 * costs about a bit on each of the others: with fewer than n / 32 of them
 * only the plain histogram is made, with more than n / 4 only the
 * zig-zagged one (the other is left all zero, *zs says which: 1 plain,
 * 2 zig-zag, 3 both).  Four interleaved tables keep stores to one counter
 * from serialising.
 */
static void
delta_histogram(const uint8_t *raw, size_t n, uint32_t h[2][3][17 << 2],
    int *zs)
{
	uint32_t part[4][17 << 2];
	size_t neg = 0, i;

	pthread_once(&sym2_once, sym2_init);
	for (i = 0; i + 4 <= n; i += 4)
		neg += ((get64(raw + 2 * i) >> 15 & 0x0001000100010001ull) *
		    0x0001000100010001ull) >> 48;	/* the 4 top bits */
	for (; i < n; i++)
		neg += get16(raw + 2 * i) >> 15;
	*zs = neg < n / 32 ? 1 : neg > n / 4 ? 2 : 3;
	for (int z = 0; z < 2; z++) {
		if (!(*zs >> z & 1))
			continue;
		memset(part, 0, sizeof part);
		i = 0;
#ifdef BS_X86_SIMD
		if (bs_simd_level() >= 1)
			hist_simd(bs_simd_level() >= 2 ? syms2_avx512 : syms2_avx2,
			    raw, i = n & ~(size_t)15, (unsigned)z, part);
#endif
#define ONE(q, v) part[q][sym2_of(z ? zz16(v) : (v))]++
		for (; i + 4 <= n; i += 4) {
			uint64_t g = get64(raw + 2 * i);
			ONE(0, (unsigned)(g & 0xffff));
			ONE(1, (unsigned)(g >> 16 & 0xffff));
			ONE(2, (unsigned)(g >> 32 & 0xffff));
			ONE(3, (unsigned)(g >> 48));
		}
		for (; i < n; i++)
			ONE(0, get16(raw + 2 * i));
#undef ONE
		for (unsigned s = 0; s < (17u << 2); s++)
			h[z][2][s] = part[0][s] + part[1][s] + part[2][s] + part[3][s];
	}
}

/* From c[2] (K = 2 counts) fill c[1], c[0] and the low-bit totals ex[K]. */
static void
derive_counts(uint32_t c[3][17 << 2], uint64_t ex[3])
{
	for (unsigned L = 0; L <= 16; L++)
		for (unsigned top = 0; top < 4; top++) {
			uint32_t k = c[2][L << 2 | top];
			unsigned k2 = L > 1 ? (L - 1 < 2 ? L - 1 : 2) : 0;
			unsigned k1 = L > 1 ? 1 : 0;
			if (!k)
				continue;
			c[1][L << 1 | (k2 ? top >> (k2 - k1) : 0)] += k;
			c[0][L] += k;
			for (unsigned K = 0; K < 3; K++)
				ex[K] += (uint64_t)k * (L > 1 + K ? L - 1 - K : 0);
		}
}

/* Histograms of raw (n values) and the cheapest mode: returns its bits. */
static double
best_mode(const uint8_t *raw, size_t n, double scale, uint32_t cnt[2][3][17 << 2],
    uint64_t extra[2][3], int *bz, int *bk)
{
	double best = 0;

	memset(cnt, 0, 2 * sizeof cnt[0]);
	memset(extra, 0, 2 * sizeof extra[0]);
	int zs;
	delta_histogram(raw, n, cnt, &zs);
	*bz = -1;
	for (int z = 0; z < 2; z++) {
		if (!(zs >> z & 1))
			continue;
		derive_counts(cnt[z], extra[z]);
		for (unsigned K = 0; K < 3; K++) {
			double bits = bs_ent_estimate(cnt[z][K], NSYM(K), scale) +
			    (double)extra[z][K] * scale;
			if (*bz < 0 || bits < best)
				best = bits, *bz = z, *bk = (int)K;
		}
	}
	return best;
}

static long
delta_encode(int dtype, const uint8_t *raw, size_t raw_len, uint8_t *out,
    size_t cap, int level)
{
	size_t n = raw_len / 2, t = raw_len & 1, pos, nbits;
	uint32_t cnt[2][3][17 << 2], cnt256[256];
	uint64_t extra[2][3];
	double best;
	int bz = 0, bk = 0;
	uint16_t *sym;
	uint64_t acc = 0;
	unsigned used = 0;
	long s;

	(void)dtype, (void)level;
	if (n < 16 || cap < 5 + t + 16)
		return 0;
	best = best_mode(raw, n, 1.0, cnt, extra, &bz, &bk);
	/* clearly over the cap: not worth coding (the estimate can be some
	 * bytes off on short chunks, so a close one is coded and measured) */
	if (best / 8 + 5 + t >= (double)cap * 1.02 + 32)
		return 0;
	nbits = (size_t)extra[bz][bk];
	if (5 + (nbits + 7) / 8 + t >= cap)
		return 0;
	if (!(sym = malloc(2 * n + (nbits + 7) / 8 + 8)))
		return BS_ENOMEM;
	/* symbols (16-bit, for the SIMD encoder) and low bits in one pass;
	 * the low bits go to the end of sym's buffer, 32 bits at a time
	 * (branch-free: a word is stored at every pair of values and the
	 * pointer moves when it is full), and move behind the rANS section.
	 * Per magnitude class L: rt the low bits stored, tm the mask of the
	 * top bits kept in the symbol. */
	uint8_t rt[17], tm[17];
	for (unsigned L = 0; L <= 16; L++) {
		unsigned k = L > 1 ? (L - 1 < (unsigned)bk ? L - 1 : (unsigned)bk) : 0;
		rt[L] = (uint8_t)(L > 1 + k ? L - 1 - k : 0);
		tm[L] = (uint8_t)((1u << k) - 1);
	}
	uint8_t *low = (uint8_t *)(sym + n), *lp = low;
	size_t i = 0;
#ifdef BS_X86_SIMD
	if (bs_simd_level() >= 2)
		i = pack_avx512(raw, n, (unsigned)bz, (unsigned)bk, sym, &lp,
		    &acc, &used);
	else if (bs_simd_level() >= 1)
		i = pack_avx2(raw, n, (unsigned)bz, (unsigned)bk, sym, &lp,
		    &acc, &used);
#endif
#define ONE(v, w, r, q) do {						\
	(w) = bz ? zz16(v) : (v);					\
	unsigned L_ = 31 - (unsigned)__builtin_clz(2 * (w) + 1);	\
	(r) = rt[L_];							\
	(q) = (uint16_t)(L_ << bk | (((w) >> (r)) & tm[L_]));		\
} while (0)
	for (; i + 2 <= n; i += 2) {
		unsigned v0 = get16(raw + 2 * i), v1 = get16(raw + 2 * i + 2);
		unsigned w0, w1, r0, r1;
		ONE(v0, w0, r0, sym[i]);
		ONE(v1, w1, r1, sym[i + 1]);
		put_bits(&lp, &acc, &used, (w0 & ((1u << r0) - 1)) |
		    (uint64_t)(w1 & ((1u << r1) - 1)) << r0, r0 + r1);
	}
	for (; i < n; i++) {
		unsigned v = get16(raw + 2 * i), w, r;
		ONE(v, w, r, sym[i]);
		put_bits(&lp, &acc, &used, w & ((1u << r) - 1), r);
	}
#undef ONE
	while (used > 0) {
		*lp++ = (uint8_t)acc;
		acc >>= 8;
		used = used > 8 ? used - 8 : 0;
	}
	out[0] = (uint8_t)(bk | bz << 2);
	memset(cnt256, 0, sizeof cnt256);
	memcpy(cnt256, cnt[bz][bk], NSYM(bk) * sizeof cnt256[0]);
	/* nsym 256: the section bs_ent_encode8 writes, by the SIMD coder */
	s = bs_ent_encode16((const uint8_t *)sym, n, 0, cnt256, 256,
	    BS_ENT_DEF_SCALE, out + 5, cap - 5 - t);
	if (s <= 0) {
		free(sym);
		return s;
	}
	put32(out + 1, (uint32_t)s);
	pos = 5 + (size_t)s;
	if (pos + (size_t)(lp - low) + t >= cap) {
		free(sym);
		return 0;
	}
	memcpy(out + pos, low, (size_t)(lp - low));
	pos += (size_t)(lp - low);
	free(sym);
	if (t)
		out[pos++] = raw[raw_len - 1];
	return (long)pos;
}


static int
delta_decode(int dtype, const uint8_t *in, size_t in_len, uint8_t *out,
    size_t raw_len)
{
	size_t n = raw_len / 2, t = raw_len & 1;
	unsigned K, z;
	uint32_t s;
	uint16_t *sym;
	int rc;

	(void)dtype;
	if (in_len < 5 + t || (in[0] & ~7u) || (in[0] & 3) > 2 || n == 0)
		return BS_ECORRUPT;
	K = in[0] & 3;
	z = in[0] >> 2 & 1;
	s = get32(in + 1);
	if (s > in_len - 5 - t)
		return BS_ECORRUPT;
	/* per symbol: the value's bits above its stored low bits (bits 0-15)
	 * and how many low bits (bits 16-23); 255 marks a symbol no encoder
	 * writes */
	uint32_t tab[256];
	for (unsigned q = 0; q < 256; q++) {
		unsigned L = q >> K, k = L > 1 ? (L - 1 < K ? L - 1 : K) : 0;
		unsigned top = q & ((1u << K) - 1);
		tab[q] = 255u << 16;
		if (L > 16 || (L <= K && top >> (L ? L - 1 : 0)))
			continue;
		unsigned r = L > 1 + k ? L - 1 - k : 0;
		tab[q] = r << 16 | (L ? (1u << k | top) << r : 0);
	}
	/* the symbols as 16-bit words: the wide decoder has a SIMD loop */
	if (!(sym = malloc(2 * n)))
		return BS_ENOMEM;
	if ((rc = bs_ent_decode16(in + 5, s, NSYM(K), 0, (uint8_t *)sym, n)) < 0) {
		free(sym);
		return rc;
	}
	/* the low bits: lo[0..A), read at bit bp, 16 values a step by the
	 * AVX-512 loop, then 8 bytes at a time while 8 remain (r + 7 <= 22
	 * bits fit), then a byte at a time */
	const uint8_t *lo = in + 5 + s;
	size_t A = in_len - t - 5 - s, bp = 0, i = 0;
#ifdef BS_X86_SIMD
	if (bs_simd_level() >= 2)
		i = unpack_avx512(sym, n, tab, lo, A, &bp, z, out);
	else if (bs_simd_level() >= 1)
		i = unpack_avx2(sym, n, tab, lo, A, &bp, z, out);
#endif
	for (; i < n && (bp >> 3) + 8 <= A; i++) {
		unsigned q = sym[i], r = tab[q] >> 16;
		if (r > 16)
			goto corrupt;
		unsigned w = (tab[q] & 0xffff) | ((unsigned)(get64(lo +
		    (bp >> 3)) >> (bp & 7)) & ((1u << r) - 1));
		bp += r;
		put16(out + 2 * i, (uint16_t)(z ? unzz16(w) : w));
	}
	for (; i < n; i++) {
		unsigned q = sym[i], r = tab[q] >> 16;
		uint64_t g = 0;
		if (r > 16 || bp + r > 8 * A)
			goto corrupt;
		for (size_t k = bp >> 3; k < A && k < (bp >> 3) + 8; k++)
			g |= (uint64_t)lo[k] << (8 * (k - (bp >> 3)));
		unsigned w = (tab[q] & 0xffff) | ((unsigned)(g >> (bp & 7)) &
		    ((1u << r) - 1));
		bp += r;
		put16(out + 2 * i, (uint16_t)(z ? unzz16(w) : w));
	}
	free(sym);
	/* every byte of low bits used, and only padding (zero) left over */
	if ((bp + 7) / 8 != A || ((bp & 7) && lo[A - 1] >> (bp & 7)))
		return BS_ECORRUPT;
	if (t)
		out[raw_len - 1] = in[in_len - 1];
	return 0;
corrupt:
	free(sym);
	return BS_ECORRUPT;
}

/* Bytes delta_encode would write, from the histograms alone (one pass, no
 * coding): within a few bytes of the coded length. */
static double
delta_estimate(int dtype, const uint8_t *raw, size_t raw_len, double scale)
{
	uint32_t cnt[2][3][17 << 2];
	uint64_t extra[2][3];
	int bz, bk;

	(void)dtype;
	if (raw_len / 2 < 16)
		return (double)raw_len * scale;
	return best_mode(raw, raw_len / 2, scale, cnt, extra, &bz, &bk) / 8 + 5 +
	    (raw_len & 1) * scale;
}

const struct bs_codec bs_codec_delta = {
	"delta", BS_C_DELTA, delta_accepts, delta_encode, delta_decode,
	delta_estimate,
};
