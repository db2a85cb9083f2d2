/*
 * delta.c - residuals of a tensor against its base, for bs-delta and
 * bs-patch (bs-stream(5), CHUNK transforms).
 *
 * XOR stores each byte XOR the base byte, which is the element XOR the base
 * element for every dtype, sub-byte ones included.  SUB stores each element
 * minus the base element modulo 2^bits, elements read as little-endian
 * integers of the dtype's width (8, 16, 32 or 64 bits); it applies only to
 * whole-byte dtypes and to chunks that start and end on an element.  NONE
 * in a DELTA tensor carries the values themselves, for chunks that changed
 * beyond what a residual saves.  The choice per chunk is made by coding
 * each candidate with bs_chunk_encode and keeping the smallest.
 */
#include <stdlib.h>
#include <string.h>

#include "bs.h"
#include "internal.h"

int
bs_delta_transform_ok(int x, int dtype, uint64_t offset, size_t n)
{
	unsigned bits = bs_dtype_bits(dtype), w = bits / 8;

	switch (x) {
	case BS_X_NONE:
	case BS_X_XOR:
		return 1;
	case BS_X_SUB:
		if (bits != 8 && bits != 16 && bits != 32 && bits != 64)
			return 0;
		return offset % w == 0 && n % w == 0;
	default:
		return 0;
	}
}

/* out = a op b per element; op is XOR, SUB (a - b) or ADD (a + b). */
enum { OP_XOR, OP_SUB, OP_ADD };

static void
combine(int op, unsigned w, const uint8_t *a, const uint8_t *b, uint8_t *out,
    size_t n)
{
	size_t i;

	if (op == OP_XOR) {
		for (i = 0; i + 8 <= n; i += 8)
			put64(out + i, get64(a + i) ^ get64(b + i));
		for (; i < n; i++)
			out[i] = a[i] ^ b[i];
		return;
	}
#define LANES(T, GET, PUT)						\
	for (i = 0; i + 8 * sizeof(T) <= n; i += 8 * sizeof(T)) {	\
		T x[8], y[8];						\
		memcpy(x, a + i, sizeof x);				\
		memcpy(y, b + i, sizeof y);				\
		for (int k = 0; k < 8; k++)	/* vectorised */	\
			x[k] = (T)(op == OP_SUB ? x[k] - y[k] : x[k] + y[k]); \
		memcpy(out + i, x, sizeof x);				\
	}								\
	for (; i < n; i += sizeof(T)) {					\
		T x = (T)GET(a + i), y = (T)GET(b + i);			\
		PUT(out + i, (T)(op == OP_SUB ? x - y : x + y));	\
	}
	switch (w) {
	case 1:
		for (i = 0; i < n; i++)
			out[i] = (uint8_t)(op == OP_SUB ? a[i] - b[i] : a[i] + b[i]);
		break;
	case 2: LANES(uint16_t, get16, put16) break;
	case 4: LANES(uint32_t, get32, put32) break;
	case 8: LANES(uint64_t, get64, put64) break;
	}
#undef LANES
}

int
bs_delta_forward(int x, int dtype, const uint8_t *val, const uint8_t *base,
    uint8_t *out, size_t n)
{
	switch (x) {
	case BS_X_NONE:
		memmove(out, val, n);
		return 0;
	case BS_X_XOR:
		combine(OP_XOR, 1, val, base, out, n);
		return 0;
	case BS_X_SUB:
		if (!bs_delta_transform_ok(x, dtype, 0, n))
			return BS_EUSAGE;
		combine(OP_SUB, bs_dtype_bits(dtype) / 8, val, base, out, n);
		return 0;
	}
	return BS_EUNSUPPORTED;
}

int
bs_delta_inverse(int x, int dtype, const uint8_t *res, const uint8_t *base,
    uint8_t *out, size_t n)
{
	switch (x) {
	case BS_X_NONE:
		memmove(out, res, n);
		return 0;
	case BS_X_XOR:
		combine(OP_XOR, 1, res, base, out, n);
		return 0;
	case BS_X_SUB:
		if (!bs_delta_transform_ok(x, dtype, 0, n))
			return BS_ECORRUPT;
		combine(OP_ADD, bs_dtype_bits(dtype) / 8, res, base, out, n);
		return 0;
	}
	return BS_EUNSUPPORTED;
}

/*
 * Which candidates are worth coding: for 16-bit float residuals, the delta
 * codec's estimate of each (one histogram pass) rules out those well behind
 * the best; the others are coded as before.  NONE is judged by the same
 * estimate, which overrates raw values (a float codec does better on them),
 * hence its wider margin.
 */
int
bs_delta_choose(int dtype, const uint8_t *val, const uint8_t *base,
    uint64_t offset, size_t n, int level, uint8_t *res, uint8_t *coded,
    size_t *coded_len, uint8_t *codec)
{
	static const int cand[] = { BS_X_XOR, BS_X_SUB, BS_X_NONE };
	enum { NC = sizeof cand / sizeof cand[0] };
	/* the residual goes to buf[cur], the best so far stays in buf[at];
	 * when coding, likewise cbuf[ccur] and cbuf[cat] */
	uint8_t *buf[2] = { res, NULL }, *cbuf[2] = { coded, NULL };
	double best = 0;
	int bestx = -1, cur = 0, at = 0, ccur = 0, cat = 0, ret = BS_ENOMEM;
	uint8_t bestc = BS_C_NONE;

	*codec = BS_C_NONE;
	*coded_len = n;
	if (n == 0)
		return BS_X_XOR;
	if (!(buf[1] = malloc(n)) || !(cbuf[1] = malloc(n)))
		goto out;
	for (size_t i = 0; i < NC; i++) {
		const uint8_t *v = val;
		double cost = -1;
		uint8_t c = BS_C_NONE;
		if (!bs_delta_transform_ok(cand[i], dtype, offset, n))
			continue;
		if (cand[i] != BS_X_NONE) {
			bs_delta_forward(cand[i], dtype, val, base, buf[cur], n);
			v = buf[cur];
		}
		int coded_here = 0;
		if (level < BS_LEVEL_TRY_ALL)
			cost = bs_chunk_estimate(dtype, cand[i], v, n, &c);
		if (cost < 0) {	/* no estimate, or asked to code */
			cost = (double)bs_chunk_encode(dtype, cand[i], v, n,
			    cbuf[ccur], level, NULL, &c);
			coded_here = 1;
		}
		/* a residual wins ties: it says the chunk was made against
		 * the base */
		if (bestx < 0 || cost < best) {
			best = cost;
			bestx = cand[i];
			bestc = c;
			if (cand[i] != BS_X_NONE) {
				at = cur;
				cur ^= 1;
			}
			if (coded_here) {
				cat = ccur;
				ccur ^= 1;
			} else
				cat = -1;	/* to be coded */
		}
	}
	if (bestx < 0)
		bestx = BS_X_NONE;
	if (bestx == BS_X_NONE)
		memcpy(res, val, n);
	else if (at)
		memcpy(res, buf[1], n);
	if (bestc != BS_C_NONE && cat < 0) {
		/* chosen by estimate: code it once, with the codec that won */
		const struct bs_codec *cc = bs_codec_by_id(bestc);
		long len = cc->encode(dtype, res, n, coded, n, level);
		if (len < 0 && len != BS_ENOMEM)
			len = 0;
		if (len < 0)
			goto out;
		if (len > 0 && (size_t)len < n) {
			*codec = bestc;
			*coded_len = (size_t)len;
		}
	} else if (bestc != BS_C_NONE && (size_t)best < n) {
		if (cat)
			memcpy(coded, cbuf[1], (size_t)best);
		*codec = bestc;
		*coded_len = (size_t)best;
	}
	ret = bestx;
out:
	free(buf[1]);
	free(cbuf[1]);
	return ret;
}
