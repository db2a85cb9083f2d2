/*
 * bs-info - report what a stream holds: files, tensors, dtypes, codecs, raw
 * and coded sizes and the ratio, without decoding.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bs.h"

static int tensors, files, scan;
static int name_w = 40;		/* -t: the tensor column's width */

static const struct bs_opt opts[] = {
	{ 't', "tensors", BS_OPT_FLAG, &tensors, NULL, "one line per tensor: name, dtype, shape, sizes, ratio, codecs", NULL },
	{ 'F', "files", BS_OPT_FLAG, &files, NULL, "one line per file: path, kind, sizes, ratio", NULL },
	{ 's', "scan", BS_OPT_FLAG, &scan, NULL, "also compute the entropy bounds of every tensor (decodes)", NULL },
	{ 0, NULL, 0, NULL, NULL, NULL, NULL }
};

static const struct bs_prog prog = {
	"bs-info", "[-t] [-F] [-s] [STREAM...]",
	"Report the files, tensors, codecs and sizes of bigsmall streams (or stdin).",
	opts, 0, -1
};

struct sum {
	uint64_t raw, coded, tensors, files, chunks, members;
	uint64_t codec_raw[BS_C_MAX], codec_coded[BS_C_MAX];
	uint64_t dtype_raw[BS_DT_COUNT];
	double dtype_order0[BS_DT_COUNT], dtype_joint[BS_DT_COUNT];	/* bits */
};

static double
ratio(uint64_t coded, uint64_t raw)
{
	return raw ? (double)coded / (double)raw : 1.0;
}

static void
print_tensor(const struct bs_frame *tf, uint64_t raw, uint64_t coded, unsigned codecs,
    double order0, double joint)
{
	const struct bs_tensor_info *t = &tf->u.tensor;
	char shape[256] = "[";
	size_t n = 1;

	for (unsigned i = 0; i < t->rank && n < sizeof shape - 24; i++)
		n += (size_t)snprintf(shape + n, sizeof shape - n, "%s%llu", i ? "," : "",
		    (unsigned long long)t->shape[i]);
	snprintf(shape + n, sizeof shape - n, "]");
	char *name = bs_printable(t->name, t->name_len, 200);
	bs_put_column(name, name_w);
	free(name);
	printf(" %-8s %-16s %12llu %12llu %7.4f ",
	    bs_dtype_name(t->dtype), t->dtype == BS_DT_BYTES ? "-" : shape,
	    (unsigned long long)raw, (unsigned long long)coded, ratio(coded, raw));
	if (t->kind == BS_T_REF)
		printf("ref");
	for (int c = 0, first = 1; c < BS_C_MAX; c++)
		if (codecs & (1u << c)) {
			const struct bs_codec *k = bs_codec_by_id(c);
			printf("%s%s", first ? "" : ",", k ? k->name : "?");
			first = 0;
		}
	printf("%s", t->kind == BS_T_DELTA ? " (delta)" : "");
	if (scan && (t->dtype == BS_DT_BYTES || t->kind == BS_T_BLOB))
		printf(" bounds - -");	/* not scanned: not weights */
	else if (scan && raw)
		printf(" bounds %.4f %.4f", order0 / 8 / raw, joint / 8 / raw);
	printf("\n");
}

/* -t: a column as wide as the longest tensor name (up to 96) where the
 * stream is a file with an index to tell; 40 otherwise. */
static void
set_name_width(const char *path)
{
	struct bs_index ix = { 0 };
	struct bs_err e;
	uint64_t start;
	int fd = strcmp(path, "<stdin>") ? open(path, O_RDONLY) : -1;

	name_w = 40;
	if (fd < 0)
		return;
	if (bs_index_read_fd(fd, &ix, &start, &e) == 0)
		for (size_t i = 0; i < ix.n; i++)
			if (ix.e[i].type == BS_F_TENSOR) {
				char *p = bs_printable(ix.e[i].name, ix.e[i].name_len, 200);
				int w = bs_text_width(p);
				if (w > name_w)
					name_w = w > 96 ? 96 : w;
				free(p);
			}
	bs_index_free(&ix);
	close(fd);
}

static int
info(const char *path, struct sum *s)
{
	struct bs_reader *r;
	struct bs_frame *f, *tf = NULL, *ff = NULL;
	uint64_t traw = 0, tcoded = 0, fraw = 0, fcoded = 0;
	unsigned codecs = 0;
	struct bs_scan *sc = NULL;
	uint8_t *buf = NULL;
	double o0 = 0, jt = 0;
	int rc, bad = 0;

	if (!(r = bs_reader_open(path))) {
		bs_error("%s: %s", path, strerror(errno));
		return 2;
	}
	path = bs_reader_name(r);
	if (tensors) {
		set_name_width(path);
		printf("%-*s %-8s %-16s %12s %12s %7s %s\n", name_w, "tensor", "dtype", "shape",
		    "raw", "coded", "ratio", "codecs");
	}
	else if (files)
		printf("%-50s %-12s %12s %12s %7s\n", "file", "kind", "size", "coded", "ratio");
	while ((rc = bs_reader_next(r, &f)) == 0) {
		int keep = 0;
		switch (f->type) {
		case BS_F_STREAM:
			s->members++;
			break;
		case BS_F_FILE:
			s->files++;
			ff = f;
			keep = 1;
			fraw = fcoded = 0;
			break;
		case BS_F_TENSOR:
			tf = f;
			keep = 1;
			traw = tcoded = 0;
			codecs = 0;
			if (scan && f->u.tensor.kind != BS_T_BLOB && f->u.tensor.kind != BS_T_DELTA &&
			    !(sc = bs_scan_new(f->u.tensor.dtype)))
				bs_die(2, "out of memory");
			break;
		case BS_F_CHUNK:
			traw += f->u.chunk.raw_len;
			tcoded += f->payload_len;
			s->chunks++;
			if (sc) {
				const uint8_t *raw;
				int drc;
				if (!buf)
					buf = bs_xmalloc(BS_MAX_CHUNK);
				if (!(raw = bs_chunk_raw(f, tf->u.tensor.dtype, buf, &drc))) {
					bs_error("%s: frame %llu at offset %llu: payload does not decode", path,
					    (unsigned long long)f->number, (unsigned long long)f->offset);
					bad = 1;
					break;
				}
				bs_scan_update(sc, raw, f->u.chunk.raw_len);
			}
			if (f->u.chunk.codec < BS_C_MAX) {
				codecs |= 1u << f->u.chunk.codec;
				s->codec_raw[f->u.chunk.codec] += f->u.chunk.raw_len;
				s->codec_coded[f->u.chunk.codec] += f->payload_len;
			}
			break;
		case BS_F_TEND:
			o0 = jt = 0;
			if (sc) {
				bs_scan_bounds(sc, &o0, &jt);
				bs_scan_free(sc);
				sc = NULL;
				s->dtype_order0[tf->u.tensor.dtype] += o0;
				s->dtype_joint[tf->u.tensor.dtype] += jt;
			}
			if (tensors)
				print_tensor(tf, f->u.tend.size, tcoded, codecs, o0, jt);
			if (tf->u.tensor.kind != BS_T_BLOB)
				s->tensors++;
			s->raw += f->u.tend.size;
			s->coded += tcoded;
			s->dtype_raw[tf->u.tensor.dtype] += f->u.tend.size;
			fraw += f->u.tend.size;
			fcoded += tcoded;
			bs_frame_free(tf);
			tf = NULL;
			break;
		case BS_F_FEND:
			if (files) {
				/* a file reference travels as none of its bytes;
				 * with -t the line follows its tensors', marked */
				int ref = ff->u.file.kind == BS_FILE_REF;
				uint64_t coded = ref ? 0 : f->u.fend.size - fraw + fcoded;
				char *fp = bs_printable(ff->u.file.path, ff->u.file.path_len, 200);
				fputs(tensors ? "file " : "", stdout);
				bs_put_column(fp, 50);
				free(fp);
				printf(" %-12s %12llu %12llu %7.4f\n",
				    ff->u.file.kind == BS_FILE_SAFETENSORS ? "safetensors" :
				    ref ? "ref" : "blob",
				    (unsigned long long)f->u.fend.size, (unsigned long long)coded,
				    ratio(coded, f->u.fend.size));
			}
			bs_frame_free(ff);
			ff = NULL;
			break;
		}
		if (!keep)
			bs_frame_free(f);
		if (bad)
			break;
	}
	bs_frame_free(tf);
	bs_frame_free(ff);
	bs_scan_free(sc);
	free(buf);
	if (bad) {
		rc = 1;		/* reported above */
	} else if (rc < 0) {
		bs_error("%s: %s", path, bs_reader_errmsg(r));
		rc = bs_err_status(rc);
	} else {
		uint64_t stream = bs_reader_offset(r);
		printf("%s: %llu member%s, %llu file%s, %llu tensor%s, %llu chunk%s\n", path,
		    (unsigned long long)s->members, s->members == 1 ? "" : "s",
		    (unsigned long long)s->files, s->files == 1 ? "" : "s",
		    (unsigned long long)s->tensors, s->tensors == 1 ? "" : "s",
		    (unsigned long long)s->chunks, s->chunks == 1 ? "" : "s");
		printf("  raw %llu bytes, coded %llu bytes (ratio %.4f), stream %llu bytes (ratio %.4f)\n",
		    (unsigned long long)s->raw, (unsigned long long)s->coded, ratio(s->coded, s->raw),
		    (unsigned long long)stream, ratio(stream, s->raw));
		printf("  dtypes:");
		for (int d = 1; d < BS_DT_COUNT; d++)
			if (s->dtype_raw[d])
				printf(" %s %llu", bs_dtype_name(d), (unsigned long long)s->dtype_raw[d]);
		printf("\n  codecs:");
		for (int c = 0; c < BS_C_MAX; c++)
			if (s->codec_raw[c]) {
				const struct bs_codec *k = bs_codec_by_id(c);
				printf(" %s %llu->%llu (%.4f)", k ? k->name : "?",
				    (unsigned long long)s->codec_raw[c], (unsigned long long)s->codec_coded[c],
				    ratio(s->codec_coded[c], s->codec_raw[c]));
			}
		printf("\n");
		for (int d = 1; scan && d < BS_DT_COUNT; d++)
			if (s->dtype_raw[d] && d != BS_DT_BYTES)
				printf("  bounds %s: order-0 exponent %.4f, joint (sign,exponent)+mantissa %.4f\n",
				    bs_dtype_name(d), s->dtype_order0[d] / 8 / s->dtype_raw[d],
				    s->dtype_joint[d] / 8 / s->dtype_raw[d]);
		rc = 0;
	}
	bs_reader_close(r);
	return rc;
}

int
main(int argc, char *argv[])
{
	int status = 0;

	bs_proginit(argc, argv, "bs-info");
	bs_parse_args(&prog, &argc, &argv);
	if (argc == 0) {
		static char *dash[] = { "-", NULL };
		argv = dash;
		argc = 1;
	}
	for (int i = 0; i < argc; i++) {
		struct sum s;
		int rc;
		memset(&s, 0, sizeof s);
		rc = info(argv[i], &s);
		if (rc > status)
			status = rc;
	}
	return bs_finish(status);
}
