/*
 * seeds.c - write the seed corpora of the fuzz targets from valid streams
 * (built by `make fuzz` with bs-split and bs-encode from small generated
 * models):  seeds OUTDIR STREAM...  writes OUTDIR/fuzz_<target>/NNNN.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bs.h"

static const char *outdir;
static unsigned nseed;

static void
seed(const char *target, const void *a, size_t alen, const void *b, size_t blen)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", outdir, target);
	mkdir(path, 0777);
	snprintf(path, sizeof path, "%s/%s/%05u", outdir, target, nseed++);
	if (!(f = fopen(path, "wb")) || fwrite(a, 1, alen, f) != alen ||
	    (blen && fwrite(b, 1, blen, f) != blen) || fclose(f) != 0) {
		fprintf(stderr, "seeds: %s: %s\n", path, strerror(errno));
		exit(2);
	}
}

static uint8_t *
slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *p;
	long len;

	if (!f || fseek(f, 0, SEEK_END) < 0 || (len = ftell(f)) < 0) {
		fprintf(stderr, "seeds: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	rewind(f);
	p = malloc((size_t)len + 1);
	if (!p || fread(p, 1, (size_t)len, f) != (size_t)len)
		exit(2);
	fclose(f);
	*n = (size_t)len;
	return p;
}

int
main(int argc, char *argv[])
{
	if (argc < 3) {
		fprintf(stderr, "usage: seeds OUTDIR STREAM...\n");
		return 2;
	}
	outdir = argv[1];
	mkdir(outdir, 0777);
	for (int i = 2; i < argc; i++) {
		size_t n;
		uint8_t *s = slurp(argv[i], &n), opt;
		struct bs_reader *r = bs_reader_open(argv[i]);
		struct bs_frame *f;
		uint8_t *enc = malloc(BS_MAX_CHUNK + 64);
		uint64_t len8 = n;
		int rc;

		for (opt = 0; opt < 4; opt++)
			seed("fuzz_reader", &opt, 1, s, n);
		seed("fuzz_index", &len8, 8, s, n);
		while ((rc = bs_reader_next(r, &f)) == 0) {
			const struct bs_tensor_info *t = bs_reader_tensor(r);
			if (f->type == BS_F_FILE && f->payload_len > 8) {
				uint8_t hdr[5] = { 1, 0, 0, 0, 0 };
				const struct bs_st *st = bs_reader_st(r);
				uint32_t dl = st ? (uint32_t)st->data_len : 0;
				memcpy(hdr + 1, &dl, 4);
				seed("fuzz_safetensors", hdr, 5, f->payload + 8, f->payload_len - 8);
				hdr[0] = 0;
				seed("fuzz_safetensors", hdr, 5, f->payload + 8, f->payload_len - 8);
			}
			if (f->type == BS_F_INDEX) {
				len8 = f->offset + f->size + BS_FOOTER_SIZE;
				seed("fuzz_index", &len8, 8, f->payload, f->payload_len);
			}
			if (f->type == BS_F_CHUNK && t) {
				const struct bs_chunk_info *c = &f->u.chunk;
				uint8_t hdr[5] = { c->codec, t->dtype, (uint8_t)c->raw_len,
				    (uint8_t)(c->raw_len >> 8), (uint8_t)(c->raw_len >> 16) };
				seed("fuzz_codec", hdr, 5, f->payload, f->payload_len);
				if (c->codec == BS_C_NONE) {
					/* the raw bytes: round trips, and a payload of every codec */
					uint8_t rt[2] = { (uint8_t)(t->dtype - 1), 2 };
					size_t k = c->raw_len < 65536 ? c->raw_len : 65536;
					seed("fuzz_codec_roundtrip", rt, 2, f->payload, k);
					for (int j = 0; bs_codecs[j]; j++) {
						const struct bs_codec *cc = bs_codecs[j];
						long len;
						if (!cc->accepts(t->dtype))
							continue;
						len = cc->encode(t->dtype, f->payload, c->raw_len, enc, c->raw_len + 64, 3);
						if (len <= 0)
							continue;
						hdr[0] = cc->id;
						seed("fuzz_codec", hdr, 5, enc, (size_t)len);
					}
				}
			}
			bs_frame_free(f);
		}
		if (rc < 0) {
			fprintf(stderr, "seeds: %s: %s\n", argv[i], bs_reader_errmsg(r));
			return 1;
		}
		bs_reader_close(r);
		free(enc);
		free(s);
	}
	fprintf(stderr, "seeds: %u seeds in %s\n", nseed, outdir);
	return 0;
}
