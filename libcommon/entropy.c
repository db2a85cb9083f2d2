/*
 * entropy.c - static rANS with 8, 16 or 32 interleaved 32-bit states
 * (16-bit renormalisation, table-driven decode with 6 bytes a slot, AVX2
 * encode and decode loops chosen at run time), and the
 * split-float helper the BF16/F16/F32 codecs share.  See entropy.h for the
 * byte layouts.
 */
#include <stdlib.h>
#include <string.h>

#include "bs.h"
#include "entropy.h"

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
	return n >= BS_ENT_WIDE_N ? BS_ENT_STATES_MAX :
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

double
bs_ent_estimate(const uint32_t *cnt, unsigned nsym)
{
	uint64_t total = 0;
	double bits = 0;
	unsigned present = 0;

	for (unsigned i = 0; i < nsym; i++)
		total += cnt[i];
	if (!total)
		return 0;
	double lt = bs_ent_log2((double)total);
	for (unsigned i = 0; i < nsym; i++)
		if (cnt[i]) {
			bits += cnt[i] * (lt - bs_ent_log2((double)cnt[i]));
			present++;
		}
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

/* Write the table; returns bytes or 0 if it does not fit. */
static size_t
table_write(const uint32_t *freq, unsigned nsym, unsigned scale,
    unsigned present, uint8_t *out, size_t cap)
{
	struct bw w = { out, out + cap, 0, 0, 0 };
	unsigned prev = 0, seen = 0;

	bw_put(&w, scale - 1, 4);
	bw_gamma(&w, present);
	for (unsigned i = 0; i < nsym; i++) {
		if (!freq[i])
			continue;
		bw_gamma(&w, seen ? i - prev : i + 1);
		prev = i;
		if (++seen < present) {
			unsigned nb = bitlen(freq[i]);
			bw_put(&w, nb - 1, 4);
			if (nb > 1)
				bw_put(&w, freq[i] & ((1u << (nb - 1)) - 1),
				    nb - 1);
		}
	}
	bw_flush(&w);
	return w.over ? 0 : (size_t)(w.p - out);
}

/* Read a table into sym[]/freq[] (present entries).  Returns bytes read,
 * or 0 when corrupt. */
static size_t
table_read(const uint8_t *in, size_t len, unsigned nsym, unsigned *scale,
    unsigned *present, uint16_t *sym, uint32_t *freq)
{
	struct br r = { in, in + len, 0, 0, 0 };
	uint32_t M, sum = 0, m;
	unsigned cur = 0;

	*scale = br_get(&r, 4) + 1;
	M = 1u << *scale;
	m = br_gamma(&r);
	if (r.err || m < 1 || m > nsym || m > M)
		return 0;
	for (uint32_t k = 0; k < m; k++) {
		uint32_t gap = br_gamma(&r);
		if (r.err || gap > nsym)
			return 0;
		cur = k ? cur + gap : gap - 1;
		if (cur >= nsym)
			return 0;
		sym[k] = (uint16_t)cur;
		if (k + 1 < m) {
			unsigned nb = br_get(&r, 4) + 1;
			uint32_t f = 1u << (nb - 1);
			if (nb > 1)
				f |= br_get(&r, nb - 1);
			if (r.err || f > M - sum)
				return 0;
			freq[k] = f;
			sum += f;
		} else {
			if (sum >= M)
				return 0;
			freq[k] = M - sum;
		}
	}
	if (r.err)
		return 0;
	*present = m;
	return (size_t)(r.p - in);
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(BS_ENT_NO_SIMD)
#include <immintrin.h>
#define HAVE_AVX2_PATH 1

static int
have_avx2(void)
{
	return __builtin_cpu_supports("avx2") &&
	    __builtin_cpu_supports("bmi2") &&
	    __builtin_cpu_supports("popcnt");
}
#endif

/* ----------------------------------------------------------- encoder */

struct esym {
	uint32_t x_max;		/* renormalise when x >= x_max */
	uint32_t rcp_freq;	/* reciprocal of freq (see rans_byte.h) */
	uint32_t bias;
	uint16_t cmpl_freq;	/* M - freq */
	uint16_t rcp_shift;
};

static void
esym_init(struct esym *s, uint32_t start, uint32_t freq, unsigned scale)
{
	s->x_max = ((RANS_L >> scale) << 16) * freq;
	s->cmpl_freq = (uint16_t)((1u << scale) - freq);
	if (freq < 2) {
		s->rcp_freq = ~0u;
		s->rcp_shift = 0;
		s->bias = start + (1u << scale) - 1;
	} else {
		unsigned shift = 0;
		while (freq > (1u << shift))
			shift++;
		s->rcp_freq = (uint32_t)(((1ull << (shift + 31)) + freq - 1) /
		    freq);
		s->rcp_shift = (uint16_t)(shift - 1);
		s->bias = start;
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
 * Advances *ip and *wpp; x[0..ns) holds the states.
 */
__attribute__((target("avx2,bmi2,popcnt"))) static void
enc_groups_avx2(const struct esym *es, uint32_t *x, unsigned ns,
    const uint8_t *val, unsigned width, unsigned shift, unsigned scale,
    size_t *ip, uint8_t **wpp, const uint8_t *lo)
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
	for (; i > 0 && wp - lo >= 2 * NS + 2; i -= NS) {
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
		__m256i BI = _mm256_i32gather_epi32(e0 + 2, S, 4);
		__m256i CS = _mm256_i32gather_epi32(e0 + 3, S, 4);
		__m256i XM = _mm256_sll_epi32(_mm256_sub_epi32(mv,
		    _mm256_and_si256(CS, lo16)), xsh);
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
		q = _mm256_srlv_epi32(q, _mm256_srli_epi32(CS, 16));
		X = _mm256_add_epi32(_mm256_add_epi32(X, BI),
		    _mm256_mullo_epi32(q, _mm256_and_si256(CS, lo16)));
		xv[blk] = X;
	}
	for (unsigned k = 0; k < ns / 8; k++)
		_mm256_storeu_si256((__m256i *)(x + 8 * k), xv[k]);
	*ip = i;
	*wpp = wp;
}
#endif

#ifdef HAVE_AVX2_PATH
#define ENC_SIMD(W, V, SH) do {					\
	if ((W) && have_avx2())						\
		enc_groups_avx2(es, x, ns, (V), (W), (SH), scale, &i,	\
		    &wp, lo);						\
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
	for (unsigned k = 0; k < present; k++) {
		uint16_t v = (uint16_t)(sym[k] << shift);
		uint32_t f = freq[k] << 16;
		for (uint32_t b = 0; b < freq[k]; b++, slot++) {
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
	if (ns == 32) {
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
	else if (r <= 12 && have_avx2())
		dec_bulk16_avx2(&t, x, ns, out, n, &i, &p, end, &lp, lend, r);
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
	if (width == 2) {
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

static long
split_encode_b(const uint8_t *raw, size_t n, unsigned width, unsigned b,
    const uint32_t *cnt, uint8_t *out, size_t cap)
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
	out[0] = (uint8_t)b;
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
	if (width == 2)
		e = bs_ent_encode16(raw, n, r, cnt, 1u << b, scale, q,
		    cap - 1 - R);
	else
		e = bs_ent_encode32(raw, n, r, cnt, 1u << b, scale, q,
		    cap - 1 - R);
	if (e <= 0)
		return e;
	return (long)(1 + R) + e;
}

long
bs_split_encode(const uint8_t *raw, size_t n, unsigned width, unsigned bmin,
    unsigned bmax, uint8_t *out, size_t cap, int level)
{
	uint32_t *cnt, *cb[2];
	double est[SPLIT_MAX_B + 1];
	unsigned best = 0, second = 0;
	long r;

	if ((width != 2 && width != 4) || bmin < 1 || bmax > SPLIT_MAX_B ||
	    bmin > bmax)
		return BS_EUSAGE;
	if (n < 16)
		return 0;
	/* wide symbols only pay (and their histogram is only cheap enough)
	 * for long messages */
	if (n < 65536 && bmax > 12)
		bmax = bmin > 12 ? bmin : 12;
	if (!(cnt = malloc(3 * sizeof *cnt << bmax)))
		return BS_ENOMEM;
	cb[0] = cnt + (1u << bmax);
	cb[1] = cb[0] + (1u << bmax);
	hist_top(raw, n, width, bmax, cnt, cb[0]);
	/* the present symbols as a list (counts in cb[0], symbols in cb[1]),
	 * folded one bit at a time: each b costs its present symbols, not
	 * 2^b, and gives the same estimate as bs_ent_estimate */
	unsigned np = 0;
	for (unsigned s = 0; s < (1u << bmax); s++) {
		cb[0][np] = cnt[s];
		cb[1][np] = s;
		np += cnt[s] != 0;
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
		est[b] = bs_ent_estimate(cb[0], np) +
		    (double)n * (8 * width - b);
		if (!best || est[b] < est[best]) {
			second = best;
			best = b;
		} else if (!second || est[b] < est[second])
			second = b;
	}
	/* re-fold the histogram for the chosen b */
	for (unsigned s = 0; s < (1u << best); s++) {
		uint32_t t = 0;
		for (unsigned k = 0; k < (1u << (bmax - best)); k++)
			t += cnt[(s << (bmax - best)) + k];
		cb[0][s] = t;
	}
	r = split_encode_b(raw, n, width, best, cb[0], out, cap);
	if (level >= 7 && second && r >= 0) {
		size_t cap2 = r > 0 ? (size_t)r : cap;
		uint8_t *tmp = malloc(cap2);
		long r2;
		if (!tmp) {
			free(cnt);
			return BS_ENOMEM;
		}
		for (unsigned s = 0; s < (1u << second); s++) {
			uint32_t t = 0;
			for (unsigned k = 0; k < (1u << (bmax - second)); k++)
				t += cnt[(s << (bmax - second)) + k];
			cb[0][s] = t;
		}
		r2 = split_encode_b(raw, n, width, second, cb[0], tmp, cap2);
		if (r2 > 0 && (r == 0 || r2 < r)) {
			memcpy(out, tmp, (size_t)r2);
			r = r2;
		}
		free(tmp);
	}
	free(cnt);
	return r;
}

int
bs_split_decode(const uint8_t *in, size_t in_len, size_t n, unsigned width,
    unsigned bmin, unsigned bmax, uint8_t *out)
{
	unsigned b, r;
	uint32_t rmask;
	size_t R, i, bp, lim;
	const uint8_t *rp;
	uint8_t *dst;
	int e;

	if (in_len < 1 || n > (SIZE_MAX >> 6))
		return BS_ECORRUPT;
	b = in[0];
	if (b < bmin || b > bmax || b > SPLIT_MAX_B || 8 * width <= b)
		return BS_ECORRUPT;
	r = 8 * width - b;
	rmask = (uint32_t)((1ull << r) - 1);
	R = (n * r + 7) / 8;
	if (in_len - 1 < R)
		return BS_ECORRUPT;
	rp = in + 1;
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
    unsigned bmax, uint8_t *out, size_t cap, int level)
{
	size_t n = raw_len / 2, t = raw_len & 1;
	long r;

	if (n < 16 || cap <= t)
		return 0;
	r = bs_split_encode(raw, n, 2, bmin, bmax, out, cap - t, level);
	if (r <= 0)
		return r;
	if (t)
		out[r] = raw[raw_len - 1];
	return r + (long)t;
}

int
bs_split16_decode(const uint8_t *in, size_t in_len, size_t raw_len,
    unsigned bmin, unsigned bmax, uint8_t *out)
{
	size_t n = raw_len / 2, t = raw_len & 1;
	int e;

	if (in_len < t + 1)
		return BS_ECORRUPT;
	if ((e = bs_split_decode(in, in_len - t, n, 2, bmin, bmax, out)))
		return e;
	if (t)
		out[raw_len - 1] = in[in_len - 1];
	return 0;
}
