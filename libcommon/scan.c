/*
 * scan.c - empirical entropy bounds of tensors: what an order-0 coder of
 * the exponent, and a coder of (sign, exponent) with the mantissa modelled
 * given them, could reach on these values.  Counts are kept per tensor:
 * a symbol is (sign, exponent) and a context-symbol pair is
 * ((sign, exponent), mantissa or its top byte).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bs.h"

struct bs_scan {
	int dtype;
	unsigned ebits, mbits;		/* exponent bits; mantissa bits modelled */
	unsigned rest;			/* bits stored as they are in the joint bound */
	unsigned width;			/* bytes per value, 1 for plain bytes */
	uint8_t carry[4];		/* a value split across updates */
	unsigned ncarry;
	uint64_t n;
	uint64_t *se;			/* counts of (sign, exponent) */
	uint64_t *e;			/* counts of exponent */
	uint64_t *sem;			/* counts of ((sign, exponent), mantissa) */
};

struct bs_scan *
bs_scan_new(int dtype)
{
	struct bs_scan *s = calloc(1, sizeof *s);

	if (!s)
		return NULL;
	s->dtype = dtype;
	switch (dtype) {
	case BS_DT_BF16: s->ebits = 8; s->mbits = 7; s->width = 2; break;
	case BS_DT_F16: s->ebits = 5; s->mbits = 10; s->width = 2; break;
	case BS_DT_F32: s->ebits = 8; s->mbits = 8; s->rest = 15; s->width = 4; break;
	case BS_DT_F8_E4M3: s->ebits = 4; s->mbits = 3; s->width = 1; break;
	case BS_DT_F8_E5M2: s->ebits = 5; s->mbits = 2; s->width = 1; break;
	default: s->ebits = 8; s->mbits = 0; s->width = 1; break;	/* bytes */
	}
	s->se = calloc((size_t)2 << s->ebits, sizeof *s->se);
	s->e = calloc((size_t)1 << s->ebits, sizeof *s->e);
	s->sem = calloc((size_t)2 << (s->ebits + s->mbits), sizeof *s->sem);
	if (!s->se || !s->e || !s->sem) {
		bs_scan_free(s);
		return NULL;
	}
	return s;
}

void
bs_scan_free(struct bs_scan *s)
{
	if (!s)
		return;
	free(s->se);
	free(s->e);
	free(s->sem);
	free(s);
}

/* Count one value v (little-endian bits of width bytes). */
static inline void
count(struct bs_scan *s, uint32_t v)
{
	unsigned tot = s->width * 8, sign, exp, man;

	if (s->mbits == 0) {		/* plain bytes */
		s->se[v]++;
		s->e[v]++;
		s->sem[v]++;
		return;
	}
	sign = v >> (tot - 1);
	exp = (v >> (tot - 1 - s->ebits)) & ((1u << s->ebits) - 1);
	man = (v >> (tot - 1 - s->ebits - s->mbits)) & ((1u << s->mbits) - 1);
	s->e[exp]++;
	s->se[(sign << s->ebits) | exp]++;
	s->sem[(((sign << s->ebits) | exp) << s->mbits) | man]++;
}

void
bs_scan_update(struct bs_scan *s, const uint8_t *p, size_t n)
{
	while (s->ncarry && n) {
		s->carry[s->ncarry++] = *p++;
		n--;
		if (s->ncarry == s->width) {
			uint32_t v = 0;
			memcpy(&v, s->carry, s->width);
			count(s, v);
			s->n++;
			s->ncarry = 0;
		}
	}
	for (; n >= s->width; p += s->width, n -= s->width) {
		uint32_t v = 0;
		memcpy(&v, p, s->width);
		count(s, v);
		s->n++;
	}
	while (n--)
		s->carry[s->ncarry++] = *p++;
}

/* Sum of -c log2(c/total) over counts: total bits of an ideal code. */
static double
bits(const uint64_t *c, size_t k, uint64_t total)
{
	double b = 0;

	for (size_t i = 0; i < k; i++)
		if (c[i])
			b -= (double)c[i] * log2((double)c[i] / (double)total);
	return b;
}

void
bs_scan_bounds(const struct bs_scan *s, double *order0, double *joint)
{
	size_t ne = (size_t)1 << s->ebits, nse = (size_t)2 << s->ebits;
	double tail = 8.0 * s->ncarry;

	if (s->mbits == 0) {
		*order0 = *joint = bits(s->e, 256, s->n) + tail;
		return;
	}
	*order0 = bits(s->e, ne, s->n) + (double)s->n * (s->width * 8 - s->ebits) + tail;
	/* H(s,e) + H(m | s,e) = H(s,e,m) */
	*joint = bits(s->sem, nse << s->mbits, s->n) + (double)s->n * s->rest + tail;
}
