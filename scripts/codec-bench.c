/*
 * codec-bench.c - measure the float codecs on safetensors files.
 *
 * For each file: parse the JSON header minimally, cut every tensor into
 * 1 MiB chunks (as bs-split does), code each chunk with the codec for its
 * dtype (bf16, f16, f32, f8; zstd with -z for comparison), decode and
 * check it bit for bit, and print per tensor (-v) and per file: raw bytes,
 * coded bytes (a chunk the codec declines counts raw), the ratio, the
 * order-0 exponent bound H(e) + other bits, the joint bound
 * H(s,e) + H(m|s,e) (plug-in, per tensor), and single-thread encode and
 * decode MB/s.  Tensors of other dtypes count raw.
 *
 * Build:
 *   gcc -O2 -g -Wall -Wextra -Ilibcommon scripts/codec-bench.c \
 *       libcommon/codec_bf16.c libcommon/codec_f16.c libcommon/codec_f32.c \
 *       libcommon/codec_f8.c libcommon/entropy.c libcommon/codec_zstd.c \
 *       -lzstd -lm -o codec-bench
 * Usage: codec-bench [-v] [-z] [-l LEVEL] [-c CHUNK] [-r REPEAT] FILE...
 *   -z   also time zstd at level 3 (compress and decompress) on the same
 *        chunks
 * Times are thread CPU time, the best of REPEAT runs per chunk.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bs.h"

extern const struct bs_codec bs_codec_bf16, bs_codec_f16, bs_codec_f32,
    bs_codec_f8, bs_codec_zstd;

static double
now(void)
{
	struct timespec ts;
	/* CPU time of this thread: the machine is shared, and time spent
	 * preempted is not the codec's */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static const struct bs_codec *
codec_for(int dt)
{
	switch (dt) {
	case BS_DT_BF16: return &bs_codec_bf16;
	case BS_DT_F16: return &bs_codec_f16;
	case BS_DT_F32: return &bs_codec_f32;
	case BS_DT_F8_E4M3: case BS_DT_F8_E5M2: case BS_DT_F8_E8M0:
		return &bs_codec_f8;
	}
	return NULL;
}

static int
dtype_of(const char *s, size_t n)
{
	static const struct { const char *n; int d; } t[] = {
		{ "BF16", BS_DT_BF16 }, { "F16", BS_DT_F16 },
		{ "F32", BS_DT_F32 }, { "F8_E4M3", BS_DT_F8_E4M3 },
		{ "F8_E5M2", BS_DT_F8_E5M2 }, { "F8_E8M0", BS_DT_F8_E8M0 },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (strlen(t[i].n) == n && !memcmp(t[i].n, s, n))
			return t[i].d;
	return BS_DT_UNKNOWN;
}

static double
entropy_of(const uint64_t *c, size_t k, uint64_t tot)
{
	double h = 0;
	for (size_t i = 0; i < k; i++)
		if (c[i])
			h -= (double)c[i] * log2((double)c[i] / (double)tot);
	return h;	/* bits in total */
}

/* Bounds in bits for one tensor: *b0 = H(e) + other bits, *bj = H(s,e) +
 * H(m|s,e) on the value's top 16 bits (+ 16 raw bits for F32). */
static void
bounds(int dt, const uint8_t *p, size_t len, double *b0, double *bj)
{
	unsigned eb, mb, w;
	size_t n;

	*b0 = *bj = 8.0 * len;
	if (dt == BS_DT_BF16) { eb = 8; mb = 7; w = 2; }
	else if (dt == BS_DT_F16) { eb = 5; mb = 10; w = 2; }
	else if (dt == BS_DT_F32) { eb = 8; mb = 7; w = 4; }
	else if (codec_for(dt)) {
		uint64_t c[256] = { 0 };
		for (size_t i = 0; i < len; i++)
			c[p[i]]++;
		*b0 = *bj = entropy_of(c, 256, len);
		return;
	} else
		return;
	n = len / w;
	if (!n)
		return;
	uint64_t *full = calloc(65536, sizeof *full);
	uint64_t ce[256] = { 0 }, cse[512] = { 0 };
	for (size_t i = 0; i < n; i++) {
		uint16_t v;
		memcpy(&v, p + w * i + (w == 4 ? 2 : 0), 2);
		full[v]++;
	}
	for (unsigned v = 0; v < 65536; v++) {
		ce[(v >> mb) & ((1u << eb) - 1)] += full[v];
		cse[v >> mb] += full[v];
	}
	double he = entropy_of(ce, 1u << eb, n);
	double hse = entropy_of(cse, 1u << (eb + 1), n);
	double hsem = entropy_of(full, 65536, n);	/* H(s,e,m) */
	double extra = (w == 4 ? 16.0 : 0.0) * n + 8.0 * (len - n * w);
	*b0 = he + (1.0 + mb) * n + extra;
	*bj = hse + (hsem - hse) + extra;
	free(full);
}

struct tot {
	double raw, coded, b0, bj, zc;
	double tenc, tdec, tz, tzd;
};

static void
pr(const char *name, const struct tot *t, int z)
{
	printf("%-40.40s raw %10.0f coded %10.0f ratio %.4f  H0 %.4f joint %.4f"
	    "  enc %6.0f MB/s dec %6.0f MB/s", name, t->raw, t->coded,
	    t->coded / t->raw, t->b0 / 8 / t->raw, t->bj / 8 / t->raw,
	    t->raw / 1e6 / t->tenc, t->raw / 1e6 / t->tdec);
	if (z)
		printf("  zstd3 %.4f %6.0f MB/s dec %6.0f MB/s", t->zc / t->raw,
		    t->raw / 1e6 / t->tz, t->raw / 1e6 / t->tzd);
	printf("\n");
}

int
main(int argc, char **argv)
{
	int verbose = 0, zs = 0, level = BS_LEVEL_DEFAULT, rep = 3;
	size_t chunk = 1u << 20;
	int i, bad = 0;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-v")) verbose = 1;
		else if (!strcmp(argv[i], "-z")) zs = 1;
		else if (!strcmp(argv[i], "-l") && i + 1 < argc) level = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-c") && i + 1 < argc) chunk = strtoul(argv[++i], 0, 0);
		else if (!strcmp(argv[i], "-r") && i + 1 < argc) rep = atoi(argv[++i]);
		else { fprintf(stderr, "usage: codec-bench [-v] [-z] [-l L] [-c CHUNK] [-r REP] FILE...\n"); return 2; }
	}
	uint8_t *out = malloc(chunk + 64), *dec = malloc(chunk + 64);
	struct tot all = { 0 };
	for (; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (!f) { perror(argv[i]); return 2; }
		fseek(f, 0, SEEK_END);
		long fsz = ftell(f);
		fseek(f, 0, SEEK_SET);
		uint8_t *buf = malloc((size_t)fsz + 1);
		if (fread(buf, 1, (size_t)fsz, f) != (size_t)fsz) { perror("read"); return 2; }
		fclose(f);
		uint64_t hl;
		memcpy(&hl, buf, 8);
		if (hl > (uint64_t)fsz - 8) { fprintf(stderr, "%s: bad header\n", argv[i]); return 2; }
		char *js = (char *)buf + 8, *je = js + hl;
		uint8_t *data = buf + 8 + hl;
		struct tot ft = { 0 };
		/* each tensor object: "dtype":"X" ... "data_offsets":[a,b] */
		for (char *q = js; q < je; ) {
			char *d = memmem(q, (size_t)(je - q), "\"dtype\"", 7);
			if (!d) break;
			char *ob = d; while (ob > js && *ob != '{') ob--;
			char *cb = memchr(d, '}', (size_t)(je - d));
			if (!cb) break;
			char *nm = ob; /* name: the string before ':' before '{' */
			char *ne = ob; while (ne > js && *ne != '"') ne--;
			nm = ne - 1; while (nm > js && *nm != '"') nm--;
			char *v = memchr(d + 7, '"', (size_t)(cb - d - 7));
			char *ve = v ? memchr(v + 1, '"', (size_t)(cb - v - 1)) : NULL;
			char *o = memmem(ob, (size_t)(cb - ob), "\"data_offsets\"", 14);
			q = cb + 1;
			if (!v || !ve || !o) continue;
			int dt = dtype_of(v + 1, (size_t)(ve - v - 1));
			o = memchr(o, '[', (size_t)(cb - o));
			if (!o) continue;
			unsigned long long a, b;
			if (sscanf(o, "[%llu,%llu]", &a, &b) != 2 &&
			    sscanf(o, "[ %llu , %llu ]", &a, &b) != 2) continue;
			if (b < a || b > (uint64_t)(fsz - 8 - (long)hl)) continue;
			const uint8_t *tp = data + a;
			size_t tl = (size_t)(b - a);
			const struct bs_codec *c = codec_for(dt);
			struct tot tt = { 0 };
			tt.raw = (double)tl;
			bounds(dt, tp, tl, &tt.b0, &tt.bj);
			for (size_t off = 0; off < tl; off += chunk) {
				size_t cl = tl - off < chunk ? tl - off : chunk;
				const uint8_t *cp = tp + off;
				long r = 0;
				double best = 1e9;
				if (c) for (int k = 0; k < rep; k++) {
					double t0 = now();
					r = c->encode(dt, cp, cl, out, cl, level);
					double t1 = now() - t0;
					if (t1 < best) best = t1;
				}
				if (c) tt.tenc += best;
				if (r < 0) { fprintf(stderr, "encode error %ld\n", r); bad = 1; }
				if (r > 0) {
					best = 1e9;
					for (int k = 0; k < rep; k++) {
						memset(dec, 0xa5, cl);
						double t0 = now();
						int e = c->decode(dt, out, (size_t)r, dec, cl);
						double t1 = now() - t0;
						if (t1 < best) best = t1;
						if (e || memcmp(dec, cp, cl)) {
							fprintf(stderr, "%s: MISMATCH tensor at %llu chunk %zu (e=%d)\n", argv[i], a, off, e);
							bad = 1;
							break;
						}
					}
					tt.tdec += best;
					tt.coded += (double)r;
				} else
					tt.coded += (double)cl;
				if (zs) {
					long z = 0;
					double bz = 1e9, bd = 1e9;
					for (int k = 0; k < rep; k++) {
						double t0 = now();
						z = bs_codec_zstd.encode(dt, cp, cl, out, chunk + 64, 3);
						double t1 = now() - t0;
						if (t1 < bz) bz = t1;
					}
					tt.tz += bz;
					tt.zc += z > 0 ? (double)z : (double)cl;
					for (int k = 0; z > 0 && k < rep; k++) {
						double t0 = now();
						int e = bs_codec_zstd.decode(dt, out, (size_t)z, dec, cl);
						double t1 = now() - t0;
						if (t1 < bd) bd = t1;
						if (e) { fprintf(stderr, "zstd decode error\n"); bad = 1; }
					}
					tt.tzd += z > 0 ? bd : 0;
				}
			}
			if (verbose) {
				char name[64];
				size_t nl = (size_t)(ne - nm - 1);
				if (nl > 40) nl = 40;
				memcpy(name, nm + 1, nl); name[nl] = 0;
				printf("  %-10.*s", (int)(ve - v - 1), v + 1);
				pr(name, &tt, zs);
			}
			ft.raw += tt.raw; ft.coded += tt.coded; ft.b0 += tt.b0;
			ft.bj += tt.bj; ft.zc += tt.zc; ft.tenc += tt.tenc;
			ft.tdec += tt.tdec; ft.tz += tt.tz; ft.tzd += tt.tzd;
		}
		const char *base = strrchr(argv[i], '/');
		pr(base ? base + 1 : argv[i], &ft, zs);
		all.raw += ft.raw; all.coded += ft.coded; all.b0 += ft.b0;
		all.bj += ft.bj; all.zc += ft.zc; all.tenc += ft.tenc;
		all.tdec += ft.tdec; all.tz += ft.tz; all.tzd += ft.tzd;
		free(buf);
	}
	if (argc - 1 > 1)
		pr("TOTAL", &all, zs);
	free(out);
	free(dec);
	return bad;
}
