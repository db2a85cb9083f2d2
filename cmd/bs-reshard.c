/*
 * bs-reshard - write the files a stream carries into a folder, each byte
 * for byte as it was (checked against its SHA-256), decoding coded chunks
 * on the way.  Files appear by rename once the whole stream checked out.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bs.h"

static const char *outdir;
static int force;

static const struct bs_opt opts[] = {
	{ 'o', "output-dir", BS_OPT_STR, &outdir, "DIR", "write the files into DIR (created if missing)", "dir" },
	{ 'f', "force", BS_OPT_FLAG, &force, NULL, "replace files that already exist in DIR", NULL },
	{ 0, NULL, 0, NULL, NULL, NULL, NULL }
};

static const struct bs_prog prog = {
	"bs-reshard", "-o DIR [-f] [STREAM]",
	"Restore the files of a bigsmall stream (STREAM, or stdin) into DIR, byte for byte.",
	opts, 0, 1
};

struct pending {
	struct bs_output *o;
	char *path;
};
static struct pending *done;
static size_t ndone;

/* Refuse paths that would leave DIR. */
static int
safe_path(const char *p, size_t n)
{
	if (n == 0 || p[0] == '/')
		return 0;
	for (size_t i = 0; i < n;) {
		size_t j = i;
		while (j < n && p[j] != '/')
			j++;
		if (j == i || (j - i == 1 && p[i] == '.') ||
		    (j - i == 2 && p[i] == '.' && p[i + 1] == '.'))
			return 0;
		i = j + 1;
	}
	return 1;
}

static void
mkdirs(char *path)
{
	for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = 0;
		if (mkdir(path, 0777) < 0 && errno != EEXIST)
			bs_die(2, "%s: cannot create: %s", path, strerror(errno));
		*s = '/';
	}
}

int
main(int argc, char *argv[])
{
	struct bs_reader *r;
	struct bs_frame *f;
	struct bs_output *o = NULL;
	struct bs_sha256 *sha;
	struct bs_xxh128_state *xh;
	uint8_t *buf = NULL, digest[32];
	char *path = NULL;
	const char *in;
	int fd = -1, rc;

	bs_proginit(argc, argv, "bs-reshard");
	bs_parse_args(&prog, &argc, &argv);
	if (!outdir)
		bs_die(2, "no output folder: give -o DIR");
	in = argc ? argv[0] : "-";
	if (!(r = bs_reader_open(in)))
		bs_die(2, "%s: %s", in, strerror(errno));
	if (mkdir(outdir, 0777) < 0 && errno != EEXIST)
		bs_die(2, "%s: cannot create: %s", outdir, strerror(errno));
	sha = bs_sha256_new();
	xh = bs_xxh128_new();
	buf = bs_xmalloc(BS_MAX_CHUNK);
	if (!sha || !xh)
		bs_die(2, "out of memory");
	while ((rc = bs_reader_next(r, &f)) == 0) {
		const struct bs_tensor_info *t;
		switch (f->type) {
		case BS_F_FILE: {
			const struct bs_file_info *fi = &f->u.file;
			struct stat sb;
			if (!safe_path(fi->path, fi->path_len))
				bs_die(1, "%s: frame %llu: unsafe file path '%.*s' (absolute, or with . or ..)",
				    in, (unsigned long long)f->number, (int)fi->path_len, fi->path);
			if (asprintf(&path, "%s/%.*s", outdir, (int)fi->path_len, fi->path) < 0)
				bs_die(2, "out of memory");
			if (!force && lstat(path, &sb) == 0)
				bs_die(2, "%s: already exists (use -f to replace it)", path);
			mkdirs(path);
			fd = bs_out_open(path, 1, &o);
			if (f->payload_len) {
				bs_sha256_update(sha, f->payload, f->payload_len);
				if (bs_write_all(fd, f->payload, f->payload_len) < 0)
					bs_die(2, "%s: write error: %s", path, strerror(errno));
			}
			break;
		}
		case BS_F_TENSOR:
			t = &f->u.tensor;
			if (!o)
				bs_die(1, "%s: frame %llu: tensor '%.*s' outside a file record: this stream does not say which file it belongs to",
				    in, (unsigned long long)f->number, (int)t->name_len, t->name);
			if (t->kind == BS_T_DELTA || t->kind == BS_T_REF)
				bs_die(1, "%s: frame %llu: '%.*s' is a delta against a base: apply it with bs-patch first",
				    in, (unsigned long long)f->number, (int)t->name_len, t->name);
			bs_xxh128_reset(xh);
			break;
		case BS_F_CHUNK: {
			const struct bs_chunk_info *c = &f->u.chunk;
			const uint8_t *raw = f->payload;
			t = bs_reader_tensor(r);
			if (c->codec != BS_C_NONE) {
				rc = bs_chunk_decode(c->codec, t->dtype, f->payload, f->payload_len, buf, c->raw_len);
				if (rc < 0)
					bs_die(bs_err_status(rc), "%s: frame %llu at offset %llu: tensor '%.*s': payload does not decode",
					    in, (unsigned long long)f->number, (unsigned long long)f->offset,
					    (int)t->name_len, t->name);
				raw = buf;
			}
			bs_xxh128_update(xh, raw, c->raw_len);
			bs_sha256_update(sha, raw, c->raw_len);
			if (bs_write_all(fd, raw, c->raw_len) < 0)
				bs_die(2, "%s: write error: %s", path, strerror(errno));
			break;
		}
		case BS_F_TEND: {
			struct bs_hash128 h = bs_xxh128_digest(xh);
			if (h.lo != f->u.tend.hash.lo || h.hi != f->u.tend.hash.hi)
				bs_die(1, "%s: frame %llu at offset %llu: tensor checksum mismatch (XXH3-128) in %s",
				    in, (unsigned long long)f->number, (unsigned long long)f->offset, path);
			break;
		}
		case BS_F_FEND:
			bs_sha256_final(sha, digest);
			if (memcmp(digest, f->u.fend.sha256, 32) != 0)
				bs_die(1, "%s: frame %llu: %s: SHA-256 of the restored file does not match the original's",
				    in, (unsigned long long)f->number, path);
			done = realloc(done, (ndone + 1) * sizeof *done);
			if (!done)
				bs_die(2, "out of memory");
			done[ndone].o = o;
			done[ndone++].path = path;
			o = NULL;
			path = NULL;
			break;
		}
		bs_frame_free(f);
	}
	if (rc < 0)
		bs_die(bs_err_status(rc), "%s: %s", in, bs_reader_errmsg(r));
	/* every file checked out: make them appear */
	for (size_t i = 0; i < ndone; i++) {
		bs_out_close(done[i].o, done[i].path, 1);
		bs_info("%s", done[i].path);
		free(done[i].path);
	}
	free(done);
	free(buf);
	bs_sha256_free(sha);
	bs_xxh128_free(xh);
	bs_reader_close(r);
	return bs_finish(0);
}
