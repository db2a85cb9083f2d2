/*
 * bs-decode - decode every coded chunk of a stream back to raw bytes, on
 * all cores, checking every payload checksum and every tensor's XXH3-128.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bs.h"

static long long threads;
static const char *output;
static int force;

static const struct bs_opt opts[] = {
	{ 'T', "threads", BS_OPT_INT, &threads, "N", "decode on N threads (default: all cores)", NULL },
	{ 'o', "output", BS_OPT_STR, &output, "FILE", "write to FILE (by rename when complete) instead of stdout", "file" },
	{ 'f', "force", BS_OPT_FLAG, &force, NULL, "write to a terminal anyway", NULL },
	{ 0, NULL, 0, NULL, NULL, NULL, NULL }
};

static const struct bs_prog prog = {
	"bs-decode", "[-T N] [-o FILE] [STREAM]",
	"Decode a bigsmall stream (STREAM, or stdin) to a raw stream on stdout.",
	opts, 0, 1
};

static void
decode_chunk(struct bs_chunk_job *j)
{
	const struct bs_frame *f = j->in;
	const struct bs_chunk_info *c = &f->u.chunk;
	const struct bs_codec *codec;
	int rc;

	j->transform = c->transform;
	if (c->codec == BS_C_NONE) {
		j->raw = f->payload;	/* raw already: passes through */
		return;
	}
	if (!(j->out = malloc(c->raw_len))) {
		j->err = BS_ENOMEM;
		strcpy(j->errmsg, "out of memory");
		return;
	}
	rc = bs_chunk_decode(c->codec, j->dtype, f->payload, f->payload_len, j->out, c->raw_len);
	if (rc < 0) {
		codec = bs_codec_by_id(c->codec);
		j->err = rc;
		if (!codec)
			snprintf(j->errmsg, sizeof j->errmsg, "unknown codec %u (written by a newer version?)", c->codec);
		else
			snprintf(j->errmsg, sizeof j->errmsg, "%s payload does not decode", codec->name);
		return;
	}
	j->codec = BS_C_NONE;
	j->out_len = c->raw_len;
	j->raw = j->out;
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

	bs_proginit(argc, argv, "bs-decode");
	bs_parse_args(&prog, &argc, &argv);
	in = argc ? argv[0] : "-";
	if (threads < 0 || threads > 1024)
		bs_die(2, "--threads: must be between 0 (all cores) and 1024");
	if (!(r = bs_reader_open(in)))
		bs_die(2, "%s: %s", in, strerror(errno));
	fd = bs_out_open(output, force, &out);
	if (!(w = bs_writer_open_fd(fd, output ? output : "<stdout>")))
		bs_die(2, "out of memory");
	rc = bs_transcode(r, w, threads ? (int)threads : bs_ncpu(), decode_chunk,
	    NULL, &st, &e);
	bs_writer_free(w);
	bs_out_close(out, output, rc == 0);
	if (rc < 0)
		bs_die(bs_err_status(rc), "%s", e.msg);
	bs_reader_close(r);
	return bs_finish(0);
}
