/*
 * bs-split - turn a safetensors file, a model folder, an archive of one
 * (tar, zip, compressed or not), or either on standard input into a raw
 * bigsmall stream.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	"Turn a safetensors file, a model folder or an archive of one (tar, tar.gz,\n"
	"tar.zst, tar.xz, zip; MODEL; - or none: stdin) into a raw bigsmall stream.",
	opts, 0, 1,
	bs_archive_version
};

static void
progress(uint64_t done, void *arg)
{
	bs_progress_update(arg, done);
}

/* A folder goes to bs_split(); a file or stdin is an archive or one
 * safetensors file, told apart by its content. */
static int
split(const char *src, struct bs_writer *w, const struct bs_split_opts *so,
    struct bs_err *e)
{
	struct stat sb;
	const char *base;
	int fd, rc, is_archive;

	if (strcmp(src, "-") == 0)
		return bs_split_archive_fd(STDIN_FILENO, name ? name : "model.safetensors",
		    "<stdin>", BS_SIZE_UNKNOWN, w, so, &is_archive, e);
	if (stat(src, &sb) == 0 && S_ISDIR(sb.st_mode))
		return bs_split(src, w, so, e);
	if ((fd = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return bs_err_set(e, BS_EIO, "%s: %s", src, strerror(errno));
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return bs_err_set(e, BS_EIO, "%s: not a regular file or a folder", src);
	}
	base = strrchr(src, '/');
	rc = bs_split_archive_fd(fd, base ? base + 1 : src, src, (uint64_t)sb.st_size,
	    w, so, &is_archive, e);
	close(fd);
	return rc;
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
	if (name && (!*name || strlen(name) > BS_MAX_NAME))
		bs_die(2, "--name: must be 1 to %u bytes", BS_MAX_NAME);
	if (name && name[strlen(name) - 1] == '/')
		bs_die(2, "--name: a file name, not a folder: '%s'", name);
	if (chunk < 4096 || chunk > BS_MAX_CHUNK || chunk % 64)
		bs_die(2, "chunk size must be a multiple of 64 between 4K and 64M");
	fd = bs_out_open(output, force, &out);
	if (!(w = bs_writer_open_fd(fd, output ? output : "<stdout>")))
		bs_die(2, "out of memory");
	so.chunk_size = (uint32_t)chunk;
	so.stdin_name = name;
	so.progress = progress;
	so.progress_arg = bs_progress_new("reading", 0);
	rc = split(src, w, &so, &e);
	bs_progress_end(so.progress_arg);
	bs_writer_free(w);
	bs_out_close(out, output, rc == 0);
	if (rc < 0)
		bs_die(bs_err_status(rc), "%s", e.msg);
	return bs_finish(0);
}
