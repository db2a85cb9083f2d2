/*
 * bs-split - turn a safetensors file, a model folder, or a safetensors file
 * on standard input into a raw bigsmall stream.
 */
#include <stdlib.h>

#include "bs.h"

static long long chunk = BS_DEFAULT_CHUNK;
static const char *name, *output;
static int force;

static const struct bs_opt opts[] = {
	{ 'c', "chunk-size", BS_OPT_SIZE, &chunk, "SIZE", "cut tensors into chunks of SIZE bytes (default 1M)", NULL },
	{ 'n', "name", BS_OPT_STR, &name, "NAME", "file name for a model read from stdin (default model.safetensors)", NULL },
	{ 'o', "output", BS_OPT_STR, &output, "FILE", "write to FILE (by rename when complete) instead of stdout", "file" },
	{ 'f', "force", BS_OPT_FLAG, &force, NULL, "write to a terminal anyway", NULL },
	{ 0, NULL, 0, NULL, NULL, NULL, NULL }
};

static const struct bs_prog prog = {
	"bs-split", "[-c SIZE] [-n NAME] [-o FILE] [MODEL]",
	"Turn a safetensors file or a model folder (MODEL; - or none: a safetensors\n"
	"file on stdin) into a raw bigsmall stream on stdout.",
	opts, 0, 1
};

static void
progress(uint64_t done, void *arg)
{
	bs_progress_update(arg, done);
}

int
main(int argc, char *argv[])
{
	struct bs_split_opts so = { 0 };
	struct bs_output *out;
	struct bs_writer *w;
	struct bs_err e = { 0, "" };
	const char *src;
	int fd, rc;

	bs_proginit(argc, argv, "bs-split");
	bs_parse_args(&prog, &argc, &argv);
	src = argc ? argv[0] : "-";
	if (chunk < 4096 || chunk > BS_MAX_CHUNK || chunk % 64)
		bs_die(2, "chunk size must be a multiple of 64 between 4K and 64M");
	fd = bs_out_open(output, force, &out);
	if (!(w = bs_writer_open_fd(fd, output ? output : "<stdout>")))
		bs_die(2, "out of memory");
	so.chunk_size = (uint32_t)chunk;
	so.stdin_name = name;
	so.progress = progress;
	so.progress_arg = bs_progress_new("reading", 0);
	rc = bs_split(src, w, &so, &e);
	bs_progress_end(so.progress_arg);
	bs_writer_free(w);
	bs_out_close(out, output, rc == 0);
	if (rc < 0)
		bs_die(bs_err_status(rc), "%s", e.msg);
	return bs_finish(0);
}
