/*
 * bigsmall - the familiar commands (compress, decompress, apply, diff,
 * verify, info, scan, repair, reshard, fetch, benchmark, migrate), each a
 * documented pipeline of the bs-* programs, which it runs, or prints with
 * -n so that it can be pasted into a shell.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/stat.h>

#include "bs.h"

/* options; each subcommand's table names the ones it takes */
static int dry_run, ecc, resume, fast, tensors, files, join, bs_shards, force;
static int list_commands;
static long long level, threads, sample, shards;
static const char *output, *delta_from, *base, *patch, *size_gb, *size_str, *against;
static struct bs_strlist auto_delta;

#define OPT_DRY { 'n', "dry-run", BS_OPT_FLAG, &dry_run, NULL, "print the pipeline instead of running it", NULL }
#define OPT_LEVEL { 'l', "level", BS_OPT_INT, &level, "LEVEL", "bs-encode level, 1 fastest .. 19 smallest", NULL }
#define OPT_THREADS { 'T', "threads", BS_OPT_INT, &threads, "N", "code on N threads (bs-encode, bs-decode)", NULL }
#define OPT_END { 0, NULL, 0, NULL, NULL, NULL, NULL }

static const struct bs_opt top_opts[] = {
	OPT_DRY,
	{ 0, "list-commands", BS_OPT_FLAG, &list_commands, NULL, NULL, NULL },
	OPT_END
};
static const struct bs_opt compress_opts[] = {
	{ 'o', "output", BS_OPT_STR, &output, "OUT", "write OUT (default: SRC with a .bs suffix)", "file" },
	{ 0, "delta-from", BS_OPT_STR, &delta_from, "BASE", "store SRC as a patch against BASE (bs-delta)", "file" },
	{ 0, "auto-delta", BS_OPT_LIST, &auto_delta, "DIR", "let bs-delta pick the base among DIR (a model, or a folder of models; repeatable)", "dir" },
	{ 0, "ecc", BS_OPT_FLAG, &ecc, NULL, "add Reed-Solomon parity (bs-ecc)", NULL },
	{ 0, "resume", BS_OPT_FLAG, &resume, NULL, "write through OUT.part, continuing one left by an interrupted run", NULL },
	{ 'f', "force", BS_OPT_FLAG, &force, NULL, "replace OUT if it exists", NULL },
	OPT_LEVEL, OPT_THREADS, OPT_DRY, OPT_END
};
static const struct bs_opt decompress_opts[] = {
	{ 'o', "output", BS_OPT_STR, &output, "DIR", "restore into DIR (default: SRC without .bs)", "dir" },
	{ 0, "base", BS_OPT_STR, &base, "BASE", "the base of a patch (bs-patch)", "file" },
	{ 'f', "force", BS_OPT_FLAG, &force, NULL, "replace files that exist in DIR", NULL },
	OPT_THREADS, OPT_DRY, OPT_END
};
static const struct bs_opt apply_opts[] = {
	{ 'o', "output", BS_OPT_STR, &output, "DIR", "restore the patched model into DIR", "dir" },
	{ 'f', "force", BS_OPT_FLAG, &force, NULL, "replace files that exist in DIR", NULL },
	OPT_THREADS, OPT_DRY, OPT_END
};
static const struct bs_opt diff_opts[] = {
	{ 0, "patch", BS_OPT_STR, &patch, "FILE", "also write the patch that turns A into B", "file" },
	{ 'f', "force", BS_OPT_FLAG, &force, NULL, "replace the patch FILE if it exists", NULL },
	OPT_LEVEL, OPT_THREADS, OPT_DRY, OPT_END
};
static const struct bs_opt verify_opts[] = {
	{ 0, "fast", BS_OPT_FLAG, &fast, NULL, "check the payload checksums only, without decoding", NULL },
	{ 0, "sample", BS_OPT_INT, &sample, "N", "decode and check N tensors spread across the stream", NULL },
	{ 'a', "against", BS_OPT_STR, &against, "PATH", "also compare with the original model", "file" },
	{ 0, "base", BS_OPT_STR, &base, "BASE", "check the tensors of a patch against BASE", "file" },
	OPT_DRY, OPT_END
};
static const struct bs_opt info_opts[] = {
	{ 't', "tensors", BS_OPT_FLAG, &tensors, NULL, "one line per tensor", NULL },
	{ 'F', "files", BS_OPT_FLAG, &files, NULL, "one line per file", NULL },
	OPT_DRY, OPT_END
};
static const struct bs_opt scan_opts[] = {
	OPT_DRY, OPT_END
};
static const struct bs_opt repair_opts[] = {
	{ 'o', "output", BS_OPT_STR, &output, "OUT", "write the repaired stream, without parity, to OUT (default: SRC, with new parity)", "file" },
	OPT_DRY, OPT_END
};
static const struct bs_opt reshard_opts[] = {
	{ 'o', "output-dir", BS_OPT_STR, &output, "DIR", "write the new shards into DIR", "dir" },
	{ 's', "size", BS_OPT_STR, &size_str, "SIZE", "shards of at most SIZE bytes (K, M, G, T suffixes, as bs-reshard), cut at layer boundaries", NULL },
	{ 0, "size-gb", BS_OPT_STR, &size_gb, "N", "shards of at most N GiB (decimals allowed), cut at layer boundaries", NULL },
	{ 0, "shards", BS_OPT_INT, &shards, "N", "N shards of about equal size", NULL },
	{ 0, "join", BS_OPT_FLAG, &join, NULL, "one safetensors file", NULL },
	{ 0, "bs", BS_OPT_FLAG, &bs_shards, NULL, "write .bs shards instead of safetensors", NULL },
	{ 'f', "force", BS_OPT_FLAG, &force, NULL, "replace files that exist in DIR", NULL },
	OPT_DRY, OPT_END
};
static const struct bs_opt fetch_opts[] = {
	{ 'o', "output", BS_OPT_STR, &output, "OUT", "write OUT (default: the last part of the URL; NAME.bs for hf:ORG/NAME)", "file" },
	{ 'C', "continue", BS_OPT_FLAG, &resume, NULL, "continue OUT.part left by an interrupted fetch (bs-fetch -C)", NULL },
	OPT_LEVEL, OPT_THREADS,
	OPT_DRY, OPT_END
};
static const struct bs_opt benchmark_opts[] = {
	OPT_LEVEL, OPT_THREADS, OPT_DRY, OPT_END
};
static const struct bs_opt migrate_opts[] = {
	{ 'o', "output", BS_OPT_STR, &output, "OUT", "write OUT instead of replacing SRC", "file" },
	OPT_LEVEL, OPT_THREADS, OPT_DRY, OPT_END
};

static int do_compress(int, char **), do_decompress(int, char **),
    do_apply(int, char **), do_diff(int, char **), do_verify(int, char **),
    do_info(int, char **), do_scan(int, char **), do_repair(int, char **),
    do_reshard(int, char **), do_fetch(int, char **),
    do_benchmark(int, char **), do_migrate(int, char **);

static const struct command {
	struct bs_prog prog;
	int (*run)(int, char **);
} commands[] = {
	{ { "bigsmall compress", "[-n] [-l LEVEL] [-T N] [--delta-from BASE] [--auto-delta DIR]... [--ecc] [--resume] [-f] [-o OUT] SRC",
	    "Compress a model (folder or safetensors file): bs-split SRC | [bs-delta --base BASE |] bs-encode [| bs-ecc] -o OUT.",
	    compress_opts, 1, 1 }, do_compress },
	{ { "bigsmall decompress", "[-n] [-T N] [--base BASE] [-f] [-o DIR] SRC.bs",
	    "Restore a model folder: bs-decode SRC.bs | [bs-patch --base BASE |] bs-reshard -o DIR.",
	    decompress_opts, 1, 1 }, do_decompress },
	{ { "bigsmall apply", "[-n] [-T N] [-f] -o DIR BASE PATCH.bs",
	    "Apply a patch to its base: bs-decode PATCH.bs | bs-patch --base BASE | bs-reshard -o DIR.",
	    apply_opts, 2, 2 }, do_apply },
	{ { "bigsmall diff", "[-n] [-l LEVEL] [-T N] [--patch FILE] [-f] A B",
	    "Say which tensors and files differ between models A and B (folders, files or .bs),\nand write the patch from A to B with --patch (bs-split B | bs-delta --base A | bs-encode).",
	    diff_opts, 2, 2 }, do_diff },
	{ { "bigsmall verify", "[-n] [--fast | --sample N] [-a PATH] [--base BASE] SRC.bs",
	    "Check every checksum of a stream: bs-verify SRC.bs.",
	    verify_opts, 1, 1 }, do_verify },
	{ { "bigsmall info", "[-n] [-t] [-F] SRC.bs...",
	    "Report what a stream holds: bs-info SRC.bs.",
	    info_opts, 1, -1 }, do_info },
	{ { "bigsmall scan", "[-n] SRC",
	    "Estimate the ratio before compressing: bs-split SRC | bs-info -s.",
	    scan_opts, 1, 1 }, do_scan },
	{ { "bigsmall repair", "[-n] [-o OUT] SRC.bs",
	    "Repair a damaged stream from its parity: bs-ecc --repair SRC.bs | bs-ecc -o SRC.bs.",
	    repair_opts, 1, 1 }, do_repair },
	{ { "bigsmall reshard", "[-n] [--size SIZE | --size-gb N | --shards N | --join] [--bs] [-f] -o DIR SRC",
	    "Write a model (folder or .bs) as new shards: [bs-split SRC | [bs-encode |]] bs-reshard --size N -o DIR.",
	    reshard_opts, 1, 1 }, do_reshard },
	{ { "bigsmall fetch", "[-n] [-C] [-l LEVEL] [-T N] [-o OUT] URL|hf:ORG/NAME",
	    "Download a file: bs-fetch -o OUT URL; or a hub model: bs-fetch hf:ORG/NAME | bs-encode -o NAME.bs.",
	    fetch_opts, 1, 1 }, do_fetch },
	{ { "bigsmall benchmark", "[-n] [-l LEVEL] [-T N] SRC",
	    "Ratio and throughput of bs-encode and bs-decode on SRC, beside zstd.",
	    benchmark_opts, 1, 1 }, do_benchmark },
	{ { "bigsmall migrate", "[-n] [-l LEVEL] [-T N] [-o OUT] SRC.bs",
	    "Re-encode a stream with the current codecs, in place: bs-decode SRC.bs | bs-encode -o SRC.bs.",
	    migrate_opts, 1, 1 }, do_migrate },
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const struct bs_prog top = {
	"bigsmall", "[-n] COMMAND [OPTIONS] ARGS",
	"Compress, restore, check and ship models: each COMMAND runs a pipeline of the\n"
	"bs-* programs (-n prints it instead).  'bigsmall COMMAND --help' for each.\n\n"
	"commands:\n"
	"  compress SRC [-o OUT]           bs-split SRC | bs-encode -o OUT\n"
	"  decompress SRC.bs [-o DIR]      bs-decode SRC.bs | bs-reshard -o DIR\n"
	"  apply BASE PATCH.bs -o DIR      bs-decode PATCH.bs | bs-patch --base BASE | bs-reshard -o DIR\n"
	"  diff A B [--patch P.bs]         what differs, tensor by tensor\n"
	"  verify SRC.bs                   bs-verify SRC.bs\n"
	"  info SRC.bs                     bs-info SRC.bs\n"
	"  scan SRC                        bs-split SRC | bs-info -s\n"
	"  repair SRC.bs [-o OUT]          bs-ecc --repair SRC.bs | bs-ecc -o SRC.bs\n"
	"  reshard SRC -o DIR              bs-reshard --size N -o DIR SRC\n"
	"  fetch URL [-o OUT]              bs-fetch -o OUT URL\n"
	"  benchmark SRC                   bs-encode and bs-decode beside zstd\n"
	"  migrate SRC.bs                  bs-decode SRC.bs | bs-encode -o SRC.bs",
	top_opts, 0, -1
};

static const char *command_name;	/* "compress", for messages */
static const char *out_file;		/* the file the pipeline makes, if any */
static struct stat out_before;		/* what was there before (st_ino 0: nothing) */

/* Note the file output of the next run, to remove it should the run fail
 * after its last stage put it in place (an earlier stage failed late). */
static void
output_file(const char *path)
{
	out_file = path;
	if (lstat(path, &out_before) < 0)
		memset(&out_before, 0, sizeof out_before);
}

static void
remove_new_output(void)
{
	struct stat sb;

	if (!out_file || strcmp(out_file, "-") == 0 || lstat(out_file, &sb) < 0 || !S_ISREG(sb.st_mode))
		return;
	if (sb.st_ino != out_before.st_ino || sb.st_dev != out_before.st_dev ||
	    sb.st_mtim.tv_sec != out_before.st_mtim.tv_sec ||
	    sb.st_mtim.tv_nsec != out_before.st_mtim.tv_nsec)
		unlink(out_file);
}
static char exe_dir[PATH_MAX];		/* the folder bigsmall runs from */

/* ------------------------------------------------------------ helpers */

static struct bs_pipeline *
pipeline(void)
{
	struct bs_pipeline *p = bs_pipeline_new();

	if (!p || (exe_dir[0] && bs_pipeline_dir(p, exe_dir) < 0))
		bs_die(2, "out of memory");
	return p;
}

/* Append a stage; words end with NULL.  bs-* stages get -q with -q. */
#define stage(p, ...) add_stage(p, __VA_ARGS__, (const char *)NULL)
static void
add_stage(struct bs_pipeline *p, const char *prog, ...)
{
	va_list ap;

	if (bs_pipeline_addl(p, prog, (const char *)NULL) < 0)
		bs_die(2, "out of memory");
	if (bs_verbose < 0 && strncmp(prog, "bs-", 3) == 0)
		bs_pipeline_arg(p, "-q");
	va_start(ap, prog);
	for (const char *a = va_arg(ap, const char *); a; a = va_arg(ap, const char *))
		if (bs_pipeline_arg(p, a) < 0)
			bs_die(2, "out of memory");
	va_end(ap);
}

static void
arg(struct bs_pipeline *p, const char *a)
{
	if (bs_pipeline_arg(p, a) < 0)
		bs_die(2, "out of memory");
}

static char *
xstrdup(const char *s)
{
	char *c = strdup(s);

	if (!c)
		bs_die(2, "out of memory");
	return c;
}

static char *
concat(const char *a, const char *b)
{
	char *c = bs_xmalloc(strlen(a) + strlen(b) + 1);

	strcpy(c, a);
	strcat(c, b);
	return c;
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Free the strings a list owns, and its array; leaves it empty. */
static void
free_list(struct bs_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free((char *)l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static char numbuf[8][32];
static const char *
num(long long v)
{
	static int i;
	char *b = numbuf[i++ % 8];

	snprintf(b, 32, "%lld", v);
	return b;
}

static void
level_threads(struct bs_pipeline *p, int with_level)
{
	if (with_level && level)
		arg(p, "-l"), arg(p, num(level));
	if (threads)
		arg(p, "-T"), arg(p, num(threads));
}

/* Is path a bigsmall stream (a file starting with a STREAM frame)? */
static int
is_stream(const char *path)
{
	uint8_t h[BS_FRAME_HEADER], type, flags;
	uint32_t meta;
	uint64_t len;
	const char *why;
	struct stat sb;
	int fd, ok = 0;

	if (stat(path, &sb) < 0 || !S_ISREG(sb.st_mode))
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	if (bs_read_full(fd, h, sizeof h) == (ssize_t)sizeof h &&
	    bs_frame_header_parse(h, &type, &flags, &meta, &len, &why) == 0)
		ok = type == BS_F_STREAM;
	close(fd);
	return ok;
}

/* SRC must be there before a pipeline starts on it. */
static void
need_input(const char *path)
{
	struct stat sb;

	if (!dry_run && strcmp(path, "-") != 0 && stat(path, &sb) < 0)
		bs_die(2, "%s: %s: %s", command_name, path, strerror(errno));
}

static int
exists(const char *path)
{
	struct stat sb;

	return lstat(path, &sb) == 0;
}

/* Every program of p must be there before anything starts. */
static void
check_programs(struct bs_pipeline *p, const char *const names[])
{
	for (size_t i = 0; names[i] && !dry_run; i++) {
		char *f = bs_pipeline_which(p, names[i]);
		if (!f)
			bs_die(2, "%s: %s is not installed (looked in %s and PATH)",
			    command_name, names[i], exe_dir[0] ? exe_dir : "PATH");
		free(f);
	}
}

/* Run p, or print it with -n.  Returns the exit status for main. */
static int
run(struct bs_pipeline *p)
{
	struct bs_err e = { 0, "" };
	int st, rc;

	if (dry_run) {
		if (bs_pipeline_print(p, stdout) < 0)
			bs_die(2, "<stdout>: %s", strerror(errno));
		bs_pipeline_free(p);
		return 0;
	}
	if (bs_verbose > 0) {
		fprintf(stderr, "%s: running: ", bs_progname);
		bs_pipeline_print(p, stderr);
	}
	fflush(stdout);
	if ((rc = bs_pipeline_run(p, &e)) == 0) {
		bs_pipeline_free(p);
		return 0;
	}
	st = bs_pipeline_exit_status(p);
	remove_new_output();
	/* the stages report their own errors; say what they cannot */
	if (st == 0 || st > 2 || rc == BS_ETRUNC || bs_verbose > 0)
		bs_warn("%s: %s", command_name, e.msg);
	bs_pipeline_free(p);
	return st == 1 ? 1 : 2;
}

static int
program_exists(const char *name)
{
	struct bs_pipeline *p = pipeline();
	char *f = bs_pipeline_which(p, name);
	int ok = f != NULL;

	free(f);
	bs_pipeline_free(p);
	return ok;
}

/* The stage that turns SRC into a raw or coded stream. */
static void
source_stage(struct bs_pipeline *p, const char *src)
{
	if (is_stream(src))
		stage(p, "bs-decode", src);
	else
		stage(p, "bs-split", src);
	if (threads && is_stream(src))	/* bs-split takes no -T */
		arg(p, "-T"), arg(p, num(threads));
}

/* ------------------------------------------------------- auto-delta */

/* A folder of models (no .safetensors of its own): its sub-folders. */
static int
is_model_collection(const char *dir, struct bs_strlist *out)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int own = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (ends_with(de->d_name, ".safetensors")) {
			own = 1;
			break;
		}
	}
	if (!own) {
		rewinddir(d);
		while ((de = readdir(d))) {
			char *sub;
			struct stat sb;
			if (de->d_name[0] == '.')
				continue;
			sub = bs_xmalloc(strlen(dir) + strlen(de->d_name) + 2);
			sprintf(sub, "%s/%s", dir, de->d_name);
			if (stat(sub, &sb) == 0 && (S_ISDIR(sb.st_mode) || ends_with(sub, ".bs") ||
			    ends_with(sub, ".safetensors"))) {
				out->v = realloc(out->v, (out->n + 1) * sizeof *out->v);
				if (!out->v)
					bs_die(2, "out of memory");
				out->v[out->n++] = sub;
			} else
				free(sub);
		}
	}
	closedir(d);
	return !own;
}

/* ------------------------------------------------------------ resume */

/*
 * Salvage the complete files of a partial stream: copy every frame of
 * each FILE..FEND that is whole (up to the first damage or the end) into
 * one new member, closed by END, written to tmp.  Fills done with the
 * paths of the files kept and ends with their FEND (size and SHA-256);
 * *delta is set when a kept file holds a delta or a reference.  Returns
 * the number of files kept.
 */
static size_t
salvage(const char *part, struct bs_strlist *done, struct bs_fend_info **ends,
    int *delta)
{
	struct bs_reader *r;
	struct bs_frame *f;
	uint64_t last_fend = 0, chunk = BS_DEFAULT_CHUNK;
	size_t nfiles = 0, kept = 0;
	int rc, seen_fend = 0;
	struct bs_output *o;
	struct bs_writer *w;

	/* pass 1: where does the last whole file end? */
	if (!(r = bs_reader_open(part)))
		bs_die(2, "%s: %s", part, strerror(errno));
	while ((rc = bs_reader_next(r, &f)) == 0) {
		if (f->type == BS_F_STREAM && f->u.stream.chunk_size)
			chunk = f->u.stream.chunk_size;
		if (f->type == BS_F_FEND) {
			last_fend = f->number;
			seen_fend = 1;
			nfiles++;
		}
		bs_frame_free(f);
	}
	bs_reader_close(r);
	if (!seen_fend)
		return 0;
	/* pass 2: copy them into one member */
	if (!(r = bs_reader_open(part)))
		bs_die(2, "%s: %s", part, strerror(errno));
	if (!(o = bs_output_open(part)) || !(w = bs_writer_open_fd(bs_output_fd(o), part)))
		bs_die(2, "%s: cannot create: %s", part, strerror(errno));
	if (bs_writer_stream(w, (uint32_t)chunk) < 0)
		bs_die(2, "%s: %s", part, bs_writer_errmsg(w));
	*ends = bs_xmalloc(nfiles * sizeof **ends);
	*delta = 0;
	while (kept < nfiles && (rc = bs_reader_next(r, &f)) == 0) {
		int t = f->type;
		if (t != BS_F_STREAM && t != BS_F_INDEX && t != BS_F_END &&
		    t != BS_F_PARITY && bs_writer_copy(w, f) < 0)
			bs_die(2, "%s: %s", part, bs_writer_errmsg(w));
		if (t == BS_F_FILE) {
			done->v = realloc(done->v, (done->n + 1) * sizeof *done->v);
			if (!done->v)
				bs_die(2, "out of memory");
			if (!(done->v[done->n++] = strndup(f->u.file.path, f->u.file.path_len)))
				bs_die(2, "out of memory");
		}
		if ((t == BS_F_FILE && f->u.file.kind == BS_FILE_REF) || (t == BS_F_TENSOR &&
		    (f->u.tensor.kind == BS_T_DELTA || f->u.tensor.kind == BS_T_REF)))
			*delta = 1;
		if (t == BS_F_FEND)
			(*ends)[kept++] = f->u.fend;
		bs_frame_free(f);
		if (f && t == BS_F_FEND && kept == nfiles)
			break;
	}
	(void)last_fend;
	bs_reader_close(r);
	if (kept != nfiles || bs_writer_end(w) < 0)
		bs_die(2, "%s: cannot salvage the complete files", part);
	bs_writer_free(w);
	if (bs_output_commit(o) < 0)
		bs_die(2, "%s: cannot write: %s", part, strerror(errno));
	return kept;
}

/*
 * The kept files of a part must be SRC's files as they are now: the same
 * size and the same SHA-256 (a part left by another model, or by an older
 * version of this one, is refused).  done/ends as salvage() fills them.
 */
static void
check_kept(const char *src, const struct bs_strlist *done,
    const struct bs_fend_info *ends)
{
	struct bs_model *m;
	struct bs_err e;

	if (bs_model_open(src, &m, &e) < 0)
		bs_die(bs_err_status(e.code), "%s", e.msg);
	for (size_t j = 0; j < done->n; j++) {
		const struct bs_model_file *f = bs_model_file_find(m, done->v[j], strlen(done->v[j]));
		uint8_t sha[32];
		if (f && f->size == ends[j].size &&
		    bs_model_file_sha256(m, f, sha, &e) < 0)
			bs_die(bs_err_status(e.code), "%s", e.msg);
		if (!f || f->size != ends[j].size || memcmp(sha, ends[j].sha256, 32) != 0)
			bs_die(1, "%s: the partial output holds %s, which %s does not have as it is (size or SHA-256); remove the .part file",
			    command_name, done->v[j], src);
	}
	bs_model_close(m);
}

static char *resume_tmp;	/* the folder of links, removed at exit */
static struct bs_strlist resume_links;	/* the links in it */

static void
remove_resume_tmp(void)
{
	if (!resume_tmp)
		return;
	for (size_t i = 0; i < resume_links.n; i++) {
		char *f = bs_xmalloc(strlen(resume_tmp) + strlen(resume_links.v[i]) + 2);
		sprintf(f, "%s/%s", resume_tmp, resume_links.v[i]);
		unlink(f);
		/* and the folders on the way, deepest first */
		for (char *s = strrchr(f, '/'); s && s > f + strlen(resume_tmp); s = strrchr(f, '/')) {
			*s = 0;
			rmdir(f);
		}
		free(f);
	}
	rmdir(resume_tmp);
	free_list(&resume_links);
	free(resume_tmp);
	resume_tmp = NULL;
}

/* A folder of links to the files of src not yet in part: what is left to
 * compress.  Returns its path, or NULL when nothing is left. */
static const char *
remaining(const char *src, const struct bs_strlist *done)
{
	const char *tmpdir = getenv("TMPDIR");
	struct bs_err e;
	char **all, *abs;
	size_t n, left = 0;

	if (bs_folder_files(src, &all, &n, &e) < 0)
		bs_die(bs_err_status(e.code), "%s", e.msg);
	for (size_t i = 0; i < n; i++) {
		int kept = 0;
		for (size_t j = 0; j < done->n && !kept; j++)
			kept = strcmp(all[i], done->v[j]) == 0;
		if (kept) {
			free(all[i]);
			all[i] = NULL;
		} else
			left++;
	}
	if (!left)
		goto out;
	if (!(abs = realpath(src, NULL)))
		bs_die(2, "%s: %s", src, strerror(errno));
	resume_tmp = bs_xmalloc(strlen(tmpdir ? tmpdir : "/tmp") + 32);
	sprintf(resume_tmp, "%s/bigsmall-resume.XXXXXX", tmpdir ? tmpdir : "/tmp");
	if (!mkdtemp(resume_tmp))
		bs_die(2, "%s: %s", resume_tmp, strerror(errno));
	atexit(remove_resume_tmp);
	for (size_t i = 0; i < n; i++) {
		char *link, *target;
		if (!all[i])
			continue;
		link = bs_xmalloc(strlen(resume_tmp) + strlen(all[i]) + 2);
		target = bs_xmalloc(strlen(abs) + strlen(all[i]) + 2);
		sprintf(link, "%s/%s", resume_tmp, all[i]);
		sprintf(target, "%s/%s", abs, all[i]);
		for (char *s = strchr(link + strlen(resume_tmp) + 1, '/'); s; s = strchr(s + 1, '/')) {
			*s = 0;
			mkdir(link, 0700);
			*s = '/';
		}
		if (symlink(target, link) < 0)
			bs_die(2, "%s: %s", link, strerror(errno));
		resume_links.v = realloc(resume_links.v, (resume_links.n + 1) * sizeof *resume_links.v);
		if (!resume_links.v)
			bs_die(2, "out of memory");
		resume_links.v[resume_links.n++] = xstrdup(all[i]);
		free(link);
		free(target);
	}
	free(abs);
out:
	bs_folder_files_free(all, n);
	return left ? resume_tmp : NULL;
}

/* ------------------------------------------------------------ commands */

static char *
default_bs_name(const char *src)
{
	char *s = xstrdup(src), *out;
	size_t n = strlen(s);

	while (n > 1 && s[n - 1] == '/')
		s[--n] = 0;
	if (ends_with(s, ".safetensors") && n > strlen(".safetensors"))
		s[n - strlen(".safetensors")] = 0;
	out = concat(s, ".bs");
	free(s);
	return out;
}

static int
do_compress(int argc, char **argv)
{
	const char *src = argv[0], *b = delta_from, *part = NULL, *left = src;
	const char *need[] = { "bs-split", "bs-encode", NULL, NULL, NULL };
	char *out;
	struct bs_pipeline *p;
	int st, k = 2;

	need_input(src);

	if (strcmp(src, "-") == 0 && !output)
		bs_die(2, "compress: SRC is standard input: name the output with -o");
	out = output ? xstrdup(output) : default_bs_name(src);
	if (delta_from && auto_delta.n)
		bs_die(2, "compress: --delta-from and --auto-delta exclude each other");
	if (resume && strcmp(src, "-") == 0)
		bs_die(2, "compress: --resume needs SRC to be a file or a folder");
	if (!dry_run && !force && exists(out) && strcmp(out, "-") != 0)
		bs_die(2, "compress: %s: already exists (-f replaces it)", out);
	if (b || auto_delta.n)
		need[k++] = "bs-delta";
	if (ecc)
		need[k++] = "bs-ecc";
	p = pipeline();
	check_programs(p, need);

	if (resume) {
		struct bs_strlist done = { 0, NULL };
		struct bs_fend_info *ends = NULL;
		struct stat sb;
		int delta = 0;
		part = concat(out, ".part");
		if (exists(part) && !dry_run) {
			size_t kept = salvage(part, &done, &ends, &delta);
			/* a patch goes on as a patch, a whole model as one */
			if (kept && delta != (b || auto_delta.n))
				bs_die(1, "compress: %s holds %s: remove it, or resume %s --delta-from",
				    part, delta ? "a patch" : "a whole model", delta ? "with" : "without");
			if (kept)
				check_kept(src, &done, ends);
			if (bs_verbose >= 0)
				fprintf(stderr, "%s: compress: %s: %zu complete file%s kept\n",
				    bs_progname, part, kept, kept == 1 ? "" : "s");
			if (!kept) {	/* nothing whole: start again */
				int fd = open(part, O_WRONLY | O_TRUNC);
				if (fd < 0)
					bs_die(2, "%s: %s", part, strerror(errno));
				close(fd);
			}
			if (kept && stat(src, &sb) == 0 && S_ISDIR(sb.st_mode))
				left = remaining(src, &done);
			else if (kept)
				left = NULL;	/* the one file is whole */
			free_list(&done);
			free(ends);
		} else if (exists(part) && dry_run)
			/* keeping its complete files is bigsmall's own work (it
			 * rewrites the .part): a pasted line starts afresh */
			printf("# %s exists: 'bigsmall compress --resume' keeps its complete files; this line compresses all again\n", part);
		else if (!dry_run) {
			/* a fresh .part: created empty, appended to below */
			int fd = open(part, O_WRONLY | O_CREAT | O_TRUNC, 0666);
			if (fd < 0)
				bs_die(2, "%s: cannot create: %s", part, strerror(errno));
			close(fd);
		}
	}
	if (left) {
		stage(p, "bs-split", left);
		if (b)
			stage(p, "bs-delta", "--base", b);
		if (auto_delta.n) {
			struct bs_strlist cand = { 0, NULL };
			char *me = realpath(src, NULL);
			stage(p, "bs-delta", "--auto");
			for (size_t i = 0; i < auto_delta.n; i++)
				if (!is_model_collection(auto_delta.v[i], &cand))
					arg(p, auto_delta.v[i]);
			for (size_t i = 0; i < cand.n; i++) {
				char *c = realpath(cand.v[i], NULL);
				if (!me || !c || strcmp(me, c) != 0)	/* not SRC itself */
					arg(p, cand.v[i]);
				free(c);
			}
			free_list(&cand);
			free(me);
		}
		if ((b || auto_delta.n) && level)
			arg(p, "-l"), arg(p, num(level));
		stage(p, "bs-encode");
		level_threads(p, 1);
		if (ecc)
			stage(p, "bs-ecc");
		if (part && dry_run)
			bs_pipeline_stdout(p, part);	/* > : afresh */
		else if (part)
			bs_pipeline_append(p, part);
		else {
			arg(p, "-o"), arg(p, out);
			output_file(out);
		}
		if (part && dry_run) {
			/* one line: the rename only after every stage succeeded */
			char *txt = NULL, *qp = bs_shell_quote(part), *qo = bs_shell_quote(out);
			size_t len = 0;
			FILE *m = open_memstream(&txt, &len);
			if (!m || !qp || !qo || bs_pipeline_print(p, m) < 0 || fclose(m) != 0)
				bs_die(2, "out of memory");
			if (len && txt[len - 1] == '\n')
				txt[--len] = 0;
			printf("(set -o pipefail; %s) && mv %s %s\n", txt, qp, qo);
			free(txt);
			free(qp);
			free(qo);
			bs_pipeline_free(p);
			st = 0;
		} else
			st = run(p);
	} else {
		bs_pipeline_free(p);
		st = 0;
	}
	if (part && st == 0 && !dry_run && rename(part, out) < 0)
		bs_die(2, "%s: cannot rename to %s: %s", part, out, strerror(errno));
	if (part && st != 0 && !dry_run)
		bs_warn("compress: what was complete stays in %s: 'bigsmall compress --resume' continues", part);
	free(out);
	free((char *)part);
	return st;
}

/* 1 when path does not exist or is an empty folder. */
static int
empty_or_absent(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int empty = 1;

	if (!d)
		return errno == ENOENT;
	while (empty && (de = readdir(d)))
		empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
	closedir(d);
	return empty;
}

static int
do_decompress(int argc, char **argv)
{
	const char *src = argv[0];
	const char *need[] = { "bs-decode", "bs-reshard", base ? "bs-patch" : NULL, NULL };
	struct bs_pipeline *p = pipeline();
	char *out;

	need_input(src);

	if (output)
		out = xstrdup(output);
	else if (ends_with(src, ".bs") && strlen(src) > 3 && src[strlen(src) - 4] != '/') {
		out = xstrdup(src);
		out[strlen(out) - 3] = 0;
	} else
		bs_die(2, "decompress: %s: no .bs suffix to take off: name the folder with -o", src);
	if (!output && !force && !dry_run && !empty_or_absent(out))
		bs_die(2, "decompress: %s exists (the folder %s was made from?): name another with -o DIR, or use -f to replace its files",
		    out, src);
	check_programs(p, need);
	stage(p, "bs-decode", src);
	level_threads(p, 0);
	if (base)
		stage(p, "bs-patch", "--base", base);
	stage(p, "bs-reshard");
	if (force)
		arg(p, "-f");
	arg(p, "-o"), arg(p, out);
	{
		int st = run(p);
		free(out);
		return st;
	}
}

static int
do_apply(int argc, char **argv)
{
	const char *need[] = { "bs-decode", "bs-patch", "bs-reshard", NULL };
	struct bs_pipeline *p = pipeline();

	need_input(argv[0]);
	need_input(argv[1]);

	if (!output)
		bs_die(2, "apply: name the output folder with -o DIR");
	check_programs(p, need);
	stage(p, "bs-decode", argv[1]);
	level_threads(p, 0);
	stage(p, "bs-patch", "--base", argv[0]);
	stage(p, "bs-reshard");
	if (force)
		arg(p, "-f");
	arg(p, "-o"), arg(p, output);
	return run(p);
}

/* A line of the diff: the entry t of model m, and in which file when
 * several files of m hold its name. */
static void
print_name(char mark, const struct bs_model *m, const struct bs_model_entry *t,
    const char *what)
{
	char *name = bs_printable(t->name, t->name_len, 200);
	const struct bs_model_file *f = bs_model_entry_file(m, t);

	printf("%c %s%s", mark, t->blob ? "file " : "", name);
	free(name);
	if (what)
		printf(" (%s)", what);
	if (f && !t->blob && bs_model_name_count(m, t->name, t->name_len, t->blob) > 1) {
		char *path = bs_printable(f->path, f->path_len, 200);
		printf(" in %s", path);
		free(path);
	}
	putchar('\n');
}

static int
do_diff(int argc, char **argv)
{
	const char *a = argv[0], *b = argv[1];
	struct bs_err e = { 0, "" };
	struct bs_model *ma, *mb;
	size_t same = 0, changed = 0, removed = 0, added = 0;
	int st = 0;

	need_input(a);
	need_input(b);

	if (patch && !dry_run && !force && exists(patch) && strcmp(patch, "-") != 0)
		bs_die(2, "diff: %s: already exists (-f replaces it)", patch);
	if (patch) {
		const char *need[] = { is_stream(b) ? "bs-decode" : "bs-split", "bs-delta", "bs-encode", NULL };
		struct bs_pipeline *p = pipeline();
		check_programs(p, need);
		source_stage(p, b);
		stage(p, "bs-delta", "--base", a);
		stage(p, "bs-encode");
		level_threads(p, 1);
		arg(p, "-o"), arg(p, patch);
		output_file(patch);
		if (dry_run)
			return run(p);
		if ((st = run(p)) != 0)
			return st;
	} else if (dry_run) {
		printf("# bigsmall diff compares the tensors of %s and %s by name, dtype, shape and XXH3-128 itself\n", a, b);
		return 0;
	}
	/* bad data in a model is exit 1, as the pipelines give */
	if (bs_model_open(a, &ma, &e) < 0)
		bs_die(bs_err_status(e.code), "%s", e.msg);
	if (bs_model_open(b, &mb, &e) < 0)
		bs_die(bs_err_status(e.code), "%s", e.msg);
	/* B's entries pair with A's as bs-delta pairs a fine-tune (B) with its
	 * base (A): the name, in the file of the same path first; A's entries
	 * that no entry of B pairs with are only in A */
	uint8_t *paired = calloc(bs_model_count(ma) + 1, 1);
	if (!paired)
		bs_die(2, "out of memory");
	for (size_t i = 0; i < bs_model_count(mb); i++) {
		const struct bs_model_entry *u = bs_model_entry_at(mb, i), *t;
		struct bs_hash128 ha, hb;

		if (!(t = bs_model_find_entry(ma, mb, u))) {
			print_name('+', mb, u, "only in B");
			added++;
			continue;
		}
		paired[bs_model_entry_index(ma, t)] = 1;
		if (u->dtype != t->dtype || u->rank != t->rank ||
		    memcmp(u->shape, t->shape, t->rank * sizeof *t->shape)) {
			print_name('~', mb, u, "dtype or shape");
			changed++;
			continue;
		}
		if (u->size != t->size) {
			print_name('~', mb, u, "size");
			changed++;
			continue;
		}
		if (bs_model_hash(ma, t, &ha, &e) < 0 || bs_model_hash(mb, u, &hb, &e) < 0)
			bs_die(bs_err_status(e.code), "%s", e.msg);
		if (ha.lo != hb.lo || ha.hi != hb.hi) {
			print_name('~', mb, u, "values");
			changed++;
		} else {
			if (bs_verbose > 0)
				print_name('=', mb, u, NULL);
			same++;
		}
	}
	for (size_t i = 0; i < bs_model_count(ma); i++)
		if (!paired[i]) {
			print_name('-', ma, bs_model_entry_at(ma, i), "only in A");
			removed++;
		}
	free(paired);
	printf("%zu identical, %zu changed, %zu only in %s, %zu only in %s\n",
	    same, changed, removed, a, added, b);
	bs_model_close(ma);
	bs_model_close(mb);
	/* a report that did not get out is trouble (2), not a difference */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno == EPIPE)
			exit(2);
		bs_die(2, "<stdout>: write error: %s", strerror(errno));
	}
	return changed + removed + added ? 1 : 0;
}

static int
do_verify(int argc, char **argv)
{
	struct bs_pipeline *p = pipeline();

	need_input(argv[0]);

	if (fast && sample)
		bs_die(2, "verify: --fast and --sample exclude each other");
	if (!program_exists("bs-verify") && !fast && !sample && !against && !base) {
		/* decoding checks every checksum too */
		stage(p, "bs-decode", argv[0]);
		bs_pipeline_stdout(p, "/dev/null");
		return run(p);
	}
	stage(p, "bs-verify");
	if (fast)
		arg(p, "--fast");
	if (sample)
		arg(p, "--sample"), arg(p, num(sample));
	if (against)
		arg(p, "--against"), arg(p, against);
	if (base)
		arg(p, "--base"), arg(p, base);
	arg(p, argv[0]);
	return run(p);
}

static int
do_info(int argc, char **argv)
{
	struct bs_pipeline *p = pipeline();

	stage(p, "bs-info");
	if (tensors)
		arg(p, "-t");
	if (files)
		arg(p, "-F");
	if (bs_verbose > 0)
		arg(p, "-v");
	for (int i = 0; i < argc; i++)
		arg(p, argv[i]);
	return run(p);
}

static int
do_scan(int argc, char **argv)
{
	struct bs_pipeline *p = pipeline();

	need_input(argv[0]);

	if (is_stream(argv[0]))
		stage(p, "bs-info", "-s", argv[0]);
	else {
		stage(p, "bs-split", argv[0]);
		stage(p, "bs-info", "-s");
	}
	return run(p);
}

static int
do_repair(int argc, char **argv)
{
	const char *need[] = { "bs-ecc", NULL };
	struct bs_pipeline *p = pipeline();

	need_input(argv[0]);

	check_programs(p, need);
	if (output) {
		/* the original stream, without parity */
		stage(p, "bs-ecc", "--repair", "-o", output, argv[0]);
		output_file(output);
	} else {
		/* in place, protected again */
		stage(p, "bs-ecc", "--repair", argv[0]);
		stage(p, "bs-ecc", "-o", argv[0]);
	}
	return run(p);
}

static int
do_reshard(int argc, char **argv)
{
	struct bs_pipeline *p = pipeline();
	const char *src = argv[0];
	int modes = !!size_gb + !!size_str + !!shards + !!join;

	need_input(src);

	if (!output)
		bs_die(2, "reshard: name the output folder with -o DIR");
	if (modes > 1)
		bs_die(2, "reshard: --size, --size-gb, --shards and --join exclude each other");
	if (bs_shards && !modes)
		bs_die(2, "reshard: --bs needs a layout: --size, --size-gb, --shards or --join");
	if (!is_stream(src)) {
		stage(p, "bs-split", src);
		if (bs_shards)	/* .bs shards of a folder: coded, not raw */
			stage(p, "bs-encode");
	}
	stage(p, "bs-reshard");
	if (size_str)
		arg(p, "--size"), arg(p, size_str);
	if (size_gb) {
		char *end;
		double g = strtod(size_gb, &end);
		if (end == size_gb || *end || !(g > 0) || g > 1e6)
			bs_die(2, "reshard: --size-gb: not a size in GiB: %s", size_gb);
		if (g == (double)(long long)g) {
			char *gb = concat(num((long long)g), "G");
			arg(p, "--size"), arg(p, gb);
			free(gb);
		}
		else
			arg(p, "--size"), arg(p, num((long long)(g * (1ull << 30))));
	}
	if (shards)
		arg(p, "--shards"), arg(p, num(shards));
	if (join)
		arg(p, "--join");
	if (bs_shards)
		arg(p, "--bs");
	if (force)
		arg(p, "-f");
	arg(p, "-o"), arg(p, output);
	if (is_stream(src))
		arg(p, src);
	return run(p);
}

static int
do_fetch(int argc, char **argv)
{
	const char *need[] = { "bs-fetch", NULL };
	const char *url = argv[0];
	struct bs_pipeline *p = pipeline();
	char *out;

	if (output)
		out = xstrdup(output);
	else if (strncmp(url, "hf:", 3) == 0) {
		const char *slash = strrchr(url, '/');
		out = concat(slash ? slash + 1 : url + 3, ".bs");
	} else {
		size_t n = strcspn(url, "?#");
		const char *s, *host = strstr(url, "://");
		if (host && !memchr(host + 3, '/', n - (size_t)(host + 3 - url)))
			n = 0;	/* no path after the host */
		out = strndup(url, n);
		while (n > 0 && out[n - 1] == '/')
			out[--n] = 0;
		s = strrchr(out, '/');
		if (host && s && s <= out + (host - url) + 2)
			out[0] = 0;	/* only the host is left */
		else if (s)
			memmove(out, s + 1, strlen(s));
		if (!out[0] || strchr(out, ':'))
			bs_die(2, "fetch: %s: no file name in the URL: name the output with -o", url);
	}
	check_programs(p, need);
	if (strncmp(url, "hf:", 3) == 0 && !strchr(url + 3, ':')) {
		/* a whole repo comes as one raw stream: encode it */
		stage(p, "bs-fetch", url);
		stage(p, "bs-encode");
		level_threads(p, 1);
		arg(p, "-o"), arg(p, out);
	} else {
		stage(p, "bs-fetch");
		if (resume)
			arg(p, "-C");
		arg(p, "-o"), arg(p, out), arg(p, url);
	}
	output_file(out);
	{
		int st = run(p);
		free(out);
		return st;
	}
}

/* benchmark: one timed step; returns seconds, or -1 on failure */
static double
timed(struct bs_pipeline *p)
{
	double t0 = bs_now();
	int saved = dry_run;

	dry_run = 0;
	if (run(p) != 0) {
		dry_run = saved;
		return -1;
	}
	dry_run = saved;
	return bs_now() - t0;
}

static long long
file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) < 0 ? -1 : (long long)sb.st_size;
}

static char *bench_dir;

static void
remove_bench_dir(void)
{
	static const char *names[] = { "raw.bs", "enc.bs", "raw.bs.zst", NULL };

	if (!bench_dir)
		return;
	for (int i = 0; names[i]; i++) {
		char *f = concat(bench_dir, names[i]);
		unlink(f);
		free(f);
	}
	rmdir(bench_dir);
	free(bench_dir);
	bench_dir = NULL;
}

static void
bench_row(const char *name, long long raw, long long size, double enc, double dec)
{
	printf("%-14s %14lld %8.4f %12.1f %12.1f\n", name, size,
	    raw > 0 ? (double)size / raw : 0,
	    enc > 0 ? raw / enc / 1e6 : 0, dec > 0 ? raw / dec / 1e6 : 0);
}

static int
do_benchmark(int argc, char **argv)
{
	const char *src = argv[0], *tmpdir = getenv("TMPDIR");
	char *raw = NULL, *enc = NULL, *zst = NULL, *zname = NULL, *q;
	const char *need[] = { "bs-split", "bs-encode", "bs-decode", NULL };
	int have_zstd = program_exists("zstd");
	char zlevel[8], zthreads[16];
	double te, td, tz = -1, tzd = -1;
	long long rawsize, encsize, zsize = -1;
	struct bs_pipeline *p;
	int st = 2;

	need_input(src);
	if (!(q = bs_shell_quote(src)))
		bs_die(2, "out of memory");

	snprintf(zlevel, sizeof zlevel, "-%lld", level ? (level > 19 ? 19 : level) : 3);
	snprintf(zthreads, sizeof zthreads, "-T%lld", threads);
	check_programs(p = pipeline(), need);
	bs_pipeline_free(p);
	if (dry_run) {
		printf("t=$(mktemp -d)\n%s %s -o \"$t/raw.bs\"\n",
		    is_stream(src) ? "bs-decode" : "bs-split", q);
		printf("time bs-encode%s%s%s%s -o \"$t/enc.bs\" \"$t/raw.bs\"\n",
		    level ? " -l " : "", level ? num(level) : "", threads ? " -T " : "", threads ? num(threads) : "");
		printf("time bs-decode%s%s \"$t/enc.bs\" > /dev/null\n",
		    threads ? " -T " : "", threads ? num(threads) : "");
		if (have_zstd) {
			printf("time zstd -q %s %s -f -o \"$t/raw.bs.zst\" \"$t/raw.bs\"\n", zlevel, zthreads);
			printf("time zstd -q -d %s -c \"$t/raw.bs.zst\" > /dev/null\n", zthreads);
		}
		printf("ls -l \"$t\"; rm -r \"$t\"\n");
		st = 0;
		goto out;
	}
	bench_dir = bs_xmalloc(strlen(tmpdir ? tmpdir : "/tmp") + 32);
	sprintf(bench_dir, "%s/bigsmall-bench.XXXXXX", tmpdir ? tmpdir : "/tmp");
	if (!mkdtemp(bench_dir))
		bs_die(2, "%s: %s", bench_dir, strerror(errno));
	strcat(bench_dir, "/");
	atexit(remove_bench_dir);
	raw = concat(bench_dir, "raw.bs");
	enc = concat(bench_dir, "enc.bs");
	zst = concat(bench_dir, "raw.bs.zst");

	p = pipeline();
	source_stage(p, src);
	arg(p, "-o"), arg(p, raw);
	if (timed(p) < 0)
		goto out;
	p = pipeline();
	stage(p, "bs-encode");
	level_threads(p, 1);
	arg(p, "-o"), arg(p, enc), arg(p, raw);
	if ((te = timed(p)) < 0)
		goto out;
	p = pipeline();
	stage(p, "bs-decode");
	level_threads(p, 0);
	arg(p, enc);
	bs_pipeline_stdout(p, "/dev/null");
	if ((td = timed(p)) < 0)
		goto out;
	if (have_zstd) {
		p = pipeline();
		stage(p, "zstd", "-q", zlevel, zthreads, "-f", "-o", zst, raw);
		tz = timed(p);
		p = pipeline();
		stage(p, "zstd", "-q", "-d", zthreads, "-c", zst);
		bs_pipeline_stdout(p, "/dev/null");
		tzd = tz < 0 ? -1 : timed(p);
		zsize = file_size(zst);
	}
	rawsize = file_size(raw);
	encsize = file_size(enc);
	printf("%s: raw stream %lld bytes; wall-clock times, one run\n", src, rawsize);
	printf("%-14s %14s %8s %12s %12s\n", "method", "bytes", "ratio", "encode MB/s", "decode MB/s");
	bench_row("bigsmall", rawsize, encsize, te, td);
	if (have_zstd && tz >= 0 && tzd >= 0) {
		if (zlevel[1])
			zname = concat("zstd ", zlevel);
		bench_row(zname ? zname : "zstd", rawsize, zsize, tz, tzd);
	} else
		printf("%-14s (zstd not found or failed)\n", "zstd");
	st = 0;
out:
	free(q);
	free(raw);
	free(enc);
	free(zst);
	free(zname);
	return st;
}

static int
do_migrate(int argc, char **argv)
{
	const char *need[] = { "bs-decode", "bs-encode", NULL };
	struct bs_pipeline *p = pipeline();

	need_input(argv[0]);

	check_programs(p, need);
	stage(p, "bs-decode", argv[0]);
	level_threads(p, 0);
	stage(p, "bs-encode");
	level_threads(p, 1);
	arg(p, "-o"), arg(p, output ? output : argv[0]);
	if (output)
		output_file(output);
	return run(p);
}

/* ------------------------------------------------------------ main */

static const struct command *
find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].prog.name + strlen("bigsmall "), name) == 0)
			return &commands[i];
	return NULL;
}

int
main(int argc, char *argv[])
{
	const struct command *c;
	char **av, **ops;
	int i, ac, st;
	ssize_t n;

	bs_proginit(argc, argv, "bigsmall");
	if ((n = readlink("/proc/self/exe", exe_dir, sizeof exe_dir - 1)) > 0) {
		exe_dir[n] = 0;
		*strrchr(exe_dir, '/') = 0;
	} else
		exe_dir[0] = 0;

	/* flags may come before the command: bigsmall -n compress ... */
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++)
		if (strcmp(argv[i], "--") == 0)
			break;
	if (i >= argc || strcmp(argv[i], "--") == 0) {
		bs_parse_args(&top, &argc, &argv);
		free(argv);	/* the operands bs_parse_args gathered: none used */
		if (list_commands) {
			for (size_t k = 0; k < NCOMMANDS; k++)
				printf("%s\t%.*s\n", commands[k].prog.name + strlen("bigsmall "),
				    (int)strcspn(commands[k].prog.summary, "\n"),
				    commands[k].prog.summary);
			return bs_finish(0);
		}
		fprintf(stderr, "bigsmall: missing command\n");
		bs_usage(&top, stderr);
		fprintf(stderr, "Try 'bigsmall --help' for more information.\n");
		return 2;
	}
	if (!(c = find_command(argv[i]))) {
		fprintf(stderr, "bigsmall: unknown command '%s'\n", argv[i]);
		bs_usage(&top, stderr);
		fprintf(stderr, "Try 'bigsmall --help' for more information.\n");
		return 2;
	}
	command_name = argv[i];
	av = bs_xmalloc((size_t)argc * sizeof *av);
	for (ac = 0; ac < argc; ac++)
		av[ac] = ac < i ? argv[ac] : argv[ac + 1];
	ac = argc - 1;
	av[ac] = NULL;
	ops = av;
	bs_parse_args(&c->prog, &ac, &av);
	free(ops);
	if (level < 0 || level > 19)
		bs_die(2, "%s: --level: must be between 1 and 19", command_name);
	if (threads < 0 || threads > 1024)
		bs_die(2, "%s: --threads: must be between 0 (all cores) and 1024", command_name);
	if (sample < 0)
		bs_die(2, "%s: --sample: must be a count of tensors, 1 or more", command_name);
	if (shards < 0)
		bs_die(2, "%s: --shards: must be a count, 1 or more", command_name);
	/* an operand that looks like an option reaches the programs as ./NAME */
	for (i = 0; i < ac; i++)
		if (av[i][0] == '-' && av[i][1]) {
			char *dot;
			if (asprintf(&dot, "./%s", av[i]) < 0)
				bs_die(2, "out of memory");
			av[i] = dot;	/* lives as long as the program */
		}
	st = c->run(ac, av);
	free(av);
	return bs_finish(st);
}
