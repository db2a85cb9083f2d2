/*
 * entropy.c - static rANS with 8 interleaved 32-bit states (16-bit
 * renormalisation, table-driven decode with tables in L1), and the
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
#define NS BS_ENT_STATES

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
	 * the cost of a unit at symbol i being about cnt[i] / freq[i]. */
	while (sum > M) {
		int best = -1;
		for (unsigned k = 0; k < present2; k++) {
			unsigned i = idx[k];
			if (freq[i] <= 1)
				continue;
			/* cnt[i]/(f[i]-1) minimal: the loss of removing one */
			if (best < 0 || (uint64_t)cnt[i] * (freq[best] - 1) <
			    (uint64_t)cnt[best] * (freq[i] - 1))
				best = (int)i;
		}
		if (best < 0)
			return -1;	/* cannot happen: present <= M */
		freq[best]--;
		sum--;
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

#define ENC_PUT(xv, s, wp) do {						\
	uint32_t x_ = (xv);						\
	if (x_ >= (s)->x_max) {						\
		wp -= 2;						\
		st16(wp, (uint16_t)x_);					\
		x_ >>= 16;						\
	}								\
	uint32_t q_ = (uint32_t)(((uint64_t)x_ * (s)->rcp_freq) >> 32)	\
	    >> (s)->rcp_shift;						\
	(xv) = x_ + (s)->bias + q_ * (s)->cmpl_freq;			\
} while (0)

/* Common body: SYM(i) gives symbol i. */
#define ENCODE_BODY(SYM)						\
	uint32_t *freq_;						\
	struct esym *es;						\
	uint32_t x[NS];							\
	uint8_t *wp, *lo;						\
	size_t tlen, i, n8, total;					\
	int present;							\
	uint32_t cum = 0;						\
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
	if (!tlen || cap < tlen + 4 * NS)				\
		goto full;						\
	for (unsigned s = 0; s < nsym; s++) {				\
		if (freq_[s])						\
			esym_init(&es[s], cum, freq_[s], scale);	\
		else							\
			memset(&es[s], 0, sizeof es[s]);		\
		cum += freq_[s];					\
	}								\
	for (i = 0; i < NS; i++)					\
		x[i] = RANS_L;						\
	lo = out + tlen + 4 * NS;					\
	wp = out + cap;							\
	n8 = n & ~(size_t)(NS - 1);					\
	for (i = n; i > n8; i--) {					\
		if (wp - lo < 2)					\
			goto full;					\
		ENC_PUT(x[(i - 1) & (NS - 1)], &es[SYM(i - 1)], wp);	\
	}								\
	for (i = n8; i > 0; i -= NS) {					\
		size_t b_ = i - NS;					\
		if (wp - lo < 2 * NS)					\
			goto full;					\
		ENC_PUT(x[7], &es[SYM(b_ + 7)], wp);			\
		ENC_PUT(x[6], &es[SYM(b_ + 6)], wp);			\
		ENC_PUT(x[5], &es[SYM(b_ + 5)], wp);			\
		ENC_PUT(x[4], &es[SYM(b_ + 4)], wp);			\
		ENC_PUT(x[3], &es[SYM(b_ + 3)], wp);			\
		ENC_PUT(x[2], &es[SYM(b_ + 2)], wp);			\
		ENC_PUT(x[1], &es[SYM(b_ + 1)], wp);			\
		ENC_PUT(x[0], &es[SYM(b_ + 0)], wp);			\
	}								\
	free(es);							\
	total = (size_t)(out + cap - wp);				\
	memmove(lo, wp, total);						\
	for (i = 0; i < NS; i++)					\
		st32(out + tlen + 4 * i, x[i]);				\
	return (long)(tlen + 4 * NS + total);				\
full:									\
	free(es);							\
	return 0;

long
bs_ent_encode16(const uint8_t *val, size_t n, unsigned shift,
    const uint32_t *cnt, unsigned nsym, unsigned scale, uint8_t *out,
    size_t cap)
{
#define SYM(k) (ld16(val + 2 * (k)) >> shift)
	ENCODE_BODY(SYM)
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
	ENCODE_BODY(SYM)
#undef SYM
}

long
bs_ent_encode8(const uint8_t *sym, size_t n, const uint32_t *cnt,
    unsigned scale, uint8_t *out, size_t cap)
{
	unsigned nsym = 256;
#define SYM(k) (sym[k])
	ENCODE_BODY(SYM)
#undef SYM
}

/* ----------------------------------------------------------- decoder */

struct dent {
	uint16_t freq, bias, val, pad;
};

/* Parse table and states; build the decode table (malloc'd into *tabp).
 * Returns the offset of the words, or 0 when corrupt (or -1 on ENOMEM). */
static long
dec_setup(const uint8_t *in, size_t in_len, unsigned nsym, unsigned shift,
    struct dent **tabp, unsigned *scalep, uint32_t *x)
{
	uint16_t *sym;
	uint32_t *freq;
	unsigned scale, present;
	size_t tlen;
	struct dent *tab;
	uint32_t slot = 0;

	if (!(freq = malloc(nsym * (sizeof *freq + sizeof *sym))))
		return -1;
	sym = (uint16_t *)(freq + nsym);
	tlen = table_read(in, in_len, nsym, &scale, &present, sym, freq);
	if (!tlen || in_len - tlen < 4 * NS) {
		free(freq);
		return 0;
	}
	if (!(tab = malloc(sizeof *tab << scale))) {
		free(freq);
		return -1;
	}
	for (unsigned k = 0; k < present; k++) {
		uint16_t v = (uint16_t)(sym[k] << shift);
		for (uint32_t b = 0; b < freq[k]; b++, slot++) {
			tab[slot].freq = (uint16_t)freq[k];
			tab[slot].bias = (uint16_t)b;
			tab[slot].val = v;
			tab[slot].pad = 0;
		}
	}
	free(freq);
	for (unsigned i = 0; i < NS; i++)
		x[i] = ld32(in + tlen + 4 * i);
	*tabp = tab;
	*scalep = scale;
	return (long)(tlen + 4 * NS);
}

#define DEC_STEP(j, STORE) do {						\
	uint32_t x_ = x[j];						\
	const struct dent e_ = tab[x_ & mask];				\
	STORE(i + (j), e_.val);						\
	x_ = (uint32_t)e_.freq * (x_ >> scale) + e_.bias;		\
	uint32_t w_ = ld16(p);						\
	int r_ = x_ < RANS_L;						\
	x_ = r_ ? (x_ << 16) | w_ : x_;					\
	p += 2 * r_;							\
	x[j] = x_;							\
} while (0)

#define DECODE_BODY(STORE)						\
	struct dent *tab;						\
	unsigned scale;							\
	uint32_t x[NS], mask;						\
	const uint8_t *p, *end = in + in_len;				\
	size_t i = 0;							\
	long off;							\
	int ok = 1;							\
									\
	if (n == 0)							\
		return in_len == 0 ? 0 : BS_ECORRUPT;			\
	off = dec_setup(in, in_len, nsym, SHIFT, &tab, &scale, x);	\
	if (off < 0)							\
		return BS_ENOMEM;					\
	if (off == 0)							\
		return BS_ECORRUPT;					\
	mask = (1u << scale) - 1;					\
	p = in + off;							\
	for (; i + NS <= n && end - p >= 2 * NS; i += NS) {		\
		DEC_STEP(0, STORE); DEC_STEP(1, STORE);			\
		DEC_STEP(2, STORE); DEC_STEP(3, STORE);			\
		DEC_STEP(4, STORE); DEC_STEP(5, STORE);			\
		DEC_STEP(6, STORE); DEC_STEP(7, STORE);			\
	}								\
	for (; i < n; i++) {						\
		unsigned j = (unsigned)(i & (NS - 1));			\
		uint32_t x_ = x[j];					\
		const struct dent e_ = tab[x_ & mask];			\
		STORE(i, e_.val);					\
		x_ = (uint32_t)e_.freq * (x_ >> scale) + e_.bias;	\
		if (x_ < RANS_L) {					\
			if (end - p < 2) {				\
				ok = 0;					\
				break;					\
			}						\
			x_ = (x_ << 16) | ld16(p);			\
			p += 2;						\
		}							\
		x[j] = x_;						\
	}								\
	free(tab);							\
	for (unsigned j = 0; j < NS; j++)				\
		ok &= x[j] == RANS_L;					\
	return ok && p == end ? 0 : BS_ECORRUPT;

#define STORE16(k, v) st16(out + 2 * (k), (v))
#define STORE8(k, v) (out[k] = (uint8_t)(v))

int
bs_ent_decode16(const uint8_t *in, size_t in_len, unsigned nsym,
    unsigned shift, uint8_t *out, size_t n)
{
#define SHIFT shift
	if (nsym > BS_ENT_MAX_SYM || shift > 15 || (nsym << shift) > 65536)
		return BS_EUSAGE;
	DECODE_BODY(STORE16)
#undef SHIFT
}

int
bs_ent_decode8(const uint8_t *in, size_t in_len, unsigned nsym, uint8_t *out,
    size_t n)
{
#define SHIFT 0
	if (nsym > 256)
		return BS_EUSAGE;
	DECODE_BODY(STORE8)
#undef SHIFT
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

/* Histogram of the top bmax bits of every value. */
static void
hist_top(const uint8_t *raw, size_t n, unsigned width, unsigned bmax,
    uint32_t *cnt)
{
	unsigned sh = 8 * width - bmax;
	size_t i = 0;

	memset(cnt, 0, sizeof *cnt << bmax);
	if (width == 2) {
		/* two sub-histograms would avoid store-forwarding stalls on
		 * runs, but runs are rare in weights */
		for (; i + 4 <= n; i += 4) {
			uint64_t v = ld64(raw + 2 * i);
			cnt[(uint16_t)v >> sh]++;
			cnt[(uint16_t)(v >> 16) >> sh]++;
			cnt[(uint16_t)(v >> 32) >> sh]++;
			cnt[(uint16_t)(v >> 48) >> sh]++;
		}
	}
	for (; i < n; i++)
		cnt[ldv(raw, i, width) >> sh]++;
}

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

	if (cap < 1 + R + 4 * NS + 2)
		return 0;
	out[0] = (uint8_t)b;
	q = out + 1;
	for (i = 0; i < n; i++) {
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
	hist_top(raw, n, width, bmax, cnt);
	for (unsigned b = bmax; b >= bmin; b--) {
		uint32_t *c = cb[b & 1];
		if (b == bmax)
			memcpy(c, cnt, sizeof *c << b);
		else
			for (unsigned s = 0; s < (1u << b); s++)
				c[s] = cb[(b + 1) & 1][2 * s] +
				    cb[(b + 1) & 1][2 * s + 1];
		est[b] = bs_ent_estimate(c, 1u << b) +
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
	/* 32-bit values: the symbols go to the upper half of out, and the
	 * values are assembled from the front, never overtaking them */
	dst = width == 2 ? out : out + 2 * n;
	e = bs_ent_decode16(in + 1 + R, in_len - 1 - R, 1u << b,
	    width == 2 ? r : 0, dst, n);
	if (e)
		return e;
	/* values whose raw bits can be read with one 8-byte load */
	lim = in_len - 1 >= 8 ? ((in_len - 1 - 8) * 8) / r : 0;
	if (lim > n)
		lim = n;
	if (width == 2) {
		for (i = 0, bp = 0; i < lim; i++, bp += r) {
			uint32_t bits = (uint32_t)(ld64(rp + (bp >> 3)) >>
			    (bp & 7)) & rmask;
			st16(out + 2 * i, (uint16_t)(ld16(out + 2 * i) | bits));
		}
	} else {
		for (i = 0, bp = 0; i < lim; i++, bp += r) {
			uint32_t bits = (uint32_t)(ld64(rp + (bp >> 3)) >>
			    (bp & 7)) & rmask;
			st32(out + 4 * i, ((uint32_t)ld16(dst + 2 * i) << r) |
			    bits);
		}
	}
	for (; i < n; i++, bp += r) {
		uint64_t w = 0;
		size_t o = bp >> 3;
		for (unsigned k = 0; k < 8 && o + k < R; k++)
			w |= (uint64_t)rp[o + k] << (8 * k);
		uint32_t bits = (uint32_t)(w >> (bp & 7)) & rmask;
		if (width == 2)
			st16(out + 2 * i, (uint16_t)(ld16(out + 2 * i) | bits));
		else
			st32(out + 4 * i, ((uint32_t)ld16(dst + 2 * i) << r) |
			    bits);
	}
	return 0;
}
