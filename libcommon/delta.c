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
 * beyond what a residual saves.  The choice per chunk is made by the
 * candidates' estimates on a sample of the chunk, or by coding each with
 * bs_chunk_encode and keeping the smallest (bs_delta_choose).
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

static const int cand[] = { BS_X_XOR, BS_X_SUB, BS_X_NONE };
enum { NC = sizeof cand / sizeof cand[0] };

/* The thinned sample: the first THIN_BLOCK bytes of every THIN_STRIDE. */
#define THIN_BLOCK 1024
#define THIN_STRIDE 4096
#define THIN_MIN 16384	/* smaller samples are not thinned (too noisy) */

/*
 * Below BS_LEVEL_TRY_ALL the candidates are judged by the codecs' estimates
 * on a sample of the chunk (bs_sample_copy), the residuals made of the
 * sample only: sets *x and *codec to the winner, or returns 1 when the
 * dtype's codecs have no estimate (then every candidate is coded).
 *
 * A candidate is a transform and a codec: the delta codec on each residual,
 * the dtype's codec on each residual and on the values (NONE).  When the
 * sample is large enough, all are first judged on a quarter of it (thin),
 * and only those within THIN_MARGIN of the best there again on the whole
 * sample (estimates from a sample are unbiased, not exact).  A residual
 * wins ties: it says the chunk was made against the base.
 */
#define THIN_MARGIN 1.03
static int
choose_by_estimate(int dtype, const uint8_t *val, const uint8_t *base,
    uint64_t offset, size_t n, int *x, uint8_t *codec)
{
	const struct bs_codec *fc = bs_codec_for_dtype(dtype),
	    *dc = bs_codec_by_id(BS_C_DELTA);
	struct cand { int x; const struct bs_codec *c; double e; int live; } cd[2 * NC];
	unsigned nc = 0;
	size_t sn = n, room = n;
	const uint8_t *sv = val, *sb = base;
	uint8_t *own, *res, *thinbuf = NULL;
	double best = 0;

	*x = -1;
	*codec = BS_C_NONE;
	if (!fc || !fc->estimate)
		return 1;
	/* grouped by transform, so that a stage makes each residual once */
	for (size_t i = 0; i < NC; i++) {
		if (!bs_delta_transform_ok(cand[i], dtype, offset, n))
			continue;
		if (cand[i] != BS_X_NONE && dc->accepts(dtype))
			cd[nc++] = (struct cand){ cand[i], dc, 0, 1 };
		cd[nc++] = (struct cand){ cand[i], fc, 0, 1 };
	}
	if (bs_sample_stride(n) > BS_SAMPLE_BLOCK)
		room = n / 2 + BS_SAMPLE_BLOCK;
	if (!(own = malloc(3 * room)))
		return BS_ENOMEM;
	res = own + 2 * room;
	if (room < n) {
		sn = bs_sample_copy(own, val, n);
		bs_sample_copy(own + room, base, n);
		sv = own;
		sb = own + room;
	}
	/* estimate every candidate on the thinned sample; those left live
	 * are judged again on the whole sample */
	if (sn >= THIN_MIN) {
		size_t tr = sn / 4 + THIN_BLOCK, tn;
		if (!(thinbuf = malloc(3 * tr))) {
			free(own);
			return BS_ENOMEM;
		}
		uint8_t *tv = thinbuf, *tb = thinbuf + tr, *tres = thinbuf + 2 * tr;
		tn = bs_copy_blocks(tv, sv, sn, THIN_BLOCK, THIN_STRIDE);
		bs_copy_blocks(tb, sb, sn, THIN_BLOCK, THIN_STRIDE);
		int made = -1;
		for (unsigned k = 0; k < nc; k++) {
			const uint8_t *v = tv;
			if (cd[k].x != BS_X_NONE) {
				if (made != cd[k].x)
					bs_delta_forward(cd[k].x, dtype, tv, tb, tres, tn);
				made = cd[k].x;
				v = tres;
			}
			cd[k].e = bs_codec_estimate(cd[k].c, dtype, v, tn, n);
			if (!k || cd[k].e < best)
				best = cd[k].e;
		}
		unsigned left = 0, one = 0;
		for (unsigned k = 0; k < nc; k++)
			if ((cd[k].live = cd[k].e <= best * THIN_MARGIN)) {
				left++;
				one = k;
			}
		free(thinbuf);
		if (left == 1) {	/* a clear winner: no second look */
			free(own);
			*x = cd[one].x;
			*codec = best >= (double)n ? BS_C_NONE : cd[one].c->id;
			return 0;
		}
	}
	/* the contenders on the whole sample */
	int made = -1;
	for (unsigned k = 0; k < nc; k++) {
		const uint8_t *v = sv;
		if (!cd[k].live)
			continue;
		if (cd[k].x != BS_X_NONE) {
			if (made != cd[k].x)
				bs_delta_forward(cd[k].x, dtype, sv, sb, res, sn);
			made = cd[k].x;
			v = res;
		}
		double e = bs_codec_estimate(cd[k].c, dtype, v, sn, n);
		if (*x < 0 || e < best) {
			best = e;
			*x = cd[k].x;
			*codec = cd[k].c->id;
		}
	}
	free(own);
	if (best >= (double)n)
		*codec = BS_C_NONE;
	return 0;
}

int
bs_delta_decide(int dtype, const uint8_t *val, const uint8_t *base,
    uint64_t offset, size_t n, int *x, uint8_t *codec)
{
	int rc = n ? choose_by_estimate(dtype, val, base, offset, n, x, codec) : 1;

	if (rc == 0 && *x < 0)
		*x = BS_X_NONE;
	return rc;
}

/*
 * At BS_LEVEL_TRY_ALL and above, or without estimates, every candidate is
 * coded with bs_chunk_encode and the smallest kept.
 */
int
bs_delta_choose(int dtype, const uint8_t *val, const uint8_t *base,
    uint64_t offset, size_t n, int level, int force_x, int force_codec,
    uint8_t *res, uint8_t *coded, size_t *coded_len, uint8_t *codec)
{
	/* the residual goes to buf[cur], the best so far stays in buf[at] and
	 * its coded bytes in cbuf[at] */
	uint8_t *buf[2] = { res, NULL }, *cbuf[2] = { coded, NULL };
	size_t best = 0;
	int bestx = -1, cur = 0, at = 0, ret;
	uint8_t bestc = BS_C_NONE;

	*codec = BS_C_NONE;
	*coded_len = n;
	if (n == 0)
		return BS_X_XOR;
	if (level < BS_LEVEL_TRY_ALL) {
		int x = force_x;
		bestc = (uint8_t)force_codec;
		ret = 0;
		if (force_x < 0 || !bs_delta_transform_ok(force_x, dtype, offset, n))
			ret = choose_by_estimate(dtype, val, base, offset, n, &x,
			    &bestc);
		if (ret < 0)
			return ret;
		if (ret == 0) {
			if (x < 0)
				x = BS_X_NONE;
			/* the winner's residual, coded once by its codec */
			bs_delta_forward(x, dtype, val, base, res, n);
			if (bestc != BS_C_NONE) {
				long len = bs_codec_by_id(bestc)->encode(dtype,
				    res, n, coded, n, level);
				if (len == BS_ENOMEM)
					return len;
				if (len > 0 && (size_t)len < n) {
					*codec = bestc;
					*coded_len = (size_t)len;
				}
			}
			return x;
		}
	}
	ret = BS_ENOMEM;
	if (!(buf[1] = malloc(n)) || !(cbuf[1] = malloc(n)))
		goto out;
	for (size_t i = 0; i < NC; i++) {
		const uint8_t *v = val;
		uint8_t c;
		if (!bs_delta_transform_ok(cand[i], dtype, offset, n))
			continue;
		if (cand[i] != BS_X_NONE) {
			bs_delta_forward(cand[i], dtype, val, base, buf[cur], n);
			v = buf[cur];
		}
		long len = bs_chunk_encode(dtype, cand[i], v, n, cbuf[cur],
		    level, NULL, &c);
		if (len < 0) {
			ret = (int)len;
			goto out;
		}
		if (bestx < 0 || (size_t)len < best) {
			best = (size_t)len;
			bestx = cand[i];
			bestc = c;
			at = cur;
			cur ^= 1;
		}
	}
	if (bestx < 0)
		bestx = BS_X_NONE;
	if (bestx == BS_X_NONE)
		memcpy(res, val, n);
	else if (at)
		memcpy(res, buf[1], n);
	if (bestc != BS_C_NONE && best < n) {
		if (at)
			memcpy(coded, cbuf[1], best);
		*codec = bestc;
		*coded_len = best;
	}
	ret = bestx;
out:
	free(buf[1]);
	free(cbuf[1]);
	return ret;
}
