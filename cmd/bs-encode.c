/*
 * bs-encode - code every raw chunk of a stream with the best codec for its
 * dtype, on all cores; chunks already coded pass through untouched.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bs.h"

static long long threads, level = BS_LEVEL_DEFAULT;
static unsigned long long passed;	/* chunks coded already, counted by the workers */
static const char *output, *codec;
static int force;

static const struct bs_opt opts[] = {
	{ 'T', "threads", BS_OPT_INT, &threads, "N", "code on N threads (default: all cores)", NULL },
	{ 'l', "level", BS_OPT_INT, &level, "LEVEL", "1 fastest .. 19 smallest (default 3)", NULL },
	{ 0, "codec", BS_OPT_STR, &codec, "NAME", "use codec NAME where it applies (none, zstd, bf16, ...)", "codec" },
	{ 'o', "output", BS_OPT_STR, &output, "FILE", "write to FILE (by rename when complete) instead of stdout", "file" },
	{ 'f', "force", BS_OPT_FLAG, &force, NULL, "write to a terminal anyway", NULL },
	{ 0, NULL, 0, NULL, NULL, NULL, NULL }
};

static const struct bs_prog prog = {
	"bs-encode", "[-T N] [-l LEVEL] [--codec NAME] [-o FILE] [STREAM]",
	"Encode a raw bigsmall stream (STREAM, or stdin) to stdout.",
	opts, 0, 1
};

static void
encode_chunk(struct bs_chunk_job *j)
{
	const struct bs_frame *f = j->in;
	long n;

	if (f->u.chunk.codec != BS_C_NONE) {	/* already coded: passes through */
		__atomic_fetch_add(&passed, 1, __ATOMIC_RELAXED);
		return;
	}
	j->raw = f->payload;
	if (!(j->out = malloc(f->u.chunk.raw_len ? f->u.chunk.raw_len : 1))) {
		j->err = BS_ENOMEM;
		strcpy(j->errmsg, "out of memory");
		return;
	}
	n = bs_chunk_encode(j->dtype, f->u.chunk.transform, f->payload,
	    f->u.chunk.raw_len, j->out, (int)level, codec, &j->codec);
	j->out_len = (size_t)n;
	j->transform = f->u.chunk.transform;
}

int
main(int argc, char *argv[])
{
	struct bs_transcode_stats st;
	struct bs_err e = { 0, "" };
	struct bs_output *out;
	struct bs_reader *r;
	struct bs_writer *w;
	const char *in;
	int fd, rc;

	bs_proginit(argc, argv, "bs-encode");
	bs_parse_args(&prog, &argc, &argv);
	in = argc ? argv[0] : "-";
	if (threads < 0 || threads > 1024)
		bs_die(2, "--threads: must be between 0 (all cores) and 1024");
	if (level < 1 || level > 19)
		bs_die(2, "--level: must be between 1 and 19");
	if (codec && !bs_codec_by_name(codec))
		bs_die(2, "--codec: unknown codec '%s'", codec);
	if (!(r = bs_reader_open(in)))
		bs_die(2, "%s: %s", in, strerror(errno));
	fd = bs_out_open(output, force, &out);
	if (!(w = bs_writer_open_fd(fd, output ? output : "<stdout>")))
		bs_die(2, "out of memory");
	rc = bs_transcode(r, w, threads ? (int)threads : bs_ncpu(), encode_chunk,
	    NULL, &st, &e);
	bs_writer_free(w);
	bs_out_close(out, output, rc == 0);
	if (rc < 0)
		bs_die(bs_err_status(rc), "%s", e.msg);
	if (passed && (codec || level != BS_LEVEL_DEFAULT))
		bs_warn("%s: %llu chunks were coded already and passed through as they were: "
		    "--level and --codec apply to raw chunks (bs-decode | bs-encode codes them again)",
		    bs_reader_name(r), passed);
	bs_info("%s: %llu tensor%s and %llu blob%s, %llu raw bytes -> %llu coded bytes (%.4f)",
	    bs_reader_name(r), (unsigned long long)st.tensors, st.tensors == 1 ? "" : "s",
	    (unsigned long long)st.blobs, st.blobs == 1 ? "" : "s",
	    (unsigned long long)st.raw_bytes, (unsigned long long)st.out_bytes,
	    st.raw_bytes ? (double)st.out_bytes / st.raw_bytes : 1.0);
	bs_reader_close(r);
	return bs_finish(0);
}
