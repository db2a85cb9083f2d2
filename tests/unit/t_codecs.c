/*
 * t_codecs.c - unit tests of the float codecs (bf16, f16, f32, f8) and of
 * the delta codec (residuals of BF16 and F16 against a base): which
 * dtypes they accept, bit-exact round trips of generated edge cases (NaN
 * and Inf payloads, denormals, zeros, constants, alternating, random,
 * odd lengths, small residuals) and of every 1 MiB chunk of every real
 * bench file (and the delta codec on the residuals of the real fine-tune
 * against its base), the cap contract, and corrupted payloads (never a crash; an error or raw_len
 * bytes).  Prints TAP.  Real files are read from argv[1] or $BS_DATA
 * (default ../shared/data, relative to the repository root).
 *
 *   gcc -O2 -g -Wall -Wextra -Ilibcommon tests/unit/t_codecs.c \
 *       libcommon/codec_bf16.c libcommon/codec_f16.c libcommon/codec_f32.c \
 *       libcommon/codec_f8.c libcommon/codec_delta.c libcommon/entropy.c \
 *       -o t_codecs && ./t_codecs
 */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bs.h"

extern const struct bs_codec bs_codec_bf16, bs_codec_f16, bs_codec_f32,
    bs_codec_f8, bs_codec_delta;

static int ntest, nfail;

static void ok(int cond, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
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

static uint64_t rng = 88172645463325252ull;
static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* roughly normal, sd ~1 */
static float
gauss(void)
{
	float s = 0;
	for (int i = 0; i < 4; i++)
		s += (float)(rnd() & 0xffffff) / 16777216.0f;
	return (s - 2.0f) * 1.7f;
}

/*
 * Encode raw with c at level into a buffer of exactly cap bytes (guarded),
 * decode, compare.  Returns 1 when the contract holds; *coded gets the
 * length (0: declined).
 */
static int
roundtrip(const struct bs_codec *c, int dt, const uint8_t *raw, size_t n,
    size_t cap, int level, long *coded)
{
	uint8_t *out = malloc(cap + 64), *dec = malloc(n + 64);
	int good = 1;
	long r;

	memset(out + cap, 0xee, 64);
	r = c->encode(dt, raw, n, out, cap, level);
	*coded = r;
	if (r < 0 || (size_t)r > cap)
		good = 0;
	for (int i = 0; i < 64; i++)
		good &= out[cap + i] == 0xee;
	if (good && r > 0) {
		memset(dec + n, 0xdd, 64);
		int e = c->decode(dt, out, (size_t)r, dec, n);
		good = e == 0 && memcmp(dec, raw, n) == 0;
		for (int i = 0; i < 64; i++)
			good &= dec[n + i] == 0xdd;
	}
	free(out);
	free(dec);
	return good;
}

struct cd {
	const struct bs_codec *c;
	int dt;
	unsigned w;		/* element bytes */
};
static const struct cd cds[] = {
	{ &bs_codec_bf16, BS_DT_BF16, 2 },
	{ &bs_codec_f16, BS_DT_F16, 2 },
	{ &bs_codec_f32, BS_DT_F32, 4 },
	{ &bs_codec_f8, BS_DT_F8_E4M3, 1 },
	{ &bs_codec_f8, BS_DT_F8_E5M2, 1 },
	{ &bs_codec_f8, BS_DT_F8_E8M0, 1 },
	{ &bs_codec_delta, BS_DT_BF16, 2 },	/* after the dtypes' own */
	{ &bs_codec_delta, BS_DT_F16, 2 },
};
#define NCD (sizeof cds / sizeof cds[0])

/* Fill n bytes of pattern k for element width w; returns its name. */
static const char *
pattern(int k, uint8_t *p, size_t n, const struct cd *d)
{
	size_t i;
	switch (k) {
	case 0: memset(p, 0, n); return "all zero";
	case 1: memset(p, 0x3f, n); return "constant";
	case 2: for (i = 0; i < n; i++) p[i] = (i / d->w) & 1 ? 0x80 : 0x3f;
		return "alternating";
	case 3: for (i = 0; i < n; i++) p[i] = (uint8_t)rnd(); return "random";
	case 4:	/* NaN and Inf payloads and denormals mixed */
		for (i = 0; i + d->w <= n; i += d->w) {
			uint32_t v, r = (uint32_t)rnd();
			switch (r & 3) {
			case 0: v = 0xffffffffu; break;		/* NaN */
			case 1: v = 0x7f800000u | (r >> 9); break; /* NaN payload */
			case 2: v = 0xff800000u; break;		/* -Inf */
			default: v = r >> 12; break;		/* denormal */
			}
			if (d->w == 2)
				v = (r & 4) ? (0x7c00u | (r >> 22)) : (v >> 16);
			memcpy(p + i, &v, d->w);
		}
		for (; i < n; i++) p[i] = 0x7f;
		return "nan/inf/denormal";
	case 5:	/* weight-like */
		for (i = 0; i + d->w <= n; i += d->w) {
			float f = gauss() * 0.02f;
			uint32_t v;
			memcpy(&v, &f, 4);
			if (d->dt == BS_DT_BF16) v >>= 16;
			else if (d->dt == BS_DT_F16) {
				/* crude half: sign, exponent clamp, mantissa */
				uint32_t s = (v >> 16) & 0x8000;
				int e = (int)((v >> 23) & 0xff) - 127 + 15;
				v = e <= 0 ? s : s | (uint32_t)(e > 30 ? 30 : e) << 10 |
				    ((v >> 13) & 0x3ff);
			} else if (d->w == 1) v = (v >> 24) ^ (v >> 20);
			memcpy(p + i, &v, d->w);
		}
		for (; i < n; i++) p[i] = 0x11;
		return "weight-like";
	case 6:	/* one value repeated with rare others */
		for (i = 0; i < n; i++) p[i] = (i % 997) == 5 ? 0x42 : 0xbc;
		return "mostly one value";
	case 7:	/* bf16 widened to f32 (low halves zero) */
		for (i = 0; i < n; i++)
			p[i] = (i % 4) < 2 && d->w == 4 ? 0 : (uint8_t)(0x3c ^ (rnd() & 0x83));
		return "widened bf16";
	case 8:	/* residuals: mostly zero, small differences of both signs,
		 * some XOR-like patterns and the odd large one */
		for (i = 0; i + d->w <= n; i += d->w) {
			uint32_t r = (uint32_t)rnd(), v;
			switch (r & 7) {
			case 0: case 1: case 2: v = 0; break;
			case 3: case 4: v = (r >> 8) & 63; break;
			case 5: v = -((r >> 8) & 31); break;
			case 6: v = (r >> 8) & 0x8003; break;
			default: v = r >> 16; break;
			}
			memcpy(p + i, &v, d->w);
		}
		for (; i < n; i++) p[i] = 0x01;
		return "small residuals";
	}
	return NULL;
}

static const char *
dname(int dt)
{
	switch (dt) {
	case BS_DT_BF16: return "BF16"; case BS_DT_F16: return "F16";
	case BS_DT_F32: return "F32"; case BS_DT_F8_E4M3: return "F8_E4M3";
	case BS_DT_F8_E5M2: return "F8_E5M2"; case BS_DT_F8_E8M0: return "F8_E8M0";
	}
	return "?";
}

static int
dtype_of(const char *s, size_t n)
{
	for (size_t i = 0; i < NCD; i++)
		if (strlen(dname(cds[i].dt)) == n && !memcmp(dname(cds[i].dt), s, n))
			return (int)i;
	return -1;
}

/* Corrupt the coded form of raw in many ways; count crashes (none can be
 * counted: a crash is a crash) and wrong return values. */
static int
corrupt(const struct cd *d, const uint8_t *raw, size_t n, int trials)
{
	uint8_t *out = malloc(n + 64), *bad = malloc(n + 64),
	    *dec = malloc(n + 64);
	long r = d->c->encode(d->dt, raw, n, out, n, 3);
	int fine = 1;

	if (r <= 0) {
		free(out); free(bad); free(dec);
		return r == 0;
	}
	for (int t = 0; t < trials; t++) {
		size_t len = (size_t)r;
		memcpy(bad, out, (size_t)r);
		switch (t % 4) {
		case 0: bad[rnd() % len] ^= (uint8_t)(1u << (rnd() & 7)); break;
		case 1: len = rnd() % len; break;
		case 2: for (size_t i = 0; i < len; i++) bad[i] = (uint8_t)rnd();
			break;
		case 3: bad[rnd() % len] = (uint8_t)rnd();
			bad[rnd() % len] = (uint8_t)rnd();
			if (t & 4) len++;	/* one garbage byte more */
			break;
		}
		int e = d->c->decode(d->dt, bad, len, dec, n);
		if (e != 0 && e != BS_ECORRUPT)
			fine = 0;
		/* and a wrong raw_len */
		e = d->c->decode(d->dt, out, (size_t)r, dec, n - 1 - (t & 3) % n);
		if (e != 0 && e != BS_ECORRUPT)
			fine = 0;
	}
	free(out); free(bad); free(dec);
	return fine;
}

static int
file_tests(const char *path, int level, double *raw_total, double *coded_total)
{
	FILE *f = fopen(path, "rb");
	int good = 1;
	if (!f)
		return 0;
	fseek(f, 0, SEEK_END);
	long sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *buf = malloc((size_t)sz + 1);
	if (fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
		fclose(f);
		free(buf);
		return 0;
	}
	fclose(f);
	uint64_t hl;
	memcpy(&hl, buf, 8);
	if (hl > (uint64_t)sz - 8) {
		free(buf);
		return 0;
	}
	char *js = (char *)buf + 8, *je = js + hl;
	const uint8_t *data = buf + 8 + hl;
	uint64_t dlen = (uint64_t)sz - 8 - hl;
	for (char *q = js; q < je; ) {
		char *d = memmem(q, (size_t)(je - q), "\"dtype\"", 7);
		if (!d) break;
		char *ob = d; while (ob > js && *ob != '{') ob--;
		char *cb = memchr(d, '}', (size_t)(je - d));
		if (!cb) break;
		q = cb + 1;
		char *v = memchr(d + 7, '"', (size_t)(cb - d - 7));
		char *ve = v ? memchr(v + 1, '"', (size_t)(cb - v - 1)) : NULL;
		char *o = memmem(ob, (size_t)(cb - ob), "\"data_offsets\"", 14);
		if (!v || !ve || !o || !(o = memchr(o, '[', (size_t)(cb - o))))
			continue;
		unsigned long long a, b;
		if (sscanf(o, "[%llu,%llu]", &a, &b) != 2 || b < a || b > dlen)
			continue;
		int k = dtype_of(v + 1, (size_t)(ve - v - 1));
		if (k < 0)
			continue;
		for (uint64_t off = a; off < b; off += 1u << 20) {
			size_t cl = b - off < (1u << 20) ? (size_t)(b - off) : 1u << 20;
			long r;
			if (!roundtrip(cds[k].c, cds[k].dt, data + off, cl, cl,
			    level, &r)) {
				good = 0;
				fprintf(stderr, "# %s: chunk at %llu failed\n",
				    path, (unsigned long long)off);
			}
			*raw_total += (double)cl;
			*coded_total += r > 0 ? (double)r : (double)cl;
		}
	}
	free(buf);
	return good;
}

/* The whole of a file (NULL if unreadable); *n its length. */
static uint8_t *
slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long sz;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (sz = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)sz + 1)) &&
	    fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	*n = buf ? (size_t)sz : 0;
	return buf;
}

/*
 * The delta codec on the residuals of a real fine-tune against its base
 * (same safetensors layout: bs-delta pairs the same tensors), XOR and the
 * 16-bit difference, every 1 MiB chunk: -1 when the pair is not there.
 */
static int
residual_tests(const char *base, const char *ft, double *raw_total,
    double *coded_total)
{
	size_t nb, nf;
	uint8_t *b = slurp(base, &nb), *f = slurp(ft, &nf), *res;
	int good = 1;

	if (!b || !f || nb != nf || nb < 8 || memcmp(b, f, 8)) {
		free(b);
		free(f);
		return -1;
	}
	res = malloc(1 << 20);
	for (size_t off = 8; off < nb; off += 1u << 20) {
		size_t cl = nb - off < (1u << 20) ? nb - off : 1u << 20;
		for (int x = 0; x < 2; x++) {
			long r;
			for (size_t i = 0; i + 1 < cl; i += 2) {
				uint16_t u, v;
				memcpy(&u, f + off + i, 2);
				memcpy(&v, b + off + i, 2);
				u = (uint16_t)(x ? u - v : u ^ v);
				memcpy(res + i, &u, 2);
			}
			if (cl & 1)
				res[cl - 1] = f[off + cl - 1] ^ b[off + cl - 1];
			good &= roundtrip(&bs_codec_delta, BS_DT_BF16, res, cl,
			    cl, 3, &r);
			*raw_total += (double)cl;
			*coded_total += r > 0 ? (double)r : (double)cl;
		}
	}
	free(res);
	free(b);
	free(f);
	return good;
}

int
main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : getenv("BS_DATA");
	uint8_t *buf = malloc((1 << 20) + 8);
	long r;

	if (!dir)
		dir = "../shared/data";
	/* accepts */
	{
		int good = 1;
		for (int dt = 0; dt < BS_DT_COUNT; dt++) {
			good &= bs_codec_bf16.accepts(dt) == (dt == BS_DT_BF16);
			good &= bs_codec_f16.accepts(dt) == (dt == BS_DT_F16);
			good &= bs_codec_f32.accepts(dt) == (dt == BS_DT_F32);
			good &= bs_codec_f8.accepts(dt) == (dt == BS_DT_F8_E4M3 ||
			    dt == BS_DT_F8_E5M2 || dt == BS_DT_F8_E8M0);
		}
		ok(good, "accepts() takes exactly its dtypes");
		ok(bs_codec_bf16.id == BS_C_BF16 && bs_codec_f16.id == BS_C_F16 &&
		    bs_codec_f32.id == BS_C_F32 && bs_codec_f8.id == BS_C_F8,
		    "codec ids");
	}
	/* generated edge cases, every codec, many lengths */
	static const size_t lens[] = { 0, 1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 31,
	    32, 33, 63, 64, 65, 127, 129, 1000, 1001, 4095, 4097, 65535,
	    65536 + 3, 1 << 20 };
	for (size_t k = 0; k < NCD; k++)
		for (int p = 0; p < 9; p++) {
			int good = 1, shrunk = 0;
			const char *name = NULL;
			for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
				size_t n = lens[li];
				name = pattern(p, buf, n, &cds[k]);
				good &= roundtrip(cds[k].c, cds[k].dt, buf, n, n,
				    3, &r);
				shrunk += r > 0;
				/* tight caps: never more than cap */
				if (n >= 64 && r > 0) {
					long r2;
					good &= roundtrip(cds[k].c, cds[k].dt, buf,
					    n, (size_t)r - 1, 3, &r2);
					good &= r2 == 0 || r2 <= r - 1;
					good &= roundtrip(cds[k].c, cds[k].dt, buf,
					    n, (size_t)r / 2, 3, &r2);
				}
				if (n > 100000)
					good &= roundtrip(cds[k].c, cds[k].dt, buf,
					    n, n, 9, &r);
			}
			ok(good, "%s %s %s: round trips at every length (%d coded)",
			    cds[k].c->name, dname(cds[k].dt), name, shrunk);
		}
	/* compression sanity on weight-like data */
	for (size_t k = 0; k < 4; k++) {
		pattern(5, buf, 1 << 20, &cds[k]);
		roundtrip(cds[k].c, cds[k].dt, buf, 1 << 20, 1 << 20, 3, &r);
		ok(r > 0 && r < (1 << 20), "%s weight-like 1 MiB: ratio %.4f",
		    dname(cds[k].dt), r / (double)(1 << 20));
	}
	/* corruption */
	for (size_t k = 0; k < NCD; k++) {
		int good = 1;
		size_t ns[] = { 100, 4097, 70001 };
		for (int i = 0; i < 3; i++) {
			pattern(5, buf, ns[i], &cds[k]);
			good &= corrupt(&cds[k], buf, ns[i], i == 2 ? 400 : 2000);
		}
		pattern(4, buf, 5000, &cds[k]);
		good &= corrupt(&cds[k], buf, 5000, 1000);
		pattern(8, buf, 70001, &cds[k]);
		good &= corrupt(&cds[k], buf, 70001, 400);
		ok(good, "%s %s: corrupted payloads never crash, error or output",
		    cds[k].c->name, dname(cds[k].dt));
	}
	/* real files */
	{
		char path[4096];
		const char *sub[] = { "bench", "models/stories260k",
		    "models/stories260k-ft" };
		int nfiles = 0;
		for (int s = 0; s < 3; s++) {
			snprintf(path, sizeof path, "%s/%s", dir, sub[s]);
			DIR *dp = opendir(path);
			struct dirent *de;
			if (!dp)
				continue;
			while ((de = readdir(dp))) {
				size_t l = strlen(de->d_name);
				if (l < 12 || strcmp(de->d_name + l - 12, ".safetensors"))
					continue;
				snprintf(path, sizeof path, "%s/%s/%s", dir,
				    sub[s], de->d_name);
				double rt = 0, ct = 0;
				int g = file_tests(path, 3, &rt, &ct);
				ok(g, "%s/%s: every chunk round trips (ratio %.4f)",
				    sub[s], de->d_name, rt ? ct / rt : 0);
				nfiles++;
			}
			closedir(dp);
		}
		if (!nfiles)
			printf("ok %d - # SKIP no real files under %s\n", ++ntest,
			    dir);
		/* each safetensors file of the base beside the fine-tune's */
		char ft[4096];
		double rt = 0, ct = 0;
		int g = 1, pairs = 0;
		snprintf(path, sizeof path, "%s/models/stories260k", dir);
		DIR *dp = opendir(path);
		for (struct dirent *de; dp && (de = readdir(dp)); ) {
			size_t l = strlen(de->d_name);
			if (l < 12 || strcmp(de->d_name + l - 12, ".safetensors"))
				continue;
			snprintf(path, sizeof path, "%s/models/stories260k/%s",
			    dir, de->d_name);
			snprintf(ft, sizeof ft, "%s/models/stories260k-ft/%s",
			    dir, de->d_name);
			int e = residual_tests(path, ft, &rt, &ct);
			g &= e != 0;
			pairs += e >= 0;
		}
		if (dp)
			closedir(dp);
		if (!pairs)
			printf("ok %d - # SKIP no stories260k pair under %s\n",
			    ++ntest, dir);
		else
			ok(g && ct < 0.6 * rt, "delta: residuals of stories260k-ft "
			    "against stories260k round trip (%d files, ratio %.4f)",
			    pairs, ct / rt);
	}
	free(buf);
	printf("1..%d\n", ntest);
	return nfail != 0;
}
