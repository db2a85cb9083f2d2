/*
 * entropy.c - static rANS with 8, 16 or 32 interleaved 32-bit states
 * (16-bit renormalisation, table-driven decode with 6 bytes a slot, AVX2
 * encode and decode loops chosen at run time), and the
 * split-float helper the BF16/F16/F32 codecs share.  See entropy.h for the
 * byte layouts.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "bs.h"
#include "entropy.h"
#include "internal.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "entropy.c assumes a little-endian host"
#endif

#define RANS_L (1u << 15)	/* lower bound of a state */
#define NS 8			/* states a group; the bulk loops' unit */
#define NSMAX BS_ENT_STATES_MAX

/* Interleaved states for a message of n symbols (see entropy.h). */
static inline unsigned
nstates(size_t n)
{
	return n >= BS_ENT_WIDER_N ? 8 * BS_ENT_STATES :
	    n >= BS_ENT_WIDE_N ? 4 * BS_ENT_STATES :
	    n >= BS_ENT_MID_N ? 2 * BS_ENT_STATES : BS_ENT_STATES;
}

static inline uint16_t ld16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t ld32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t ld64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static inline void st16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void st32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void st64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static inline unsigned bitlen(uint32_t v) { return v ? 32 - (unsigned)__builtin_clz(v) : 0; }

/* ------------------------------------------------------------ varints */

size_t
bs_ent_varint_put(uint8_t *p, size_t cap, uint64_t v)
{
	size_t i = 0;

	do {
		if (i >= cap)
			return 0;
		p[i++] = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
		v >>= 7;
	} while (v);
	return i;
}

size_t
bs_ent_varint_get(const uint8_t *p, size_t len, uint64_t *v)
{
	uint64_t r = 0;

	for (size_t i = 0; i < len && i < 9; i++) {
		r |= (uint64_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80)) {
			*v = r;
			return i + 1;
		}
	}
	return 0;
}

/* ------------------------------------------------------------- log2 */

double
bs_ent_log2(double x)
{
	union { double d; uint64_t u; } c = { x };
	int e = (int)((c.u >> 52) & 0x7ff) - 1023;
	double m, t, t2;

	c.u = (c.u & 0x000fffffffffffffull) | 0x3ff0000000000000ull;
	m = c.d;			/* [1, 2) */
	if (m > 1.4142135623730951) {
		m *= 0.5;
		e++;
	}
	t = (m - 1) / (m + 1);
	t2 = t * t;
	return e + 2.8853900817779268 * t * (1 + t2 * (1.0 / 3 + t2 * (1.0 / 5 +
	    t2 * (1.0 / 7 + t2 * (1.0 / 9 + t2 / 11)))));
}

/* ------------------------------------------------------- normalising */

int
bs_ent_normalize(const uint32_t *cnt, unsigned nsym, unsigned scale,
    uint32_t *freq)
{
	uint64_t total = 0;
	uint32_t M = 1u << scale, sum = 0;
	int present = 0;
	unsigned imax = 0;
	uint16_t idx[BS_ENT_MAX_SYM];	/* the present symbols */

	for (unsigned i = 0; i < nsym; i++) {
		total += cnt[i];
		present += cnt[i] != 0;
		if (cnt[i] > cnt[imax])
			imax = i;
	}
	if (!total)
		return 0;
	if ((uint32_t)present > M || nsym > BS_ENT_MAX_SYM)
		return -1;
	unsigned present2 = 0;
	for (unsigned i = 0; i < nsym; i++) {
		uint32_t f = 0;
		if (cnt[i]) {
			idx[present2++] = (uint16_t)i;
			f = (uint32_t)(((uint64_t)cnt[i] * M + total / 2) / total);
			if (!f)
				f = 1;
		}
		freq[i] = f;
		sum += f;
	}
	/* Fix the rounding: each unit goes where it costs (or gains) most,
	 * the cost of a unit at symbol i being about cnt[i] / freq[i].
	 * Removing: the symbol with freq > 1 whose cnt/(freq-1) is least
	 * (the lowest index among equals), found with a binary heap. */
	if (sum > M) {
		uint16_t heap[BS_ENT_MAX_SYM];
		unsigned hn = 0;
#define HLESS(a, b) ((uint64_t)cnt[a] * (freq[b] - 1) <		\
	(uint64_t)cnt[b] * (freq[a] - 1) ||				\
	((uint64_t)cnt[a] * (freq[b] - 1) ==				\
	(uint64_t)cnt[b] * (freq[a] - 1) && (a) < (b)))
		for (unsigned k = 0; k < present2; k++) {
			unsigned i = idx[k], c = hn++;
			if (freq[i] <= 1) {
				hn--;
				continue;
			}
			while (c > 0 && HLESS(i, heap[(c - 1) / 2])) {
				heap[c] = heap[(c - 1) / 2];
				c = (c - 1) / 2;
			}
			heap[c] = (uint16_t)i;
		}
		while (sum > M) {
			if (!hn)
				return -1;	/* cannot happen: present <= M */
			unsigned best = heap[0];
			freq[best]--;
			sum--;
			/* best's key grew (or it left): sift down the root */
			unsigned it = best, c = 0;
			if (freq[best] <= 1)
				it = heap[--hn];
			for (;;) {
				unsigned l = 2 * c + 1, m = l;
				if (l >= hn)
					break;
				if (l + 1 < hn && HLESS(heap[l + 1], heap[l]))
					m = l + 1;
				if (!HLESS(heap[m], it))
					break;
				heap[c] = heap[m];
				c = m;
			}
			if (hn)
				heap[c] = (uint16_t)it;
		}
#undef HLESS
	}
	if (sum < M) {
		uint32_t d = M - sum;
		if (d > 16) {
			freq[imax] += d - 16;
			d = 16;
		}
		while (d--) {
			unsigned best = imax;
			for (unsigned k = 0; k < present2; k++) {
				unsigned i = idx[k];
				if ((uint64_t)cnt[i] * (freq[best] + 1) >
				    (uint64_t)cnt[best] * (freq[i] + 1))
					best = i;
			}
			freq[best]++;
		}
	}
	return present;
}

/* bs_ent_log2 of the counts below LG_N, the very values, looked up: the
 * estimates take a log of every present bin */
#define LG_N 4096
static double lg_tab[LG_N];
static pthread_once_t lg_once = PTHREAD_ONCE_INIT;

static void
lg_init(void)
{
	for (unsigned i = 1; i < LG_N; i++)
		lg_tab[i] = bs_ent_log2((double)i);
}

static inline double
lg(uint32_t c)
{
	return c < LG_N ? lg_tab[c] : bs_ent_log2((double)c);
}

double
bs_ent_estimate(const uint32_t *cnt, unsigned nsym, double scale)
{
	uint64_t total = 0;
	double bits = 0;
	unsigned present = 0;

	for (unsigned i = 0; i < nsym; i++)
		total += cnt[i];
	if (!total)
		return 0;
	pthread_once(&lg_once, lg_init);
	double lt = bs_ent_log2((double)total);
	for (unsigned i = 0; i < nsym; i++)
		if (cnt[i]) {
			bits += cnt[i] * (lt - lg(cnt[i]));
			present++;
		}
	/* from a sample: the entropy of a sample is low by about (present -
	 * 1) / (2 ln 2) bits (Miller-Madow), that of the whole by 1/scale of
	 * that: scaled up, the difference is made good */
	if (scale > 1)
		bits = bits * scale + (scale - 1) * (present - 1) * 0.7213;
	/* table: ~13 bits a symbol; 32 bytes of states; precision loss */
	return bits * 1.002 + present * 13.0 + 8 * 40;
}

/* ------------------------------------------------- table (de)serialise */

struct bw {
	uint8_t *p, *end;
	uint64_t acc;
	unsigned nb;
	int over;
};

static void
bw_put(struct bw *w, uint32_t v, unsigned n)
{
	w->acc |= (uint64_t)v << w->nb;
	w->nb += n;
	while (w->nb >= 8) {
		if (w->p < w->end)
			*w->p++ = (uint8_t)w->acc;
		else
			w->over = 1;
		w->acc >>= 8;
		w->nb -= 8;
	}
}

static void
bw_gamma(struct bw *w, uint32_t v)	/* v >= 1 */
{
	unsigned nb = bitlen(v);
	bw_put(w, 1u << (nb - 1), nb);	/* nb-1 zeros, then a one */
	if (nb > 1)
		bw_put(w, v & ((1u << (nb - 1)) - 1), nb - 1);
}

static void
bw_flush(struct bw *w)
{
	if (w->nb)
		bw_put(w, 0, 8 - w->nb);
}

struct br {
	const uint8_t *p, *end;
	uint64_t acc;
	unsigned nb;
	int err;
};

static uint32_t
br_get(struct br *r, unsigned n)	/* n <= 32 */
{
	uint32_t v;

	while (r->nb < n) {
		if (r->p < r->end)
			r->acc |= (uint64_t)*r->p++ << r->nb;
		else
			r->err = 1;
		r->nb += 8;
	}
	v = (uint32_t)(r->acc & ((1ull << n) - 1));
	r->acc >>= n;
	r->nb -= n;
	return v;
}

static uint32_t
br_gamma(struct br *r)
{
	unsigned z = 0;

	while (!br_get(r, 1)) {
		if (++z > 31 || r->err) {
			r->err = 1;
			return 0;
		}
	}
	return z ? (1u << z) | br_get(r, z) : 1;
}

/*
 * Tables (entropy.h has the layout).  A frequency is coded either from its
 * bit length, relative to the previous one so coded, and the bits under
 * its leading 1; or, in mirror mode, for a symbol of the upper half of the
 * alphabet whose mirror (the symbol nsym / 2 below: the same value with
 * the other sign, for the float codecs) is present, as its difference
 * from the mirror's, zig-zagged and Rice-coded with k = rice_k(mirror's
 * frequency, kd) bits.  The encoder tries plain mode and mirror mode with
 * every kd and keeps the shortest.
 */
static unsigned
rice_k(uint32_t p, unsigned kd)
{
	unsigned nb = bitlen(p);

	return nb > kd ? (nb - kd) / 2 : 0;
}

/* The frequency of symbol i, coded; *pnb is the last bit length coded. */
static void
freq_put(struct bw *w, const uint32_t *freq, unsigned nsym, unsigned i,
    int mirror, unsigned kd, unsigned *pnb)
{
	uint32_t f = freq[i];

	if (mirror && i >= nsym / 2 && freq[i - nsym / 2]) {
		uint32_t p = freq[i - nsym / 2];
		uint32_t z = f >= p ? 2 * (f - p) : 2 * (p - f) - 1;
		unsigned k = rice_k(p, kd);
		uint32_t q = z >> k;
		while (q >= 24) {	/* unary, in pieces */
			bw_put(w, 0, 24);
			q -= 24;
		}
		bw_put(w, 1u << q, q + 1);
		if (k)
			bw_put(w, z & ((1u << k) - 1), k);
		return;
	}
	unsigned nb = bitlen(f);
	if (nb == *pnb)
		bw_put(w, 0, 1);
	else if (nb == *pnb + 1 || nb + 1 == *pnb)
		bw_put(w, 1 | (nb > *pnb) << 2, 3);	/* 1 0 up */
	else {
		bw_put(w, 3, 2);
		bw_put(w, nb - 1, 4);
	}
	*pnb = nb;
	if (nb > 1)
		bw_put(w, f & ((1u << (nb - 1)) - 1), nb - 1);
}

/* The table in the given mode. */
static void
table_put_mode(struct bw *w, const uint32_t *freq, unsigned nsym,
    unsigned scale, unsigned present, int mirror, unsigned kd)
{
	unsigned pnb = 0, seen = 0, prev = 0;

	bw_put(w, scale - 1, 4);
	bw_put(w, (unsigned)mirror, 1);
	if (mirror)
		bw_put(w, kd, 3);
	bw_gamma(w, present);
	for (unsigned i = 0; i < nsym && seen < present; i++) {
		if (!freq[i])
			continue;
		bw_gamma(w, seen ? i - prev : i + 1);
		prev = i;
		if (++seen < present)
			freq_put(w, freq, nsym, i, mirror, kd, &pnb);
	}
}

/* Bits of a bit length L coded against the previous *pnb, as freq_put
 * codes it. */
static inline unsigned
nb_bits(unsigned L, unsigned *pnb)
{
	unsigned b = L == *pnb ? 1 : L == *pnb + 1 || L + 1 == *pnb ? 3 : 6;

	*pnb = L;
	return b + L - 1;
}

/* Put a table into w (no padding), in its shortest mode: the bits that
 * differ between plain mode and mirror mode with every kd (the
 * frequencies; the gaps are the same) counted in one pass, as freq_put
 * would write them. */
static void
table_put(struct bw *w, const uint32_t *freq, unsigned nsym, unsigned scale,
    unsigned present)
{
	unsigned seen = 0, pn0 = 0, pn1 = 0, half = nsym / 2, bk = 0;
	size_t plain = 0, mir[8] = { 0 };
	int can = nsym % 2 == 0 && nsym >= 2;

	for (unsigned i = 0; i < nsym && seen + 1 < present; i++) {
		uint32_t f = freq[i];
		if (!f)
			continue;
		seen++;
		plain += nb_bits(bitlen(f), &pn0);
		if (can && i >= half && freq[i - half]) {
			uint32_t p = freq[i - half];
			uint32_t z = f >= p ? 2 * (f - p) : 2 * (p - f) - 1;
			for (unsigned kd = 0; kd < 8; kd++) {
				unsigned kk = rice_k(p, kd);
				mir[kd] += (z >> kk) + 1 + kk;
			}
		} else {
			size_t b = nb_bits(bitlen(f), &pn1);
			for (unsigned kd = 0; kd < 8; kd++)
				mir[kd] += b;
		}
	}
	for (unsigned kd = 1; kd < 8; kd++)
		if (mir[kd] < mir[bk])
			bk = kd;
	table_put_mode(w, freq, nsym, scale, present,
	    can && mir[bk] + 3 < plain, bk);
}

/* Write the table; returns bytes or 0 if it does not fit. */
static size_t
table_write(const uint32_t *freq, unsigned nsym, unsigned scale,
    unsigned present, uint8_t *out, size_t cap)
{
	struct bw w = { out, out + cap, 0, 0, 0 };

	table_put(&w, freq, nsym, scale, present);
	bw_flush(&w);
	return w.over ? 0 : (size_t)(w.p - out);
}

/* Get a table from r into sym[]/freq[] (present entries); scale at most
 * maxscale.  Returns 0, or -1 when corrupt. */
static int
table_get(struct br *r, unsigned nsym, unsigned maxscale, unsigned *scale,
    unsigned *present, uint16_t *sym, uint32_t *freq)
{
	uint32_t M, sum = 0, m;
	unsigned cur = 0, mirror, kd = 0, pnb = 0, mk = 0;

	*scale = br_get(r, 4) + 1;
	if (*scale > maxscale)
		return -1;
	M = 1u << *scale;
	mirror = br_get(r, 1);
	if (mirror) {
		if (nsym % 2)
			return -1;
		kd = br_get(r, 3);
	}
	m = br_gamma(r);
	if (r->err || m < 1 || m > nsym || m > M)
		return -1;
	for (uint32_t k = 0; k < m; k++) {
		uint32_t gap = br_gamma(r), f;
		if (r->err || gap > nsym)
			return -1;
		cur = k ? cur + gap : gap - 1;
		if (cur >= nsym)
			return -1;
		sym[k] = (uint16_t)cur;
		if (k + 1 == m) {
			if (sum >= M)
				return -1;
			freq[k] = M - sum;
			break;
		}
		/* the mirror, present, is an earlier entry: find it by
		 * walking mk along the sorted symbols */
		if (mirror && cur >= nsym / 2) {
			while (mk < k && sym[mk] < cur - nsym / 2)
				mk++;
		}
		if (mirror && cur >= nsym / 2 && mk < k &&
		    sym[mk] == cur - nsym / 2) {
			uint32_t p = freq[mk], q = 0, z;
			unsigned kk = rice_k(p, kd);
			while (!br_get(r, 1)) {
				if (++q > M || r->err)
					return -1;
			}
			z = (q << kk) | (kk ? br_get(r, kk) : 0);
			if (z > 2 * M)
				return -1;
			if (z & 1) {
				if ((z + 1) / 2 >= p)
					return -1;
				f = p - (z + 1) / 2;
			} else
				f = p + z / 2;
		} else {
			unsigned nb;
			if (!br_get(r, 1))
				nb = pnb;
			else if (!br_get(r, 1))
				nb = br_get(r, 1) ? pnb + 1 : pnb - 1;
			else
				nb = br_get(r, 4) + 1;
			if (nb < 1 || nb > 16)
				return -1;
			pnb = nb;
			f = 1u << (nb - 1);
			if (nb > 1)
				f |= br_get(r, nb - 1);
		}
		if (r->err || f < 1 || f > M - sum)
			return -1;
		freq[k] = f;
		sum += f;
	}
	if (r->err)
		return -1;
	*present = m;
	return 0;
}

/* Read a table into sym[]/freq[] (present entries).  Returns bytes read,
 * or 0 when corrupt. */
static size_t
table_read(const uint8_t *in, size_t len, unsigned nsym, unsigned *scale,
    unsigned *present, uint16_t *sym, uint32_t *freq)
{
	struct br r = { in, in + len, 0, 0, 0 };

	if (table_get(&r, nsym, 15, scale, present, sym, freq))
		return 0;
	return (size_t)(r.p - in);
}

#ifdef BS_X86_SIMD
#include <immintrin.h>
#define HAVE_AVX2_PATH 1

/*
 * The SIMD level the CPU allows: 0 none, 1 AVX2 (with BMI2 and POPCNT),
 * 2 AVX-512 (F, BW, VL, VBMI) as well.  BS_SIMD=none|avx2 in the
 * environment caps it (tests run every path; every path writes the same
 * bytes).  Computed once; racing first calls compute the same value.
 */
int
bs_simd_level(void)
{
	static int cached = -1;
	int lvl = __atomic_load_n(&cached, __ATOMIC_RELAXED);

	if (lvl >= 0)
		return lvl;
	__builtin_cpu_init();
	lvl = 0;
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2") &&
	    __builtin_cpu_supports("popcnt")) {
		lvl = 1;
		if (__builtin_cpu_supports("avx512f") &&
		    __builtin_cpu_supports("avx512cd") &&
		    __builtin_cpu_supports("avx512bw") &&
		    __builtin_cpu_supports("avx512vl") &&
		    __builtin_cpu_supports("avx512vbmi"))
			lvl = 2;
	}
	const char *cap = getenv("BS_SIMD");
	if (cap && strcmp(cap, "none") == 0)
		lvl = 0;
	else if (cap && strcmp(cap, "avx2") == 0 && lvl > 1)
		lvl = 1;
	__atomic_store_n(&cached, lvl, __ATOMIC_RELAXED);
	return lvl;
}

static int
have_avx2(void)
{
	return bs_simd_level() >= 1;
}

static int
have_avx512(void)
{
	return bs_simd_level() >= 2;
}
#endif

/* ----------------------------------------------------------- encoder */

struct esym {
	uint32_t x_max;		/* renormalise when x >= x_max */
	uint32_t rcp_freq;	/* reciprocal of freq (see rans_byte.h) */
	uint16_t bias;		/* < 2^16: start, or start + M - 1 */
	uint16_t cmpl_freq;	/* M - freq; with bias, one 32-bit gather */
	uint32_t rcp_shift;	/* the AVX-512 loop computes it from freq */
};

static void
esym_init(struct esym *s, uint32_t start, uint32_t freq, unsigned scale)
{
	s->x_max = ((RANS_L >> scale) << 16) * freq;
	s->cmpl_freq = (uint16_t)((1u << scale) - freq);
	if (freq < 2) {
		s->rcp_freq = ~0u;
		s->rcp_shift = 0;
		s->bias = (uint16_t)(start + (1u << scale) - 1);
	} else {
		unsigned shift = 0;
		while (freq > (1u << shift))
			shift++;
		s->rcp_freq = (uint32_t)(((1ull << (shift + 31)) + freq - 1) /
		    freq);
		s->rcp_shift = shift - 1;
		s->bias = (uint16_t)start;
	}
}

/* Branch-free: the word is always stored below wp (the callers keep room
 * for it), and wp moves only when the state renormalises. */
#define ENC_PUT(xv, s, wp) do {						\
	uint32_t x_ = (xv);						\
	int c_ = x_ >= (s)->x_max;					\
	st16(wp - 2, (uint16_t)x_);					\
	wp -= 2 * c_;							\
	x_ >>= 16 * c_;							\
	uint32_t q_ = (uint32_t)(((uint64_t)x_ * (s)->rcp_freq) >> 32)	\
	    >> (s)->rcp_shift;						\
	(xv) = x_ + (s)->bias + q_ * (s)->cmpl_freq;			\
} while (0)

#ifdef HAVE_AVX2_PATH
/*
 * AVX2 encoder for whole groups of 8 symbols of 16- or 32-bit values,
 * from group i - 8 downwards while there is room for a group's words; the
 * same arithmetic as ENC_PUT lane by lane (the esym fields are gathered),
 * the renormalisation words of a group stored in lane order below wp.
 * Stops at group stop (a multiple of 8) at the lowest.  Advances *ip and
 * *wpp; x[0..ns) holds the states.
 */
__attribute__((target("avx2,bmi2,popcnt"))) static void
enc_groups_avx2(const struct esym *es, uint32_t *x, unsigned ns,
    const uint8_t *val, unsigned width, unsigned shift, unsigned scale,
    size_t *ip, uint8_t **wpp, const uint8_t *lo, size_t stop)
{
	/* x_max = freq << (31 - scale), freq = 2^scale - cmpl_freq: three
	 * gathers a group instead of four */
	__m128i xsh = _mm_cvtsi32_si128((int)(31 - scale));
	__m256i mv = _mm256_set1_epi32((int)(1u << scale));
	const int *e0 = (const int *)(const void *)es;
	__m256i xv[BS_ENT_STATES_MAX / 8];
	__m128i sh = _mm_cvtsi32_si128((int)shift);
	__m256i lo16 = _mm256_set1_epi32(0xffff);
	uint8_t *wp = *wpp;
	size_t i = *ip;

	for (unsigned k = 0; k < ns / 8; k++)
		xv[k] = _mm256_loadu_si256((const __m256i *)(x + 8 * k));
	for (; i > stop && wp - lo >= 2 * NS + 2; i -= NS) {
		size_t b = i - NS;
		unsigned blk = (unsigned)(b & (ns - 1)) >> 3;
		__m256i X = xv[blk], S;
		if (width == 2)
			S = _mm256_cvtepu16_epi32(_mm_loadu_si128(
			    (const __m128i *)(val + 2 * b)));
		else
			S = _mm256_loadu_si256((const __m256i *)(val + 4 * b));
		S = _mm256_slli_epi32(_mm256_srl_epi32(S, sh), 2);
		__m256i RC = _mm256_i32gather_epi32(e0 + 1, S, 4);
		__m256i BC = _mm256_i32gather_epi32(e0 + 2, S, 4);
		__m256i SHV = _mm256_i32gather_epi32(e0 + 3, S, 4);
		__m256i BI = _mm256_and_si256(BC, lo16);
		__m256i CM = _mm256_srli_epi32(BC, 16);
		__m256i XM = _mm256_sll_epi32(_mm256_sub_epi32(mv, CM), xsh);
		__m256i c = _mm256_cmpeq_epi32(_mm256_max_epu32(X, XM), X);
		unsigned m = (unsigned)_mm256_movemask_ps(
		    _mm256_castsi256_ps(c));
		if (m) {
			unsigned cnt = (unsigned)__builtin_popcount(m);
			uint64_t sel = _pext_u64(0x0706050403020100ull,
			    _pdep_u64(m, 0x0101010101010101ull) * 0xff);
			sel <<= 8 * (8 - cnt);	/* to the top lanes */
			__m256i W = _mm256_and_si256(
			    _mm256_permutevar8x32_epi32(X, _mm256_cvtepu8_epi32(
			    _mm_cvtsi64_si128((long long)sel))), lo16);
			W = _mm256_permute4x64_epi64(
			    _mm256_packus_epi32(W, W), 0x08);
			_mm_storeu_si128((__m128i *)(wp - 16),
			    _mm256_castsi256_si128(W));
			wp -= 2 * cnt;
			X = _mm256_blendv_epi8(X, _mm256_srli_epi32(X, 16), c);
		}
		__m256i ev = _mm256_srli_epi64(_mm256_mul_epu32(X, RC), 32);
		__m256i od = _mm256_mul_epu32(_mm256_srli_epi64(X, 32),
		    _mm256_srli_epi64(RC, 32));
		__m256i q = _mm256_blend_epi32(ev, od, 0xaa);
		q = _mm256_srlv_epi32(q, SHV);
		X = _mm256_add_epi32(_mm256_add_epi32(X, BI),
		    _mm256_mullo_epi32(q, CM));
		xv[blk] = X;
	}
	for (unsigned k = 0; k < ns / 8; k++)
		_mm256_storeu_si256((__m256i *)(x + 8 * k), xv[k]);
	*ip = i;
	*wpp = wp;
}
#endif

#ifdef HAVE_AVX2_PATH
/*
 * AVX-512 encoder for 16 to 64 states: two groups of 8 at once, from
 * group i - 16 (i a multiple of 16) downwards; the words of the lanes that
 * renormalise compressed into lane order and stored below wp, as the
 * AVX2 loop stores the two groups one after the other.
 */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512cd,popcnt"))) static void
enc_groups_avx512(const struct esym *es, uint32_t *x, unsigned ns,
    const uint8_t *val, unsigned width, unsigned shift, unsigned scale,
    size_t *ip, uint8_t **wpp, const uint8_t *lo)
{
	__m128i xsh = _mm_cvtsi32_si128((int)(31 - scale));
	__m512i mv = _mm512_set1_epi32((int)(1u << scale));
	__m512i one = _mm512_set1_epi32(1), zero = _mm512_setzero_si512();
	__m512i c31 = _mm512_set1_epi32(31);
	const int *e0 = (const int *)(const void *)es;
	__m512i xv[BS_ENT_STATES_MAX / 16];
	__m128i sh = _mm_cvtsi32_si128((int)shift);
	__m512i lo16 = _mm512_set1_epi32(0xffff);
	uint8_t *wp = *wpp;
	size_t i = *ip;

	for (unsigned k = 0; k < ns / 16; k++)
		xv[k] = _mm512_loadu_si512((const void *)(x + 16 * k));
	for (; i >= 16 && wp - lo >= 4 * NS + 2; i -= 16) {
		size_t b = i - 16;
		unsigned blk = (unsigned)(b & (ns - 1)) >> 4;
		__m512i X = xv[blk], S;
		if (width == 2)
			S = _mm512_cvtepu16_epi32(_mm256_loadu_si256(
			    (const __m256i *)(val + 2 * b)));
		else if (width == 1)
			S = _mm512_cvtepu8_epi32(_mm_loadu_si128(
			    (const __m128i *)(val + b)));
		else
			S = _mm512_loadu_si512((const void *)(val + 4 * b));
		S = _mm512_slli_epi32(_mm512_srl_epi32(S, sh), 2);
		/* two gathers: the shift of the reciprocal comes from freq
		 * (ceil(log2 freq) - 1, 0 for freq 1), as esym_init sets it */
		__m512i RC = _mm512_i32gather_epi32(S, e0 + 1, 4);
		__m512i BC = _mm512_i32gather_epi32(S, e0 + 2, 4);
		__m512i BI = _mm512_and_si512(BC, lo16);
		__m512i CM = _mm512_srli_epi32(BC, 16);
		__m512i FR = _mm512_sub_epi32(mv, CM);
		__m512i XM = _mm512_sll_epi32(FR, xsh);
		__m512i SHV = _mm512_max_epi32(_mm512_sub_epi32(c31,
		    _mm512_lzcnt_epi32(_mm512_sub_epi32(FR, one))), zero);
		__mmask16 c = _mm512_cmpge_epu32_mask(X, XM);
		if (c) {
			unsigned cnt = (unsigned)__builtin_popcount(c);
			__m256i W = _mm512_cvtepi32_epi16(
			    _mm512_maskz_compress_epi32(c, X));
			wp -= 2 * cnt;
			_mm256_mask_storeu_epi16(wp, (__mmask16)((1u << cnt) - 1), W);
			X = _mm512_mask_srli_epi32(X, c, X, 16);
		}
		__m512i ev = _mm512_srli_epi64(_mm512_mul_epu32(X, RC), 32);
		__m512i od = _mm512_mul_epu32(_mm512_srli_epi64(X, 32),
		    _mm512_srli_epi64(RC, 32));
		__m512i q = _mm512_mask_blend_epi32(0xaaaa, ev, od);
		q = _mm512_srlv_epi32(q, SHV);
		X = _mm512_add_epi32(_mm512_add_epi32(X, BI),
		    _mm512_mullo_epi32(q, CM));
		xv[blk] = X;
	}
	for (unsigned k = 0; k < ns / 16; k++)
		_mm512_storeu_si512((void *)(x + 16 * k), xv[k]);
	*ip = i;
	*wpp = wp;
}
#endif

#ifdef HAVE_AVX2_PATH
#define ENC_SIMD(W, V, SH) do {					\
	if ((W) && have_avx2()) {					\
		if (ns >= 16 && have_avx512()) {			\
			if (i % 16)	/* one group to even out */	\
				enc_groups_avx2(es, x, ns, (V), (W), (SH), \
				    scale, &i, &wp, lo, i - NS);	\
			if (i % 16 == 0)				\
				enc_groups_avx512(es, x, ns, (V), (W),	\
				    (SH), scale, &i, &wp, lo);		\
		}							\
		enc_groups_avx2(es, x, ns, (V), (W), (SH), scale, &i,	\
		    &wp, lo, 0);					\
	}								\
} while (0)
#else
#define ENC_SIMD(W, V, SH) do { } while (0)
#endif

/* Common body: SYM(i) gives symbol i; W is the value width for the SIMD
 * loop (2 or 4; 0: none). */
#define ENCODE_BODY(SYM, W, V, SH)					\
	uint32_t *freq_;						\
	struct esym *es;						\
	uint32_t x[NSMAX];						\
	uint8_t *wp, *lo;						\
	size_t tlen, i, n8, total;					\
	int present;							\
	uint32_t cum = 0;						\
	unsigned ns = nstates(n);					\
									\
	if (n == 0 || nsym == 0 || nsym > BS_ENT_MAX_SYM || scale < 1)	\
		return BS_EUSAGE;					\
	if (scale > BS_ENT_MAX_SCALE)					\
		scale = BS_ENT_MAX_SCALE;				\
	if (!(es = malloc(nsym * (sizeof *es + sizeof *freq_))))	\
		return BS_ENOMEM;					\
	freq_ = (uint32_t *)(es + nsym);				\
	for (;;) {							\
		present = bs_ent_normalize(cnt, nsym, scale, freq_);	\
		if (present > 0)					\
			break;						\
		if (present == 0 || scale >= BS_ENT_MAX_SCALE) {	\
			free(es);					\
			return BS_EUSAGE;				\
		}							\
		scale++;						\
	}								\
	tlen = table_write(freq_, nsym, scale, (unsigned)present, out, cap); \
	if (!tlen || cap < tlen + 4 * ns)				\
		goto full;						\
	for (unsigned s = 0; s < nsym; s++) {				\
		if (freq_[s])						\
			esym_init(&es[s], cum, freq_[s], scale);	\
		else							\
			memset(&es[s], 0, sizeof es[s]);		\
		cum += freq_[s];					\
	}								\
	for (i = 0; i < ns; i++)					\
		x[i] = RANS_L;						\
	lo = out + tlen + 4 * ns;					\
	wp = out + cap;							\
	n8 = n & ~(size_t)(NS - 1);					\
	for (i = n; i > n8; i--) {					\
		if (wp - lo < 2)					\
			goto full;					\
		ENC_PUT(x[(i - 1) & (ns - 1)], &es[SYM(i - 1)], wp);	\
	}								\
	i = n8;								\
	ENC_SIMD(W, V, SH);						\
	for (; i > 0; i -= NS) {					\
		size_t b_ = i - NS;					\
		uint32_t *xs = x + (b_ & (ns - 1));			\
		if (wp - lo < 2 * NS + 2)				\
			goto full;					\
		ENC_PUT(xs[7], &es[SYM(b_ + 7)], wp);			\
		ENC_PUT(xs[6], &es[SYM(b_ + 6)], wp);			\
		ENC_PUT(xs[5], &es[SYM(b_ + 5)], wp);			\
		ENC_PUT(xs[4], &es[SYM(b_ + 4)], wp);			\
		ENC_PUT(xs[3], &es[SYM(b_ + 3)], wp);			\
		ENC_PUT(xs[2], &es[SYM(b_ + 2)], wp);			\
		ENC_PUT(xs[1], &es[SYM(b_ + 1)], wp);			\
		ENC_PUT(xs[0], &es[SYM(b_ + 0)], wp);			\
	}								\
	free(es);							\
	total = (size_t)(out + cap - wp);				\
	memmove(lo, wp, total);						\
	for (i = 0; i < ns; i++)					\
		st32(out + tlen + 4 * i, x[i]);				\
	return (long)(tlen + 4 * ns + total);				\
full:									\
	free(es);							\
	return 0;

long
bs_ent_encode16(const uint8_t *val, size_t n, unsigned shift,
    const uint32_t *cnt, unsigned nsym, unsigned scale, uint8_t *out,
    size_t cap)
{
#define SYM(k) (ld16(val + 2 * (k)) >> shift)
	ENCODE_BODY(SYM, 2, val, shift)
#undef SYM
}

long
bs_ent_encode32(const uint8_t *val, size_t n, unsigned shift,
    const uint32_t *cnt, unsigned nsym, unsigned scale, uint8_t *out,
    size_t cap)
{
#define SYM(k) (ld32(val + 4 * (k)) >> shift)
	if (shift > 31)
		return BS_EUSAGE;
	ENCODE_BODY(SYM, 4, val, shift)
#undef SYM
}

long
bs_ent_encode8(const uint8_t *sym, size_t n, const uint32_t *cnt,
    unsigned scale, uint8_t *out, size_t cap)
{
	unsigned nsym = 256;
#define SYM(k) (sym[k])
	ENCODE_BODY(SYM, 0, sym, 0)
#undef SYM
}

/* ----------------------------------------------------------- decoder */

/*
 * Decode tables, one entry per slot of [0, 2^scale): fb[s] = freq << 16 |
 * (s - cum) of the slot's symbol, val[s] = the symbol << shift.  4 + 2 bytes
 * a slot (48 KiB at scale 13), both gatherable as 32-bit words (val has two
 * bytes of padding).
 */
struct dtab {
	uint32_t *fb;
	uint16_t *val;
	unsigned scale;
};

/* Parse table and states; build the decode tables (one malloc, fb owns it).
 * Returns the offset of the words, 0 when corrupt, -1 on ENOMEM. */
static long
dec_setup(const uint8_t *in, size_t in_len, unsigned nsym, unsigned shift,
    struct dtab *t, uint32_t *x, unsigned ns)
{
	uint16_t *sym;
	uint32_t *freq;
	unsigned scale, present;
	size_t tlen;
	uint32_t slot = 0, M;

	if (!(freq = malloc(nsym * (sizeof *freq + sizeof *sym))))
		return -1;
	sym = (uint16_t *)(freq + nsym);
	tlen = table_read(in, in_len, nsym, &scale, &present, sym, freq);
	if (!tlen || in_len - tlen < 4 * ns) {
		free(freq);
		return 0;
	}
	for (unsigned i = 0; i < ns; i++) {
		x[i] = ld32(in + tlen + 4 * i);
		if (x[i] < RANS_L || x[i] >= (1u << 31)) {
			free(freq);
			return 0;	/* the encoder never ends there */
		}
	}
	M = 1u << scale;
	if (!(t->fb = malloc((size_t)M * 6 + 8))) {
		free(freq);
		return -1;
	}
	t->val = (uint16_t *)(t->fb + M);
	t->val[M] = t->val[M + 1] = 0;
	t->scale = scale;
	/* eight slots a step where a symbol has them (vectors of the
	 * compiler's: one or two stores each) */
	typedef uint32_t v8w __attribute__((vector_size(32)));
	typedef uint16_t v8h __attribute__((vector_size(16)));
	const v8w iota = { 0, 1, 2, 3, 4, 5, 6, 7 };
	for (unsigned k = 0; k < present; k++) {
		uint16_t v = (uint16_t)(sym[k] << shift);
		uint32_t f = freq[k] << 16, b = 0;
		v8w fv = iota + f;
		v8h vv = { v, v, v, v, v, v, v, v };
		for (; b + 8 <= freq[k]; b += 8, slot += 8, fv += 8) {
			memcpy(t->fb + slot, &fv, sizeof fv);
			memcpy(t->val + slot, &vv, sizeof vv);
		}
		for (; b < freq[k]; b++, slot++) {
			t->fb[slot] = f | b;
			t->val[slot] = v;
		}
	}
	free(freq);
	return (long)(tlen + 4 * ns);
}

/*
 * The bulk loop: whole groups of 8 symbols while at least 16 bytes of words
 * (and, with r > 0, 16 bytes of low bits at *lp) remain.  The 16-bit
 * variant ORs in the symbol's r low bits (packed LSB first, r <= 12, one
 * group taking r bytes) read from *lp.  Advances *ip, *pp, *lp; x[] holds
 * the states.  Both the AVX2 and the portable loop stop at the same place
 * with the same states, so the tail (and the result) does not depend on
 * which ran.
 */
#define DEC_STEP(xv, j, ST) do {					\
	uint32_t s_ = (xv) & mask;					\
	uint32_t e_ = fb[s_];						\
	uint32_t v_ = val[s_];						\
	ST(i + (j), v_, j);						\
	uint32_t y_ = (e_ >> 16) * ((xv) >> scale) + (e_ & 0xffff);	\
	uint32_t w_ = ld16(p);						\
	int r_ = y_ < RANS_L;						\
	(xv) = r_ ? (y_ << 16) | w_ : y_;				\
	p += 2 * r_;							\
} while (0)

#define DEC_BULK_SCALAR(NAME, LOWDECL, STORE_)				\
static void								\
NAME(const struct dtab *t, uint32_t *x, unsigned ns, uint8_t *out,	\
    size_t n, size_t *ip, const uint8_t **pp, const uint8_t *end,	\
    const uint8_t **lpp, const uint8_t *lend, unsigned r)		\
{									\
	const uint32_t *fb = t->fb;					\
	const uint16_t *val = t->val;					\
	unsigned scale = t->scale;					\
	uint32_t mask = (1u << scale) - 1;				\
	const uint8_t *p = *pp, *lp = *lpp;				\
	size_t i = *ip;							\
	LOWDECL								\
	(void)lend, (void)r;						\
	for (; i + NS <= n && end - p >= 16 &&				\
	    (!r || lend - lp >= 24); i += NS) {				\
		uint32_t *xs = x + (i & (ns - 1));			\
		uint32_t x0 = xs[0], x1 = xs[1], x2 = xs[2], x3 = xs[3]; \
		uint32_t x4 = xs[4], x5 = xs[5], x6 = xs[6], x7 = xs[7]; \
		DEC_STEP(x0, 0, STORE_); DEC_STEP(x1, 1, STORE_);	\
		DEC_STEP(x2, 2, STORE_); DEC_STEP(x3, 3, STORE_);	\
		DEC_STEP(x4, 4, STORE_); DEC_STEP(x5, 5, STORE_);	\
		DEC_STEP(x6, 6, STORE_); DEC_STEP(x7, 7, STORE_);	\
		xs[0] = x0; xs[1] = x1; xs[2] = x2; xs[3] = x3;		\
		xs[4] = x4; xs[5] = x5; xs[6] = x6; xs[7] = x7;		\
		if (r)	/* lp is NULL without low bits: no offset */	\
			lp += r;					\
	}								\
	*ip = i;							\
	*pp = p;							\
	*lpp = lp;							\
}

#define LOW16(j) (r ? (uint32_t)(ld64(lp + ((r * (j)) >> 3)) >>		\
	((r * (j)) & 7)) & rmask : 0)
#define STORE16L(k, v, j) st16(out + 2 * (k), (uint16_t)((v) | LOW16(j)))
#define STORE8(k, v, j) (out[k] = (uint8_t)(v))
DEC_BULK_SCALAR(dec_bulk16, uint32_t rmask = (1u << r) - 1;, STORE16L)
DEC_BULK_SCALAR(dec_bulk8, , STORE8)

#ifdef HAVE_AVX2_PATH

/*
 * AVX2 bulk loop for 16-bit output: 8 states in a register (four registers
 * with 32, two with 16: their dependency chains then overlap), table entries
 * gathered, renormalisation words expanded into the lanes that need them
 * (pdep builds the lane permutation).  Same stopping rule as the scalar
 * loop, checked per group of 8.
 */
#define AVX_GROUP(X) do {						\
	__m256i S_ = _mm256_and_si256(X, maskv);			\
	__m256i E_ = _mm256_i32gather_epi32(fb, S_, 4);			\
	__m256i V_ = _mm256_and_si256(_mm256_i32gather_epi32(val, S_, 2), \
	    lo16);							\
	if (r) {							\
		__m256i L_ = _mm256_broadcastsi128_si256(		\
		    _mm_loadu_si128((const __m128i *)lp));		\
		L_ = _mm256_srlv_epi32(_mm256_shuffle_epi8(L_, CT), SH); \
		V_ = _mm256_or_si256(V_, _mm256_and_si256(L_, rmv));	\
		lp += r;						\
	}								\
	__m256i P_ = _mm256_permute4x64_epi64(				\
	    _mm256_packus_epi32(V_, V_), 0x08);				\
	_mm_storeu_si128((__m128i *)(out + 2 * i),			\
	    _mm256_castsi256_si128(P_));				\
	X = _mm256_add_epi32(_mm256_mullo_epi32(_mm256_srli_epi32(E_, 16), \
	    _mm256_srl_epi32(X, sc)), _mm256_and_si256(E_, lo16));	\
	__m256i need_ = _mm256_cmpgt_epi32(lv, X);			\
	unsigned m_ = (unsigned)_mm256_movemask_ps(			\
	    _mm256_castsi256_ps(need_));				\
	uint64_t idx_ = _pdep_u64(0x0706050403020100ull,		\
	    _pdep_u64(m_, 0x0101010101010101ull) * 0xff);		\
	__m256i W_ = _mm256_cvtepu16_epi32(				\
	    _mm_loadu_si128((const __m128i *)p));			\
	W_ = _mm256_permutevar8x32_epi32(W_,				\
	    _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)idx_)));	\
	X = _mm256_blendv_epi8(X, _mm256_or_si256(			\
	    _mm256_slli_epi32(X, 16), W_), need_);			\
	p += 2 * (unsigned)__builtin_popcount(m_);			\
	i += NS;							\
} while (0)

#define AVX_OK(k) (i + (k) * NS <= n && end - p >= (k) * 16 &&		\
	(!r || lend - lp >= (long)((k) - 1) * r + 24))

__attribute__((target("avx2,bmi2,popcnt"))) static void
dec_bulk16_avx2(const struct dtab *t, uint32_t *x, unsigned ns, uint8_t *out,
    size_t n, size_t *ip, const uint8_t **pp, const uint8_t *end,
    const uint8_t **lpp, const uint8_t *lend, unsigned r)
{
	const int *fb = (const int *)t->fb;
	const int *val = (const int *)(const void *)t->val;
	__m128i sc = _mm_cvtsi32_si128((int)t->scale);
	__m256i maskv = _mm256_set1_epi32((int)((1u << t->scale) - 1));
	__m256i lo16 = _mm256_set1_epi32(0xffff);
	__m256i lv = _mm256_set1_epi32((int)RANS_L);
	__m256i rmv = _mm256_set1_epi32((int)((1u << r) - 1));
	const uint8_t *p = *pp, *lp = *lpp;
	size_t i = *ip;
	uint8_t ctl[32];
	uint32_t shv[8];

	/* pshufb works within each 128-bit half; both hold the 16 bytes */
	for (unsigned j = 0; j < 8; j++) {
		unsigned o = (r * j) >> 3;
		for (unsigned k = 0; k < 4; k++)
			ctl[4 * j + k] = (uint8_t)(o + k < 16 ? o + k : 0x80);
		shv[j] = (r * j) & 7;
	}
	__m256i CT = _mm256_loadu_si256((const __m256i *)ctl);
	__m256i SH = _mm256_loadu_si256((const __m256i *)shv);
	if (ns == 64) {		/* eight registers: some live in memory */
		__m256i X[8];
		for (unsigned k = 0; k < 8; k++)
			X[k] = _mm256_loadu_si256((const __m256i *)(x + 8 * k));
		while (AVX_OK(8))
			for (unsigned k = 0; k < 8; k++)
				AVX_GROUP(X[k]);
		for (unsigned k = 0; k < 8; k++)
			_mm256_storeu_si256((__m256i *)(x + 8 * k), X[k]);
	} else if (ns == 32) {
		__m256i X0 = _mm256_loadu_si256((const __m256i *)x);
		__m256i X1 = _mm256_loadu_si256((const __m256i *)(x + 8));
		__m256i X2 = _mm256_loadu_si256((const __m256i *)(x + 16));
		__m256i X3 = _mm256_loadu_si256((const __m256i *)(x + 24));
		while (AVX_OK(4)) {
			AVX_GROUP(X0);
			AVX_GROUP(X1);
			AVX_GROUP(X2);
			AVX_GROUP(X3);
		}
		_mm256_storeu_si256((__m256i *)x, X0);
		_mm256_storeu_si256((__m256i *)(x + 8), X1);
		_mm256_storeu_si256((__m256i *)(x + 16), X2);
		_mm256_storeu_si256((__m256i *)(x + 24), X3);
	} else if (ns == 16) {
		__m256i X0 = _mm256_loadu_si256((const __m256i *)x);
		__m256i X1 = _mm256_loadu_si256((const __m256i *)(x + 8));
		while (AVX_OK(2)) {
			AVX_GROUP(X0);
			AVX_GROUP(X1);
		}
		_mm256_storeu_si256((__m256i *)x, X0);
		_mm256_storeu_si256((__m256i *)(x + 8), X1);
	} else if (ns == 8) {
		__m256i X0 = _mm256_loadu_si256((const __m256i *)x);
		while (AVX_OK(1))
			AVX_GROUP(X0);
		_mm256_storeu_si256((__m256i *)x, X0);
	}
	*ip = i;
	*pp = p;
	*lpp = lp;
}

/*
 * AVX-512 bulk loop for 16-bit output with 16, 32 or 64 states: 16 states in a
 * register, the renormalisation words expanded straight into the lanes
 * that need them (vpexpandd), the low bits of 16 values picked from one
 * 64-byte load (vpermb).  Same arithmetic as AVX_GROUP.
 */
#define AVX512_GROUP(X) do {						\
	__m512i S_ = _mm512_and_si512(X, maskv);			\
	__m512i E_ = _mm512_i32gather_epi32(S_, fb, 4);			\
	__m512i V_ = _mm512_and_si512(_mm512_i32gather_epi32(S_, val, 2), \
	    lo16);							\
	if (r) {							\
		__m512i L_ = _mm512_loadu_si512((const void *)lp);	\
		L_ = _mm512_srlv_epi32(_mm512_permutexvar_epi8(CT, L_), SH); \
		V_ = _mm512_or_si512(V_, _mm512_and_si512(L_, rmv));	\
		lp += 2 * r;						\
	}								\
	_mm256_storeu_si256((__m256i *)(out + 2 * i),			\
	    _mm512_cvtepi32_epi16(V_));					\
	X = _mm512_add_epi32(_mm512_mullo_epi32(_mm512_srli_epi32(E_, 16), \
	    _mm512_srl_epi32(X, sc)), _mm512_and_si512(E_, lo16));	\
	__mmask16 k_ = _mm512_cmplt_epu32_mask(X, lv);			\
	__m512i W_ = _mm512_maskz_expand_epi32(k_, _mm512_cvtepu16_epi32( \
	    _mm256_loadu_si256((const __m256i *)p)));			\
	X = _mm512_mask_or_epi32(X, k_, _mm512_slli_epi32(X, 16), W_);	\
	p += 2 * (unsigned)__builtin_popcount(k_);			\
	i += 16;							\
} while (0)

#define AVX512_OK(k) (i + (k) * 16 <= n && end - p >= (k) * 32 &&	\
	(!r || lend - lp >= (long)((k) - 1) * 2 * r + 64))

__attribute__((target("avx512f,avx512bw,avx512vl,avx512vbmi,popcnt")))
static void
dec_bulk16_avx512(const struct dtab *t, uint32_t *x, unsigned ns,
    uint8_t *out, size_t n, size_t *ip, const uint8_t **pp,
    const uint8_t *end, const uint8_t **lpp, const uint8_t *lend, unsigned r)
{
	const int *fb = (const int *)t->fb;
	const int *val = (const int *)(const void *)t->val;
	__m128i sc = _mm_cvtsi32_si128((int)t->scale);
	__m512i maskv = _mm512_set1_epi32((int)((1u << t->scale) - 1));
	__m512i lo16 = _mm512_set1_epi32(0xffff);
	__m512i lv = _mm512_set1_epi32((int)RANS_L);
	__m512i rmv = _mm512_set1_epi32((int)((1u << r) - 1));
	const uint8_t *p = *pp, *lp = *lpp;
	size_t i = *ip;
	uint8_t ctl[64];
	uint32_t shv[16];

	/* lane j's low bits start at bit r j of the 2 r bytes of a group */
	for (unsigned j = 0; j < 16; j++) {
		unsigned o = (r * j) >> 3;
		for (unsigned k = 0; k < 4; k++)
			ctl[4 * j + k] = (uint8_t)((o + k) & 63);
		shv[j] = (r * j) & 7;
	}
	__m512i CT = _mm512_loadu_si512((const void *)ctl);
	__m512i SH = _mm512_loadu_si512((const void *)shv);
	if (ns == 64) {
		__m512i X0 = _mm512_loadu_si512((const void *)x);
		__m512i X1 = _mm512_loadu_si512((const void *)(x + 16));
		__m512i X2 = _mm512_loadu_si512((const void *)(x + 32));
		__m512i X3 = _mm512_loadu_si512((const void *)(x + 48));
		while (AVX512_OK(4)) {
			AVX512_GROUP(X0);
			AVX512_GROUP(X1);
			AVX512_GROUP(X2);
			AVX512_GROUP(X3);
		}
		_mm512_storeu_si512((void *)x, X0);
		_mm512_storeu_si512((void *)(x + 16), X1);
		_mm512_storeu_si512((void *)(x + 32), X2);
		_mm512_storeu_si512((void *)(x + 48), X3);
	} else if (ns == 32) {
		__m512i X0 = _mm512_loadu_si512((const void *)x);
		__m512i X1 = _mm512_loadu_si512((const void *)(x + 16));
		while (AVX512_OK(2)) {
			AVX512_GROUP(X0);
			AVX512_GROUP(X1);
		}
		_mm512_storeu_si512((void *)x, X0);
		_mm512_storeu_si512((void *)(x + 16), X1);
	} else if (ns == 16) {
		__m512i X0 = _mm512_loadu_si512((const void *)x);
		while (AVX512_OK(1))
			AVX512_GROUP(X0);
		_mm512_storeu_si512((void *)x, X0);
	}
	*ip = i;
	*pp = p;
	*lpp = lp;
}

#endif

/* OR the low r bits of value i (packed LSB first at rp[0..rend)) into
 * 16-bit value i, for the portable path. */
static void
or_lows(uint8_t *out, size_t n, const uint8_t *rp, const uint8_t *rend,
    unsigned r)
{
	uint32_t rmask = (1u << r) - 1;
	size_t avail = (size_t)(rend - rp), i = 0, bp = 0;
	size_t lim = avail >= 8 ? ((avail - 8) * 8) / r : 0;

	if (lim > n)
		lim = n;
	for (; i < lim; i++, bp += r) {
		uint32_t bits = (uint32_t)(ld64(rp + (bp >> 3)) >> (bp & 7)) &
		    rmask;
		st16(out + 2 * i, (uint16_t)(ld16(out + 2 * i) | bits));
	}
	for (; i < n; i++, bp += r) {
		uint64_t w = 0;
		size_t o = bp >> 3;
		for (unsigned k = 0; k < 8 && o + k < avail; k++)
			w |= (uint64_t)rp[o + k] << (8 * k);
		uint32_t bits = (uint32_t)(w >> (bp & 7)) & rmask;
		st16(out + 2 * i, (uint16_t)(ld16(out + 2 * i) | bits));
	}
}

/*
 * Decode n symbols of the section in[0..in_len): 16-bit outputs (val | low
 * bits from lp[0..lend) when r > 0) or, with out8, bytes.
 */
static int
dec_run(const uint8_t *in, size_t in_len, unsigned nsym, unsigned shift,
    uint8_t *out, size_t n, int out8, const uint8_t *lp,
    const uint8_t *lend, unsigned r)
{
	struct dtab t;
	uint32_t x[NSMAX], mask, rmask = (uint32_t)((1ull << r) - 1);
	unsigned ns = nstates(n), r0 = r;	/* r0: low bits ORed after */
	const uint8_t *p, *end = in + in_len, *lp0 = lp;
	size_t i = 0;
	long off;
	int ok = 1;

	if (n == 0)
		return in_len == 0 ? 0 : BS_ECORRUPT;
	off = dec_setup(in, in_len, nsym, shift, &t, x, ns);
	if (off < 0)
		return BS_ENOMEM;
	if (off == 0)
		return BS_ECORRUPT;
	mask = (1u << t.scale) - 1;
	p = in + off;
	if (out8)
		dec_bulk8(&t, x, ns, out, n, &i, &p, end, &lp, lend, 0);
#ifdef HAVE_AVX2_PATH
	else if (r <= 12 && have_avx2()) {
		if (ns >= 16 && have_avx512())
			dec_bulk16_avx512(&t, x, ns, out, n, &i, &p, end, &lp,
			    lend, r);
		/* the rest of the groups (8 states: all of them) */
		dec_bulk16_avx2(&t, x, ns, out, n, &i, &p, end, &lp, lend, r);
	}
#endif
	else {
		/* the portable loop runs out of registers with the low bits
		 * fused: they get a pass of their own */
		r = 0;
		dec_bulk16(&t, x, ns, out, n, &i, &p, end, &lp, lend, 0);
	}
	for (; i < n; i++) {
		unsigned j = (unsigned)(i & (NS - 1));
		uint32_t x_ = x[i & (ns - 1)], s = x_ & mask, e = t.fb[s];
		if (out8)
			out[i] = (uint8_t)t.val[s];
		else {
			uint32_t low = 0;
			if (r) {
				size_t bp = (size_t)(lp - lp0) * 8 +
				    (size_t)r * j, o = bp >> 3;
				uint64_t w = 0;
				for (unsigned k = 0; k < 8 &&
				    o + k < (size_t)(lend - lp0); k++)
					w |= (uint64_t)lp0[o + k] << (8 * k);
				low = (uint32_t)(w >> (bp & 7)) & rmask;
				if (j == NS - 1)
					lp += r;
			}
			st16(out + 2 * i, (uint16_t)(t.val[s] | low));
		}
		x_ = (e >> 16) * (x_ >> t.scale) + (e & 0xffff);
		if (x_ < RANS_L) {
			if (end - p < 2) {
				ok = 0;
				break;
			}
			x_ = (x_ << 16) | ld16(p);
			p += 2;
		}
		x[i & (ns - 1)] = x_;
	}
	free(t.fb);
	for (unsigned j = 0; j < ns; j++)
		ok &= x[j] == RANS_L;
	if (!ok || p != end)
		return BS_ECORRUPT;
	if (r0 && !r)
		or_lows(out, n, lp0, lend, r0);
	return 0;
}

int
bs_ent_decode16(const uint8_t *in, size_t in_len, unsigned nsym,
    unsigned shift, uint8_t *out, size_t n)
{
	if (nsym > BS_ENT_MAX_SYM || shift > 15 || (nsym << shift) > 65536)
		return BS_EUSAGE;
	return dec_run(in, in_len, nsym, shift, out, n, 0, NULL, NULL, 0);
}

int
bs_ent_decode8(const uint8_t *in, size_t in_len, unsigned nsym, uint8_t *out,
    size_t n)
{
	if (nsym > 256)
		return BS_EUSAGE;
	return dec_run(in, in_len, nsym, 0, out, n, 1, NULL, NULL, 0);
}

/* ------------------------------------------------------- split floats */

#define SPLIT_MAX_B 14	/* symbols of at most 14 bits */
#ifndef SPLIT_MAX_SCALE
#define SPLIT_MAX_SCALE 13
#endif

static inline uint32_t
ldv(const uint8_t *raw, size_t i, unsigned width)
{
	return width == 2 ? ld16(raw + 2 * i) : ld32(raw + 4 * i);
}

/* Histogram of the top bmax bits of every value; tmp has room for another
 * 2^bmax counts (a second histogram, so that runs of one bin do not chain
 * through store forwarding). */
static void
hist_top(const uint8_t *raw, size_t n, unsigned width, unsigned bmax,
    uint32_t *cnt, uint32_t *tmp)
{
	unsigned sh = 8 * width - bmax;
	size_t i = 0;

	memset(cnt, 0, sizeof *cnt << bmax);
	if (width == 2 && n >= (1u << bmax)) {
		memset(tmp, 0, sizeof *tmp << bmax);
		for (; i + 4 <= n; i += 4) {
			uint64_t v = ld64(raw + 2 * i);
			cnt[(uint32_t)(v & 0xffff) >> sh]++;
			tmp[(uint32_t)((v >> 16) & 0xffff) >> sh]++;
			cnt[(uint32_t)((v >> 32) & 0xffff) >> sh]++;
			tmp[(uint32_t)(v >> 48) >> sh]++;
		}
		for (unsigned s = 0; s < (1u << bmax); s++)
			cnt[s] += tmp[s];
	}
	for (; i < n; i++)
		cnt[ldv(raw, i, width) >> sh]++;
}

#ifdef HAVE_AVX2_PATH
/* Pack the low r bits of 16-bit values as split_encode_b's loop does (the
 * same bytes), several values a step with pext.  Returns how many values
 * it packed; *qp, *accp, *nbp carry on as in that loop. */
__attribute__((target("bmi2"))) static size_t
pack16_bmi2(const uint8_t *raw, size_t n, unsigned r, uint8_t **qp,
    uint64_t *accp, unsigned *nbp)
{
	uint64_t m = (1ull << r) - 1, acc = *accp;
	unsigned nb = *nbp;
	uint8_t *q = *qp;
	size_t i = 0;

	if (r <= 8) {
		m *= 0x0001000100010001ull;
		for (; i + 4 <= n; i += 4) {
			acc |= _pext_u64(ld64(raw + 2 * i), m) << nb;
			nb += 4 * r;
			if (nb >= 32) {
				st32(q, (uint32_t)acc);
				q += 4;
				acc >>= 32;
				nb -= 32;
			}
		}
	} else {
		m *= 0x00010001ull;
		for (; i + 2 <= n; i += 2) {
			acc |= (uint64_t)_pext_u32(ld32(raw + 2 * i),
			    (uint32_t)m) << nb;
			nb += 2 * r;
			if (nb >= 32) {
				st32(q, (uint32_t)acc);
				q += 4;
				acc >>= 32;
				nb -= 32;
			}
		}
	}
	*qp = q;
	*accp = acc;
	*nbp = nb;
	return i;
}
#endif

/* ------------------------------------------- order-1 context (16-bit) */

/*
 * Context mode of a 16-bit split-float section (entropy.h): the symbol of
 * each value is coded with the frequency table of its context, the
 * exponent field of the value before it.  To keep S independent chains,
 * the message is taken lane by lane: with S = nstates(n) and L = n / S,
 * lane k holds the values [k L, (k + 1) L) and message symbol j is value
 * (j mod S) L + j / S, coded by state j mod S; the first value of a lane
 * has context 0.  The n - S L values after the lanes are not in the
 * message: their symbols are stored as 16-bit words before it.
 */
#define CTX_MAX_B 10	/* context mode: symbols of at most 10 bits */
#define CTX_MAX_EB 5	/* exponent fields of at most 5 bits */
#define CTX_MAX_SCALE 11	/* decode entries have 11-bit fields */
#define CTX_BT 32	/* steps a staging block */

static inline unsigned
ctx_of(uint32_t sym, unsigned b, unsigned eb)
{
	return (sym >> (b - 1 - eb)) & ((1u << eb) - 1);
}

/* Histogram h[ctx << b | sym] of the message's symbols at b bits. */
static void
ctx_hist(const uint8_t *raw, size_t n, unsigned b, unsigned eb, uint32_t *h)
{
	unsigned ns = nstates(n), r = 16 - b;
	size_t L = n / ns;

	memset(h, 0, sizeof *h << (b + eb));
	for (unsigned k = 0; k < ns; k++) {
		const uint8_t *v = raw + 2 * (size_t)k * L;
		unsigned c = 0;
		for (size_t t = 0; t < L; t++) {
			uint32_t s = ld16(v + 2 * t) >> r;
			h[c << b | s]++;
			c = ctx_of(s, b, eb);
		}
	}
}

/* Estimated bits of the context-mode message from its histogram. */
static double
ctx_estimate(const uint32_t *h, unsigned b, unsigned eb)
{
	double bits = 0;
	unsigned m = 0;

	for (unsigned c = 0; c < (1u << eb); c++) {
		double e = bs_ent_estimate(h + ((size_t)c << b), 1u << b, 1.0);
		bits += e;
		m += e > 0;
	}
	/* each estimate counts the states; they are there once */
	return bits - (m > 1 ? (m - 1) * 8.0 * 40 : 0);
}

/* The scale of every table of a context-mode message of n values. */
static unsigned
ctx_scale(size_t n)
{
	unsigned s = bitlen(n > (1u << 30) ? 1u << 30 : (uint32_t)n);
	s = s > 5 ? s - 5 : 1;
	return s < 6 ? 6 : s > CTX_MAX_SCALE ? CTX_MAX_SCALE : s;
}

#ifdef HAVE_AVX2_PATH
/*
 * The steps t1 - 1 down to t0 of a context-mode block for 16, 32 or 64 lanes
 * with AVX-512: stg holds, transposed, row j = the lanes' values at step
 * t0 + j - 1 (row 0: the values before t0, or 0); cb[c] = the index of
 * context c's first esym.  The arithmetic of ENC_PUT, the words of a
 * register's renormalising lanes compressed into lane order below wp,
 * upper lanes first: the bytes of the scalar loop.  The caller has made
 * room for every word.
 */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512cd,popcnt"))) static void
ctx_enc_avx512(const struct esym *es, const int *cb, uint32_t *x,
    unsigned ns, const uint16_t (*stg)[NSMAX], size_t tn, unsigned r,
    unsigned cs, unsigned cm, unsigned scale, uint8_t **wpp)
{
	__m128i xsh = _mm_cvtsi32_si128((int)(31 - scale));
	__m128i rsh = _mm_cvtsi32_si128((int)r), csh = _mm_cvtsi32_si128((int)cs);
	__m512i mv = _mm512_set1_epi32((int)(1u << scale));
	__m512i lo16 = _mm512_set1_epi32(0xffff), cmv = _mm512_set1_epi32((int)cm);
	__m512i one = _mm512_set1_epi32(1), zero = _mm512_setzero_si512();
	__m512i c31 = _mm512_set1_epi32(31);
	__m512i CB0 = _mm512_loadu_si512((const void *)cb);
	__m512i CB1 = _mm512_loadu_si512((const void *)(cb + 16));
	const int *e0 = (const int *)(const void *)es;
	__m512i xv[BS_ENT_STATES_MAX / 16];
	uint8_t *wp = *wpp;

	for (unsigned k = 0; k < ns / 16; k++)
		xv[k] = _mm512_loadu_si512((const void *)(x + 16 * k));
	for (size_t j = tn; j > 0; j--)
		for (unsigned g = ns / 16; g-- > 0;) {
			__m512i X = xv[g];
			__m512i S = _mm512_srl_epi32(_mm512_cvtepu16_epi32(
			    _mm256_loadu_si256((const __m256i *)&stg[j][16 * g])), rsh);
			__m512i P = _mm512_srl_epi32(_mm512_cvtepu16_epi32(
			    _mm256_loadu_si256((const __m256i *)&stg[j - 1][16 * g])), rsh);
			__m512i C = _mm512_and_si512(_mm512_srl_epi32(P, csh), cmv);
			__m512i I = _mm512_slli_epi32(_mm512_add_epi32(
			    _mm512_permutex2var_epi32(CB0, C, CB1), S), 2);
			__m512i RC = _mm512_i32gather_epi32(I, e0 + 1, 4);
			__m512i BC = _mm512_i32gather_epi32(I, e0 + 2, 4);
			__m512i BI = _mm512_and_si512(BC, lo16);
			__m512i CM = _mm512_srli_epi32(BC, 16);
			__m512i FR = _mm512_sub_epi32(mv, CM);
			__m512i XM = _mm512_sll_epi32(FR, xsh);
			__m512i SHV = _mm512_max_epi32(_mm512_sub_epi32(c31,
			    _mm512_lzcnt_epi32(_mm512_sub_epi32(FR, one))), zero);
			__mmask16 c = _mm512_cmpge_epu32_mask(X, XM);
			if (c) {
				unsigned cnt = (unsigned)__builtin_popcount(c);
				__m256i W = _mm512_cvtepi32_epi16(
				    _mm512_maskz_compress_epi32(c, X));
				wp -= 2 * cnt;
				_mm256_mask_storeu_epi16(wp,
				    (__mmask16)((1u << cnt) - 1), W);
				X = _mm512_mask_srli_epi32(X, c, X, 16);
			}
			__m512i ev = _mm512_srli_epi64(_mm512_mul_epu32(X, RC), 32);
			__m512i od = _mm512_mul_epu32(_mm512_srli_epi64(X, 32),
			    _mm512_srli_epi64(RC, 32));
			__m512i q = _mm512_mask_blend_epi32(0xaaaa, ev, od);
			q = _mm512_srlv_epi32(q, SHV);
			xv[g] = _mm512_add_epi32(_mm512_add_epi32(X, BI),
			    _mm512_mullo_epi32(q, CM));
		}
	for (unsigned k = 0; k < ns / 16; k++)
		_mm512_storeu_si512((void *)(x + 16 * k), xv[k]);
	*wpp = wp;
}
#endif

/* Code the context-mode message (and the tail words before it). */
static long
ctx_encode(const uint8_t *raw, size_t n, unsigned b, unsigned eb,
    const uint32_t *h, uint8_t *out, size_t cap)
{
	unsigned ns = nstates(n), r = 16 - b, nsym = 1u << b, nctx = 1u << eb;
	size_t L = n / ns, nm = L * ns, tail = n - nm;
	struct bw w;
	struct esym *es;
	uint32_t *freq, x[NSMAX];
	int cidx[1u << CTX_MAX_EB];
	const struct esym *esc[1u << CTX_MAX_EB];
	unsigned m = 0;
	uint8_t *lo, *wp;
	long ret = 0;

	if (cap < 2 * tail + 4 * ns + 4)
		return 0;
	for (size_t i = 0; i < tail; i++)
		st16(out + 2 * i, (uint16_t)(ld16(raw + 2 * (nm + i)) >> r));
	for (unsigned c = 0; c < nctx; c++) {
		uint32_t tot = 0;
		for (unsigned s = 0; s < nsym; s++)
			tot |= h[c << b | s];
		cidx[c] = tot ? (int)m++ : -1;
	}
	if (!(es = malloc((size_t)m * nsym * (sizeof *es + sizeof *freq))))
		return BS_ENOMEM;
	freq = (uint32_t *)(es + (size_t)m * nsym);
	w = (struct bw){ out + 2 * tail, out + cap, 0, 0, 0 };
	bw_gamma(&w, m);
	/* one scale for every table, enough for the largest alphabet */
	unsigned prev = 0, sc = ctx_scale(n);
	for (unsigned c = 0; c < nctx; c++) {
		unsigned np = 0;
		for (unsigned s = 0; s < nsym; s++)
			np += h[c << b | s] != 0;
		while ((1u << sc) < np)
			sc++;
	}
	for (unsigned c = 0; c < nctx; c++) {
		const uint32_t *hc = h + ((size_t)c << b);
		uint32_t *fc;
		unsigned cum = 0;
		int present;
		if (cidx[c] < 0)
			continue;
		fc = freq + (size_t)cidx[c] * nsym;
		present = bs_ent_normalize(hc, nsym, sc, fc);
		if (present <= 0)
			goto out;
		bw_gamma(&w, c + 1 - prev);
		prev = c + 1;
		esc[c] = es + (size_t)cidx[c] * nsym;
		table_put(&w, fc, nsym, sc, (unsigned)present);
		for (unsigned s = 0; s < nsym; s++) {
			struct esym *e = &es[(size_t)cidx[c] * nsym + s];
			if (fc[s])
				esym_init(e, cum, fc[s], sc);
			else
				memset(e, 0, sizeof *e);
			cum += fc[s];
		}
	}
	bw_flush(&w);
	if (w.over || (size_t)(out + cap - w.p) < 4 * ns + 2)
		goto out;
	lo = w.p + 4 * ns;
	wp = out + cap;
	for (unsigned k = 0; k < ns; k++)
		x[k] = RANS_L;
	/* the lanes' values come through a staging block of CTX_BT steps
	 * (lane starts are often 2^k bytes apart: read in place they would
	 * fight for the same cache sets); stg[k][0] is the value before */
#ifdef HAVE_AVX2_PATH
	if (ns >= 16 && have_avx512()) {
		int cb[32] = { 0 };
		for (unsigned c = 0; c < nctx; c++)
			cb[c] = cidx[c] < 0 ? 0 : cidx[c] * (int)nsym;
		for (size_t t1 = L; t1 > 0;) {
			size_t t0 = t1 > CTX_BT ? t1 - CTX_BT : 0;
			uint16_t stg[CTX_BT + 1][NSMAX];	/* transposed */
			for (unsigned k = 0; k < ns; k++) {
				const uint8_t *v = raw + 2 * ((size_t)k * L + t0);
				stg[0][k] = t0 ? ld16(v - 2) : 0;
				for (size_t j = 0; j < t1 - t0; j++)
					stg[j + 1][k] = ld16(v + 2 * j);
			}
			if ((size_t)(wp - lo) < 2 * ns * (t1 - t0) + 2)
				goto out;
			ctx_enc_avx512(es, cb, x, ns,
			    (const uint16_t (*)[NSMAX])stg, t1 - t0, r,
			    b - 1 - eb, nctx - 1, sc, &wp);
			t1 = t0;
		}
		goto done;
	}
#endif
	for (size_t t1 = L; t1 > 0;) {
		size_t t0 = t1 > CTX_BT ? t1 - CTX_BT : 0;
		uint16_t stg[NSMAX][CTX_BT + 1];
		for (unsigned k = 0; k < ns; k++) {
			const uint8_t *v = raw + 2 * ((size_t)k * L + t0);
			stg[k][0] = t0 ? ld16(v - 2) : 0;
			memcpy(&stg[k][1], v, 2 * (t1 - t0));
		}
		if ((size_t)(wp - lo) < 2 * ns * (t1 - t0) + 2)
			goto out;
		for (size_t t = t1; t-- > t0;)
			for (unsigned k = ns; k-- > 0;) {
				uint32_t s = stg[k][t - t0 + 1] >> r;
				unsigned c = t ? ctx_of(stg[k][t - t0] >> r, b,
				    eb) : 0;
				ENC_PUT(x[k], &esc[c][s], wp);
			}
		t1 = t0;
	}
#ifdef HAVE_AVX2_PATH
done:;
#endif
	size_t total = (size_t)(out + cap - wp);
	memmove(lo, wp, total);
	for (unsigned k = 0; k < ns; k++)
		st32(w.p + 4 * k, x[k]);
	ret = (long)((size_t)(lo - out) + total);
out:
	free(es);
	return ret;
}

/*
 * Decode the context-mode message (and tail) of in[0..in_len): writes
 * the values, their low r bits taken from rp[0..R).  Every table
 * has the same scale sc; context c's table is the 2^sc 32-bit entries at
 * tab[c << sc], an entry holding, for its slot, the symbol's frequency - 1
 * (bits 0-10), the slot's offset from the symbol's start (11-21) and the
 * symbol (22-31).  Lanes are decoded CTX_BT steps at a time into a staging
 * block in message order, then copied out.
 */
struct ctxdec {
	const uint32_t *tab;
	unsigned sc;		/* the scale of every table */
	unsigned cs, cm;	/* context = sym >> cs & cm */
	unsigned r;		/* value = sym << r */
};

/* One checked step of lane k: 0, or -1 when the words run out. */
static inline int
ctx_step1(const struct ctxdec *d, uint32_t *x, unsigned *pc, uint16_t *o,
    const uint8_t **pp, const uint8_t *end)
{
	uint32_t e = d->tab[*pc << d->sc | (*x & ((1u << d->sc) - 1))];
	uint32_t sym = e >> 22;
	uint32_t y = ((e & 0x7ff) + 1) * (*x >> d->sc) + ((e >> 11) & 0x7ff);

	*o = (uint16_t)(sym << d->r);
	*pc = (sym >> d->cs) & d->cm;
	if (y < RANS_L) {
		if (end - *pp < 2)
			return -1;
		y = y << 16 | ld16(*pp);
		*pp += 2;
	}
	*x = y;
	return 0;
}

#ifdef HAVE_AVX2_PATH
/* C holds each lane's context already shifted to its table: c << sc */
#define CTX_AVX(X, C, k) do {						\
	__m256i E_ = _mm256_i32gather_epi32(tab,			\
	    _mm256_or_si256(C, _mm256_and_si256(X, mv)), 4);		\
	__m256i Y_ = _mm256_srli_epi32(E_, 22);				\
	C = _mm256_sll_epi32(_mm256_and_si256(_mm256_srl_epi32(Y_, csv), \
	    cmv), scv);							\
	__m256i P_ = _mm256_permute4x64_epi64(_mm256_packus_epi32(	\
	    _mm256_sll_epi32(Y_, rv), _mm256_setzero_si256()), 0x08);	\
	_mm_storeu_si128((__m128i *)(o + (k)),				\
	    _mm256_castsi256_si128(P_));				\
	X = _mm256_add_epi32(_mm256_mullo_epi32(_mm256_add_epi32(	\
	    _mm256_and_si256(E_, v7ff), one), _mm256_srl_epi32(X, scv)), \
	    _mm256_and_si256(_mm256_srli_epi32(E_, 11), v7ff));	\
	__m256i need_ = _mm256_cmpgt_epi32(lv, X);			\
	unsigned m_ = (unsigned)_mm256_movemask_ps(			\
	    _mm256_castsi256_ps(need_));				\
	uint64_t idx_ = _pdep_u64(0x0706050403020100ull,		\
	    _pdep_u64(m_, 0x0101010101010101ull) * 0xff);		\
	__m256i W_ = _mm256_cvtepu16_epi32(				\
	    _mm_loadu_si128((const __m128i *)p));			\
	W_ = _mm256_permutevar8x32_epi32(W_,				\
	    _mm256_cvtepu8_epi32(_mm_cvtsi64_si128((long long)idx_)));	\
	X = _mm256_blendv_epi8(X, _mm256_or_si256(			\
	    _mm256_slli_epi32(X, 16), W_), need_);			\
	p += 2 * (unsigned)__builtin_popcount(m_);			\
} while (0)

/* Whole steps of every lane while 16 bytes of words per group remain;
 * returns the steps done (<= tn), *pp advanced, x[] and pc[] updated. */
__attribute__((target("avx2,bmi2,popcnt"))) static size_t
ctx_steps_avx2(const struct ctxdec *d, uint32_t *x, unsigned *pc,
    unsigned ns, uint16_t *stg, size_t tn, const uint8_t **pp,
    const uint8_t *end)
{
	const int *tab = (const int *)d->tab;
	const __m256i one = _mm256_set1_epi32(1);
	const __m256i v7ff = _mm256_set1_epi32(0x7ff);
	const __m256i lv = _mm256_set1_epi32((int)RANS_L);
	const __m256i cmv = _mm256_set1_epi32((int)d->cm);
	const __m256i mv = _mm256_set1_epi32((int)((1u << d->sc) - 1));
	const __m128i csv = _mm_cvtsi32_si128((int)d->cs);
	const __m128i scv = _mm_cvtsi32_si128((int)d->sc);
	const __m128i rv = _mm_cvtsi32_si128((int)d->r);
	const uint8_t *p = *pp;
	__m256i X[8], C[8];
	unsigned g = ns / NS;
	size_t t = 0;

	for (unsigned j = 0; j < g; j++) {
		X[j] = _mm256_loadu_si256((const __m256i *)(x + NS * j));
		C[j] = _mm256_sll_epi32(_mm256_loadu_si256(
		    (const __m256i *)(pc + NS * j)), scv);
	}
	if (g == 8)
		for (; t < tn && end - p >= 128; t++) {
			uint16_t *o = stg + t * ns;
			for (unsigned j = 0; j < 8; j++)
				CTX_AVX(X[j], C[j], 8 * j);
		}
	else if (g == 4)
		for (; t < tn && end - p >= 64; t++) {
			uint16_t *o = stg + t * ns;
			CTX_AVX(X[0], C[0], 0);
			CTX_AVX(X[1], C[1], 8);
			CTX_AVX(X[2], C[2], 16);
			CTX_AVX(X[3], C[3], 24);
		}
	else if (g == 2)
		for (; t < tn && end - p >= 32; t++) {
			uint16_t *o = stg + t * ns;
			CTX_AVX(X[0], C[0], 0);
			CTX_AVX(X[1], C[1], 8);
		}
	else
		for (; t < tn && end - p >= 16; t++) {
			uint16_t *o = stg + t * ns;
			CTX_AVX(X[0], C[0], 0);
		}
	for (unsigned j = 0; j < g; j++) {
		_mm256_storeu_si256((__m256i *)(x + NS * j), X[j]);
		_mm256_storeu_si256((__m256i *)(pc + NS * j),
		    _mm256_srl_epi32(C[j], scv));
	}
	*pp = p;
	return t;
}

/* The same step for 16 lanes in a register, the renormalisation words
 * expanded straight into the lanes that need them (as AVX512_GROUP). */
#define CTX_AVX512(X, C, k) do {					\
	__m512i E_ = _mm512_i32gather_epi32(				\
	    _mm512_or_si512(C, _mm512_and_si512(X, mv)), tab, 4);	\
	__m512i Y_ = _mm512_srli_epi32(E_, 22);				\
	C = _mm512_sll_epi32(_mm512_and_si512(_mm512_srl_epi32(Y_, csv), \
	    cmv), scv);							\
	_mm256_storeu_si256((__m256i *)(o + (k)),			\
	    _mm512_cvtepi32_epi16(_mm512_sll_epi32(Y_, rv)));		\
	X = _mm512_add_epi32(_mm512_mullo_epi32(_mm512_add_epi32(	\
	    _mm512_and_si512(E_, v7ff), one), _mm512_srl_epi32(X, scv)), \
	    _mm512_and_si512(_mm512_srli_epi32(E_, 11), v7ff));	\
	__mmask16 k_ = _mm512_cmplt_epu32_mask(X, lv);			\
	__m512i W_ = _mm512_maskz_expand_epi32(k_, _mm512_cvtepu16_epi32( \
	    _mm256_loadu_si256((const __m256i *)p)));			\
	X = _mm512_mask_or_epi32(X, k_, _mm512_slli_epi32(X, 16), W_);	\
	p += 2 * (unsigned)__builtin_popcount(k_);			\
} while (0)

/* ctx_steps_avx2 for 16, 32 or 64 lanes with AVX-512: whole steps while 32
 * bytes of words per register remain. */
__attribute__((target("avx512f,avx512bw,avx512vl,popcnt"))) static size_t
ctx_steps_avx512(const struct ctxdec *d, uint32_t *x, unsigned *pc,
    unsigned ns, uint16_t *stg, size_t tn, const uint8_t **pp,
    const uint8_t *end)
{
	const int *tab = (const int *)d->tab;
	const __m512i one = _mm512_set1_epi32(1);
	const __m512i v7ff = _mm512_set1_epi32(0x7ff);
	const __m512i lv = _mm512_set1_epi32((int)RANS_L);
	const __m512i cmv = _mm512_set1_epi32((int)d->cm);
	const __m512i mv = _mm512_set1_epi32((int)((1u << d->sc) - 1));
	const __m128i csv = _mm_cvtsi32_si128((int)d->cs);
	const __m128i scv = _mm_cvtsi32_si128((int)d->sc);
	const __m128i rv = _mm_cvtsi32_si128((int)d->r);
	const uint8_t *p = *pp;
	size_t t = 0;

#define CTX_LOAD(X, C, j) __m512i X = _mm512_loadu_si512((const void *)(x + 16 * (j))), \
	    C = _mm512_sll_epi32(_mm512_loadu_si512((const void *)(pc + 16 * (j))), scv)
#define CTX_STORE(X, C, j) do {						\
	_mm512_storeu_si512((void *)(x + 16 * (j)), X);		\
	_mm512_storeu_si512((void *)(pc + 16 * (j)), _mm512_srl_epi32(C, scv)); \
} while (0)
	if (ns == 64) {
		CTX_LOAD(X0, C0, 0);
		CTX_LOAD(X1, C1, 1);
		CTX_LOAD(X2, C2, 2);
		CTX_LOAD(X3, C3, 3);
		for (; t < tn && end - p >= 128; t++) {
			uint16_t *o = stg + t * ns;
			CTX_AVX512(X0, C0, 0);
			CTX_AVX512(X1, C1, 16);
			CTX_AVX512(X2, C2, 32);
			CTX_AVX512(X3, C3, 48);
		}
		CTX_STORE(X0, C0, 0);
		CTX_STORE(X1, C1, 1);
		CTX_STORE(X2, C2, 2);
		CTX_STORE(X3, C3, 3);
	} else if (ns == 32) {
		CTX_LOAD(X0, C0, 0);
		CTX_LOAD(X1, C1, 1);
		for (; t < tn && end - p >= 64; t++) {
			uint16_t *o = stg + t * ns;
			CTX_AVX512(X0, C0, 0);
			CTX_AVX512(X1, C1, 16);
		}
		CTX_STORE(X0, C0, 0);
		CTX_STORE(X1, C1, 1);
	} else if (ns == 16) {
		CTX_LOAD(X0, C0, 0);
		for (; t < tn && end - p >= 32; t++) {
			uint16_t *o = stg + t * ns;
			CTX_AVX512(X0, C0, 0);
		}
		CTX_STORE(X0, C0, 0);
	}
#undef CTX_LOAD
#undef CTX_STORE
	*pp = p;
	return t;
}

/* Copy the staging block (tn steps of ns lanes, message order) out to
 * the lanes, 8 x 8 values at a time through a 16-bit transpose; returns
 * the steps copied (a multiple of 8). */
__attribute__((target("avx2"))) static size_t
ctx_copy_avx2(const uint16_t *stg, unsigned ns, size_t tn, uint8_t *out,
    size_t L, size_t t0)
{
	size_t t = 0;

	for (; t + 8 <= tn; t += 8)
		for (unsigned g = 0; g < ns; g += 8) {
			__m128i a[8], b[8];
			for (unsigned q = 0; q < 8; q++)
				a[q] = _mm_loadu_si128((const __m128i *)
				    (stg + (t + q) * ns + g));
			for (unsigned q = 0; q < 8; q += 2) {
				b[q] = _mm_unpacklo_epi16(a[q], a[q + 1]);
				b[q + 1] = _mm_unpackhi_epi16(a[q], a[q + 1]);
			}
			/* b0: lanes 0-3 of steps 0,1; b1: lanes 4-7 ... */
			__m128i c0 = _mm_unpacklo_epi32(b[0], b[2]);
			__m128i c1 = _mm_unpackhi_epi32(b[0], b[2]);
			__m128i c2 = _mm_unpacklo_epi32(b[4], b[6]);
			__m128i c3 = _mm_unpackhi_epi32(b[4], b[6]);
			__m128i c4 = _mm_unpacklo_epi32(b[1], b[3]);
			__m128i c5 = _mm_unpackhi_epi32(b[1], b[3]);
			__m128i c6 = _mm_unpacklo_epi32(b[5], b[7]);
			__m128i c7 = _mm_unpackhi_epi32(b[5], b[7]);
			__m128i row[8] = {
				_mm_unpacklo_epi64(c0, c2),
				_mm_unpackhi_epi64(c0, c2),
				_mm_unpacklo_epi64(c1, c3),
				_mm_unpackhi_epi64(c1, c3),
				_mm_unpacklo_epi64(c4, c6),
				_mm_unpackhi_epi64(c4, c6),
				_mm_unpacklo_epi64(c5, c7),
				_mm_unpackhi_epi64(c5, c7),
			};
			for (unsigned q = 0; q < 8; q++)
				_mm_storeu_si128((__m128i *)(out + 2 *
				    ((size_t)(g + q) * L + t0 + t)), row[q]);
		}
	return t;
}

/* OR the low r bits (r <= 12; packed LSB first in rp[0..R)) into the
 * 16-bit values out[0..n), 8 values a step while 16 bytes can be read;
 * returns how many it did (a multiple of 8). */
__attribute__((target("avx2"))) static size_t
or_lows_avx2(uint8_t *out, size_t n, const uint8_t *rp, size_t R,
    unsigned r)
{
	uint8_t ctl[32];
	uint32_t shv[8];
	size_t i = 0;

	for (unsigned j = 0; j < 8; j++) {
		unsigned o = (r * j) >> 3;
		for (unsigned k = 0; k < 4; k++)
			ctl[4 * j + k] = (uint8_t)(o + k < 16 ? o + k : 0x80);
		shv[j] = (r * j) & 7;
	}
	__m256i CT = _mm256_loadu_si256((const __m256i *)ctl);
	__m256i SH = _mm256_loadu_si256((const __m256i *)shv);
	__m256i rmv = _mm256_set1_epi32((int)((1u << r) - 1));
	for (; i + 8 <= n && (i / 8) * r + 16 <= R; i += 8) {
		__m256i L_ = _mm256_broadcastsi128_si256(_mm_loadu_si128(
		    (const __m128i *)(rp + (i / 8) * r)));
		L_ = _mm256_and_si256(_mm256_srlv_epi32(
		    _mm256_shuffle_epi8(L_, CT), SH), rmv);
		__m128i P_ = _mm256_castsi256_si128(_mm256_permute4x64_epi64(
		    _mm256_packus_epi32(L_, L_), 0x08));
		__m128i *o = (__m128i *)(out + 2 * i);
		_mm_storeu_si128(o, _mm_or_si128(_mm_loadu_si128(o), P_));
	}
	return i;
}
#endif

/* The low r bits of value i, packed LSB first in rp[0..R). */
static inline uint32_t
low_at(const uint8_t *rp, size_t R, size_t i, unsigned r)
{
	size_t bp = i * r, o = bp >> 3;
	uint64_t w = 0;

	if (o + 8 <= R)
		w = ld64(rp + o);
	else
		for (unsigned k = 0; k < 8 && o + k < R; k++)
			w |= (uint64_t)rp[o + k] << (8 * k);
	return (uint32_t)(w >> (bp & 7)) & ((1u << r) - 1);
}

static int
ctx_decode(const uint8_t *in, size_t in_len, size_t n, unsigned b,
    unsigned eb, const uint8_t *rp, size_t R, uint8_t *out)
{
	unsigned ns = nstates(n), r = 16 - b, nsym = 1u << b, nctx = 1u << eb;
	size_t L = n / ns, nm = L * ns, tail = n - nm;
	struct ctxdec d;
	struct br rd;
	uint32_t *tab = NULL, *freq, x[NSMAX], m;
	uint16_t *sym;
	unsigned pc[NSMAX], c = 0, sc0 = 0, have = 0, need = 1;
	const uint8_t *p, *end = in + in_len;
	int ret = BS_ECORRUPT;

	if (in_len < 2 * tail)
		return BS_ECORRUPT;
	for (size_t i = 0; i < tail; i++) {
		uint32_t s = ld16(in + 2 * i);
		if (s >= nsym)
			return BS_ECORRUPT;
		st16(out + 2 * (nm + i),
		    (uint16_t)(s << r | low_at(rp, R, nm + i, r)));
	}
	rd = (struct br){ in + 2 * tail, end, 0, 0, 0 };
	m = br_gamma(&rd);
	if (rd.err || m < 1 || m > nctx)
		return BS_ECORRUPT;
	if (!(freq = malloc(nsym * (sizeof *freq + sizeof *sym))))
		return BS_ENOMEM;
	sym = (uint16_t *)(freq + nsym);
	/* room for every context's table at the largest scale; only the
	 * tables there are get touched */
	if (!(tab = malloc(((size_t)nctx << CTX_MAX_SCALE) * sizeof *tab))) {
		free(freq);
		return BS_ENOMEM;
	}
	d = (struct ctxdec){ tab, 0, b - 1 - eb, nctx - 1, r };
	for (uint32_t k = 0; k < m; k++) {
		unsigned scale, present;
		uint32_t gap = br_gamma(&rd), slot;
		if (rd.err || gap > nctx || (c += gap) > nctx)
			goto out;
		if (table_get(&rd, nsym, CTX_MAX_SCALE, &scale, &present, sym,
		    freq) || (k && scale != sc0))
			goto out;
		sc0 = scale;
		slot = (c - 1) << scale;
		have |= 1u << (c - 1);
		for (unsigned q = 0; q < present; q++) {
			typedef uint32_t v8w __attribute__((vector_size(32)));
			const v8w step = { 0, 1 << 11, 2 << 11, 3 << 11, 4 << 11,
			    5 << 11, 6 << 11, 7 << 11 };
			uint32_t e0 = (uint32_t)sym[q] << 22 | (freq[q] - 1), f = 0;
			v8w ev = step + e0;
			need |= 1u << ((sym[q] >> d.cs) & d.cm);
			for (; f + 8 <= freq[q]; f += 8, slot += 8, ev += 8 << 11)
				memcpy(tab + slot, &ev, sizeof ev);
			for (; f < freq[q]; f++)
				tab[slot++] = e0 | f << 11;
		}
	}
	d.sc = sc0;
	/* every context a symbol can lead to (and 0, where lanes start)
	 * has a table: the decoder never meets one without */
	if (need & ~have)
		goto out;
	/* the rest of the byte the bit reader stopped in is padding */
	p = rd.p;
	if ((size_t)(end - p) < 4 * ns)
		goto out;
	for (unsigned k = 0; k < ns; k++) {
		x[k] = ld32(p + 4 * k);
		if (x[k] < RANS_L || x[k] >= (1u << 31))
			goto out;
		pc[k] = 0;
	}
	p += 4 * ns;
	for (size_t t0 = 0; t0 < L; t0 += CTX_BT) {
		size_t tn = L - t0 < CTX_BT ? L - t0 : CTX_BT, t = 0;
		uint16_t stg[CTX_BT * NSMAX];
#ifdef HAVE_AVX2_PATH
		if (ns >= 16 && have_avx512())
			t = ctx_steps_avx512(&d, x, pc, ns, stg, tn, &p, end);
		if (have_avx2())
			t += ctx_steps_avx2(&d, x, pc, ns, stg + t * ns, tn - t,
			    &p, end);
#endif
		for (; t < tn; t++)
			for (unsigned k = 0; k < ns; k++)
				if (ctx_step1(&d, &x[k], &pc[k],
				    &stg[t * ns + k], &p, end))
					goto out;
		size_t t8 = 0;
#ifdef HAVE_AVX2_PATH
		if (have_avx2())
			t8 = ctx_copy_avx2(stg, ns, tn, out, L, t0);
#endif
		for (unsigned k = 0; k < ns; k++) {
			uint8_t *o = out + 2 * ((size_t)k * L + t0);
			for (t = t8; t < tn; t++)
				st16(o + 2 * t, stg[t * ns + k]);
		}
	}
	for (unsigned k = 0; k < ns; k++)
		if (x[k] != RANS_L)
			goto out;
	if (p != end)
		goto out;
	if (r) {
		size_t i = 0;
#ifdef HAVE_AVX2_PATH
		if (have_avx2())
			i = or_lows_avx2(out, nm, rp, R, r);
#endif
		for (; i < nm; i++)
			st16(out + 2 * i, (uint16_t)(ld16(out + 2 * i) |
			    low_at(rp, R, i, r)));
	}
	ret = 0;
out:
	free(tab);
	free(freq);
	return ret;
}

static long
split_encode_b(const uint8_t *raw, size_t n, unsigned width, unsigned b,
    unsigned eb, const uint32_t *cnt, uint8_t *out, size_t cap)
{
	unsigned r = 8 * width - b;
	uint32_t rmask = (uint32_t)((1ull << r) - 1);
	size_t R = (n * r + 7) / 8, i;
	uint64_t acc = 0;
	unsigned nb = 0;
	uint8_t *q;
	long e;

	if (cap < 1 + R + 4 * nstates(n) + 2)
		return 0;
	out[0] = (uint8_t)(b | (eb ? 0x80 : 0));
	q = out + 1;
	i = 0;
#ifdef HAVE_AVX2_PATH
	if (width == 2 && have_avx2())
		i = pack16_bmi2(raw, n, r, &q, &acc, &nb);
#endif
	for (; i < n; i++) {
		uint32_t v = ldv(raw, i, width);
		acc |= (uint64_t)(v & rmask) << nb;
		nb += r;
		if (nb >= 32) {
			st32(q, (uint32_t)acc);
			q += 4;
			acc >>= 32;
			nb -= 32;
		}
	}
	while (nb > 0) {
		*q++ = (uint8_t)acc;
		acc >>= 8;
		nb = nb > 8 ? nb - 8 : 0;
	}
	/* precision: finer for long messages, where the table is cheap */
	unsigned scale = n >= 1 ? bitlen((uint32_t)(n > (1u << 30) ? 1u << 30 :
	    n)) - 4 : 9;
	if (scale < 9)
		scale = 9;
	if (scale > SPLIT_MAX_SCALE)
		scale = SPLIT_MAX_SCALE;
	if (eb)	/* cnt is the context histogram */
		e = ctx_encode(raw, n, b, eb, cnt, q, cap - 1 - R);
	else if (width == 2)
		e = bs_ent_encode16(raw, n, r, cnt, 1u << b, scale, q,
		    cap - 1 - R);
	else
		e = bs_ent_encode32(raw, n, r, cnt, 1u << b, scale, q,
		    cap - 1 - R);
	if (e <= 0)
		return e;
	return (long)(1 + R) + e;
}

/*
 * The top-bmax-bits histogram of raw (cnt: 3 << bmax counts, the first
 * 2^bmax the histogram, the rest scratch) and the estimated bits of every
 * b in [bmin, bmax] (est[b]); *best and *second the two cheapest b
 * (second 0 when there is one candidate).
 */
static void
split_hist(const uint8_t *raw, size_t n, unsigned width, unsigned bmin,
    unsigned bmax, double scale, uint32_t *cnt, double *est, unsigned *best,
    unsigned *second)
{
	uint32_t *cb[2] = { cnt + (1u << bmax), cnt + (2u << bmax) };
	unsigned np = 0;

	*best = *second = 0;
	hist_top(raw, n, width, bmax, cnt, cb[0]);
	/* the present symbols as a list (counts in cb[0], symbols in cb[1]),
	 * folded one bit at a time: each b costs its present symbols, not
	 * 2^b, and gives the same estimate as bs_ent_estimate */
	for (unsigned s0 = 0; s0 < (1u << bmax); s0 += 8) {
		if (bmax >= 3 && !(ld64((uint8_t *)(cnt + s0)) | ld64((uint8_t *)(cnt + s0 + 2)) |
		    ld64((uint8_t *)(cnt + s0 + 4)) | ld64((uint8_t *)(cnt + s0 + 6))))
			continue;	/* most bins are empty */
		for (unsigned s = s0; s < s0 + 8 && s < (1u << bmax); s++) {
			cb[0][np] = cnt[s];
			cb[1][np] = s;
			np += cnt[s] != 0;
		}
	}
	for (unsigned b = bmax; b >= bmin; b--) {
		if (b < bmax) {
			unsigned k2 = 0;
			for (unsigned j = 0; j < np; j++) {
				uint32_t p = cb[1][j] >> 1;
				if (k2 && cb[1][k2 - 1] == p)
					cb[0][k2 - 1] += cb[0][j];
				else {
					cb[1][k2] = p;
					cb[0][k2++] = cb[0][j];
				}
			}
			np = k2;
		}
		est[b] = bs_ent_estimate(cb[0], np, scale) +
		    (double)n * scale * (8 * width - b);
		if (!*best || est[b] < est[*best]) {
			*second = *best;
			*best = b;
		} else if (!*second || est[b] < est[*second])
			*second = b;
	}
}

/* wide symbols only pay (and their histogram is only cheap enough) for
 * long messages */
static unsigned
split_bmax(size_t n, unsigned bmin, unsigned bmax)
{
	if (n < 65536 && bmax > 12)
		bmax = bmin > 12 ? bmin : 12;
	return bmax;
}

double
bs_split_estimate(const uint8_t *raw, size_t n, unsigned width,
    unsigned bmin, unsigned bmax, double scale)
{
	double est[SPLIT_MAX_B + 1];
	unsigned best, second;
	uint32_t *cnt;

	if ((width != 2 && width != 4) || bmin < 1 || bmax > SPLIT_MAX_B ||
	    bmin > bmax || n < 16)
		return 8.0 * width * n * scale;
	bmax = split_bmax(n, bmin, bmax);
	/* a short sample: symbols of 11 or 12 bits hardly ever win there
	 * (their tables cost more than they save), and the histogram's
	 * 2^bmax bins would cost more than the values */
	unsigned cap = n < 4096 ? 10 : n < 16384 ? 11 : bmax;
	if (bmax > cap)
		bmax = bmin > cap ? bmin : cap;
	if (!(cnt = malloc(3 * sizeof *cnt << bmax)))
		return 8.0 * width * n * scale;
	split_hist(raw, n, width, bmin, bmax, scale, cnt, est, &best, &second);
	free(cnt);
	return est[best] + 8;
}

/* hb[c << b | s] = the context histogram h (at bc bits) folded to b. */
static void
ctx_fold(const uint32_t *h, unsigned bc, unsigned b, unsigned eb,
    uint32_t *hb)
{
	for (unsigned c = 0; c < (1u << eb); c++)
		for (unsigned s = 0; s < (1u << b); s++) {
			uint32_t t = 0;
			for (unsigned k = 0; k < (1u << (bc - b)); k++)
				t += h[c << bc | ((s << (bc - b)) + k)];
			hb[c << b | s] = t;
		}
}

/* Code the section with b bits, in context mode when eb > 0: the
 * histogram is folded into tmp from cnt (top bmax bits), or from h2 (the
 * context histogram at bc bits) into h2's upper half. */
static long
split_try(const uint8_t *raw, size_t n, unsigned width, unsigned b,
    unsigned eb, const uint32_t *cnt, unsigned bmax, uint32_t *h2,
    unsigned bc, uint32_t *tmp, uint8_t *out, size_t cap)
{
	if (eb) {	/* the upper half of h2 is room for the fold */
		tmp = h2 + ((size_t)1 << (bc + eb));
		ctx_fold(h2, bc, b, eb, tmp);
	} else
		for (unsigned s = 0; s < (1u << b); s++) {
			uint32_t t = 0;
			for (unsigned k = 0; k < (1u << (bmax - b)); k++)
				t += cnt[(s << (bmax - b)) + k];
			tmp[s] = t;
		}
	return split_encode_b(raw, n, width, b, eb, tmp, out, cap);
}

long
bs_split_encode(const uint8_t *raw, size_t n, unsigned width, unsigned bmin,
    unsigned bmax, unsigned ctx, uint8_t *out, size_t cap, int level)
{
	uint32_t *cnt, *cb0;
	double est[SPLIT_MAX_B + 1];
	unsigned best = 0, second = 0;
	long r;

	if ((width != 2 && width != 4) || bmin < 1 || bmax > SPLIT_MAX_B ||
	    bmin > bmax)
		return BS_EUSAGE;
	if (n < 16)
		return 0;
	bmax = split_bmax(n, bmin, bmax);
	if (!(cnt = malloc(3 * sizeof *cnt << bmax)))
		return BS_ENOMEM;
	split_hist(raw, n, width, bmin, bmax, 1.0, cnt, est, &best, &second);
	cb0 = cnt + (1u << bmax);
	/* context mode (16-bit values; ctx = the exponent's width): the
	 * joint histogram at up to CTX_MAX_B bits, folded for every b */
	unsigned cbest = 0, bc = 0;
	double cest = 0;
	uint32_t *h2 = NULL;
	if (ctx && width == 2 && ctx <= CTX_MAX_EB && n >= 4096) {
		unsigned lo = bmin > ctx + 1 ? bmin : ctx + 1;
		/* tables of more symbols than about n / 16 do not pay */
		bc = bmax < CTX_MAX_B ? bmax : CTX_MAX_B;
		if (bc > bitlen((uint32_t)(n < (1u << 20) ? n : 1u << 20)) - 4)
			bc = bitlen((uint32_t)(n < (1u << 20) ? n : 1u << 20)) - 4;
		if (lo <= bc &&
		    (h2 = malloc(2 * sizeof *h2 << (bc + ctx)))) {
			uint32_t *hb = h2 + ((size_t)1 << (bc + ctx));
			ctx_hist(raw, n, bc, ctx, h2);
			memcpy(hb, h2, sizeof *h2 << (bc + ctx));
			for (unsigned b = bc; b >= lo; b--) {
				/* hb at b + 1 bits folded to b, in place (entry
				 * i is the sum of entries 2i and 2i + 1) */
				if (b < bc)
					for (size_t i = 0; i < ((size_t)1 << (b + ctx)); i++)
						hb[i] = hb[2 * i] + hb[2 * i + 1];
				double e = ctx_estimate(hb, b, ctx) +
				    (double)n * (16 - b) +
				    16.0 * (n % nstates(n));
				if (!cbest || e < cest) {
					cbest = b;
					cest = e;
				}
			}
		}
	}
	/* candidates by estimate; level >= 7 codes the two best and keeps
	 * the smaller */
	unsigned cand[2][2] = { { best, 0 }, { second, 0 } };
	if (cbest && cest < est[best]) {
		cand[1][0] = best;
		cand[0][0] = cbest;
		cand[0][1] = ctx;
	} else if (cbest && (!second || cest < est[second])) {
		cand[1][0] = cbest;
		cand[1][1] = ctx;
	}
	r = split_try(raw, n, width, cand[0][0], cand[0][1], cnt, bmax, h2,
	    bc, cb0, out, cap);
	if (level >= 7 && cand[1][0] && r >= 0) {
		size_t cap2 = r > 0 ? (size_t)r : cap;
		uint8_t *tmp = malloc(cap2);
		long r2;
		if (!tmp) {
			free(h2);
			free(cnt);
			return BS_ENOMEM;
		}
		r2 = split_try(raw, n, width, cand[1][0], cand[1][1], cnt,
		    bmax, h2, bc, cb0, tmp, cap2);
		if (r2 > 0 && (r == 0 || r2 < r)) {
			memcpy(out, tmp, (size_t)r2);
			r = r2;
		}
		free(tmp);
	}
	free(h2);
	free(cnt);
	return r;
}

int
bs_split_decode(const uint8_t *in, size_t in_len, size_t n, unsigned width,
    unsigned bmin, unsigned bmax, unsigned ctx, uint8_t *out)
{
	unsigned b, r, cm;
	uint32_t rmask;
	size_t R, i, bp, lim;
	const uint8_t *rp;
	uint8_t *dst;
	int e;

	if (in_len < 1 || n > (SIZE_MAX >> 6))
		return BS_ECORRUPT;
	b = in[0] & 0x7f;
	cm = in[0] & 0x80;
	if (b < bmin || b > bmax || b > SPLIT_MAX_B || 8 * width <= b)
		return BS_ECORRUPT;
	if (cm && (!ctx || ctx > CTX_MAX_EB || width != 2 || b < ctx + 1 ||
	    b > CTX_MAX_B || n < 16))
		return BS_ECORRUPT;
	r = 8 * width - b;
	rmask = (uint32_t)((1ull << r) - 1);
	R = (n * r + 7) / 8;
	if (in_len - 1 < R)
		return BS_ECORRUPT;
	rp = in + 1;
	if (cm) {
		return ctx_decode(in + 1 + R, in_len - 1 - R, n, b, ctx, rp, R,
		    out);
	}
	if (width == 2)	/* symbols and low bits in one pass */
		return dec_run(in + 1 + R, in_len - 1 - R, 1u << b, r, out, n,
		    0, rp, in + in_len, r);
	/* 32-bit values: the symbols go to the upper half of out, and the
	 * values are assembled from the front, never overtaking them */
	dst = out + 2 * n;
	e = bs_ent_decode16(in + 1 + R, in_len - 1 - R, 1u << b, 0, dst, n);
	if (e)
		return e;
	/* values whose raw bits can be read with one 8-byte load */
	lim = in_len - 1 >= 8 ? ((in_len - 1 - 8) * 8) / r : 0;
	if (lim > n)
		lim = n;
	for (i = 0, bp = 0; i < lim; i++, bp += r) {
		uint32_t bits = (uint32_t)(ld64(rp + (bp >> 3)) >>
		    (bp & 7)) & rmask;
		st32(out + 4 * i, ((uint32_t)ld16(dst + 2 * i) << r) | bits);
	}
	for (; i < n; i++, bp += r) {
		uint64_t w = 0;
		size_t o = bp >> 3;
		for (unsigned k = 0; k < 8 && o + k < R; k++)
			w |= (uint64_t)rp[o + k] << (8 * k);
		uint32_t bits = (uint32_t)(w >> (bp & 7)) & rmask;
		st32(out + 4 * i, ((uint32_t)ld16(dst + 2 * i) << r) | bits);
	}
	return 0;
}

long
bs_split16_encode(const uint8_t *raw, size_t raw_len, unsigned bmin,
    unsigned bmax, unsigned ctx, uint8_t *out, size_t cap, int level)
{
	size_t n = raw_len / 2, t = raw_len & 1;
	long r;

	if (n < 16 || cap <= t)
		return 0;
	r = bs_split_encode(raw, n, 2, bmin, bmax, ctx, out, cap - t, level);
	if (r <= 0)
		return r;
	if (t)
		out[r] = raw[raw_len - 1];
	return r + (long)t;
}

int
bs_split16_decode(const uint8_t *in, size_t in_len, size_t raw_len,
    unsigned bmin, unsigned bmax, unsigned ctx, uint8_t *out)
{
	size_t n = raw_len / 2, t = raw_len & 1;
	int e;

	if (in_len < t + 1)
		return BS_ECORRUPT;
	if ((e = bs_split_decode(in, in_len - t, n, 2, bmin, bmax, ctx, out)))
		return e;
	if (t)
		out[raw_len - 1] = in[in_len - 1];
	return 0;
}

double
bs_split16_estimate(const uint8_t *raw, size_t raw_len, unsigned bmin,
    unsigned bmax, double scale)
{
	return bs_split_estimate(raw, raw_len / 2, 2, bmin, bmax, scale) / 8 +
	    (double)(raw_len & 1) * scale;
}
