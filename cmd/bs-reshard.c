/*
 * bs-reshard - write the files a stream carries into a folder: by default
 * each byte for byte as it was (checked against its SHA-256), or the
 * tensors in new safetensors shards cut at layer boundaries (--size,
 * --shards, --join), or in .bs shards of the coded chunks as they are
 * (--bs).  Files appear by rename once the whole stream checked out.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bs.h"

static const char *outdir;
static int force, join, bsout;
static long long size_opt = -1, shards_opt = LLONG_MIN;	/* not given */

static const struct bs_opt opts[] = {
	{ 'o', "output-dir", BS_OPT_STR, &outdir, "DIR", "write the files into DIR (created if missing)", "dir" },
	{ 'f', "force", BS_OPT_FLAG, &force, NULL, "replace files that already exist in DIR", NULL },
	{ 's', "size", BS_OPT_SIZE, &size_opt, "SIZE", "new shards of at most SIZE tensor bytes, cut at layer boundaries", NULL },
	{ 'n', "shards", BS_OPT_INT, &shards_opt, "N", "N new shards of about equal size, cut at layer boundaries", NULL },
	{ 'j', "join", BS_OPT_FLAG, &join, NULL, "one model.safetensors with every tensor", NULL },
	{ 'b', "bs", BS_OPT_FLAG, &bsout, NULL, "write the new shards as .bs streams, chunks copied as they are", NULL },
	{ 0, NULL, 0, NULL, NULL, NULL, NULL }
};

static const struct bs_prog prog = {
	"bs-reshard", "-o DIR [-f] [-s SIZE | -n N | -j] [-b] [STREAM]",
	"Restore the files of a bigsmall stream (STREAM, or stdin) into DIR, byte for\n"
	"byte, or write its tensors in new shards cut at layer boundaries.",
	opts, 0, 1
};

static const char *in;

/* A chunk that does not decode: bad data, exit 1. */
static void __attribute__((noreturn))
die_chunk(const struct bs_frame *f, const struct bs_tensor_info *t, int rc)
{
	bs_die(bs_err_status(rc), "%s: frame %llu at offset %llu: tensor '%.*s': payload does not decode",
	    in, (unsigned long long)f->number, (unsigned long long)f->offset,
	    (int)t->name_len, t->name);
}

/* ------------------------------------------------------------ outputs */

/* Every output: closed once written, renamed into place at the end. */
struct pending {
	struct bs_output *o;
	char *path;
};
static struct pending *outs;
static size_t nouts;

/* Folders this run created, removed (when empty) if it fails. */
static char **made;
static size_t nmade;
static int succeeded;

static void
remove_made(void)
{
	if (succeeded)
		return;
	while (nmade > 0)
		rmdir(made[--nmade]);
}

static void
note_made(const char *p)
{
	made = realloc(made, (nmade + 1) * sizeof *made);
	if (!made || !(made[nmade++] = strdup(p)))
		bs_die(2, "out of memory");
}

/* Refuse paths that would leave DIR. */
static int
safe_path(const char *p, size_t n)
{
	if (n == 0 || p[0] == '/' || p[n - 1] == '/')
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

/* Create DIR and its parents. */
static void
make_outdir(void)
{
	char *p = strdup(outdir);

	if (!p)
		bs_die(2, "out of memory");
	for (char *s = p + 1;; s++) {
		if (*s && *s != '/')
			continue;
		char c = *s;
		*s = 0;
		if (mkdir(p, 0777) == 0)
			note_made(p);
		else if (errno != EEXIST)
			bs_die(2, "%s: cannot create: %s", p, strerror(errno));
		*s = c;
		if (!c)
			break;
	}
	free(p);
}

/* Create the folders of DIR/rel below DIR, refusing to follow a symbolic
 * link or to go through anything but a folder. */
static void
mkdirs(char *path)
{
	size_t base = strlen(outdir);
	struct stat sb;

	for (char *s = strchr(path + base + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = 0;
		if (lstat(path, &sb) == 0) {
			if (S_ISLNK(sb.st_mode))
				bs_die(2, "%s: a symbolic link inside %s: refusing to follow it", path, outdir);
			if (!S_ISDIR(sb.st_mode))
				bs_die(2, "%s: exists and is not a folder", path);
		} else if (mkdir(path, 0777) == 0)
			note_made(path);
		else
			bs_die(2, "%s: cannot create: %s", path, strerror(errno));
		*s = '/';
	}
}

/* A file reference has no bytes of its own: bs-patch rebuilds it. */
static void
refuse_ref(const struct bs_frame *f)
{
	const struct bs_file_info *fi = &f->u.file;

	if (fi->kind == BS_FILE_REF)
		bs_die(1, "%s: frame %llu: file '%.*s' is a reference to a base's file: apply it with bs-patch --base BASE first (bigsmall decompress --base BASE)",
		    in, (unsigned long long)f->number, (int)(fi->path_len > 200 ? 200 : fi->path_len), fi->path);
}

/* Refuse a path that is, or lies under, or holds, a file already written
 * from this stream ('a' and 'a/b'): the stream cannot be laid out. */
static void
conflict(const char *path, uint64_t frame)
{
	size_t n = strlen(path), d = strlen(outdir) + 1;

	for (size_t i = 0; i < nouts; i++) {
		const char *q = outs[i].path;
		size_t m = strlen(q), k = m < n ? m : n;
		if (memcmp(q, path, k) != 0 || (m != n &&
		    (m < n ? path[m] : q[n]) != '/'))
			continue;
		if (m == n)
			bs_die(1, "%s: frame %llu: file '%s' comes twice in the stream (two members with the same files?)",
			    in, (unsigned long long)frame, path + d);
		bs_die(1, "%s: frame %llu: file '%s' %s file '%s' of the same stream",
		    in, (unsigned long long)frame, path + d,
		    m < n ? "lies under" : "holds", q + d);
	}
}

/* Open the output for rel (path bytes of the stream) under DIR. */
static struct bs_output *
open_out(const char *rel, size_t n, uint64_t frame, char **pathp)
{
	struct bs_output *o;
	struct stat sb;
	char *path;

	if (!safe_path(rel, n) || memchr(rel, 0, n))
		bs_die(1, "%s: frame %llu: unsafe file path '%.*s' (absolute, or with . or ..)",
		    in, (unsigned long long)frame, (int)n, rel);
	if (asprintf(&path, "%s/%.*s", outdir, (int)n, rel) < 0)
		bs_die(2, "out of memory");
	conflict(path, frame);
	mkdirs(path);
	if (lstat(path, &sb) == 0) {
		if (!force)
			bs_die(2, "%s: already exists (use -f to replace it)", path);
		if (S_ISDIR(sb.st_mode))
			bs_die(2, "%s: exists and is a folder", path);
	}
	/* written beside it and renamed over it: a symbolic link (or a
	 * device, a pipe) there is replaced, never written through */
	if (!(o = bs_output_open(path)))
		bs_die(2, "%s: cannot create: %s", path, strerror(errno));
	*pathp = path;
	return o;
}

static void
add_pending(struct bs_output *o, char *path)
{
	if (bs_output_close_fd(o) < 0)
		bs_die(2, "%s: write error: %s", path, strerror(errno));
	outs = realloc(outs, (nouts + 1) * sizeof *outs);
	if (!outs)
		bs_die(2, "out of memory");
	outs[nouts].o = o;
	outs[nouts++].path = path;
}

static int
cmp_pending(const void *a, const void *b)
{
	return strcmp(((const struct pending *)a)->path, ((const struct pending *)b)->path);
}

/* Every file checked out: refuse a path twice, then make them appear. */
static void
commit_all(void)
{
	struct pending *sorted = bs_xmalloc((nouts ? nouts : 1) * sizeof *sorted);

	if (nouts)
		memcpy(sorted, outs, nouts * sizeof *outs);
	qsort(sorted, nouts, sizeof *sorted, cmp_pending);
	for (size_t i = 1; i < nouts; i++)
		if (strcmp(sorted[i - 1].path, sorted[i].path) == 0)
			bs_die(1, "%s: %s: two files of the stream have this path", in, sorted[i].path);
	free(sorted);
	for (size_t i = 0; i < nouts; i++) {
		bs_out_close(outs[i].o, outs[i].path, 1);
		bs_info("%s", outs[i].path);
		free(outs[i].path);
	}
	free(outs);
	succeeded = 1;
}

/* ------------------------------------------------- the original layout */

static int
restore(struct bs_reader *r)
{
	struct bs_frame *f;
	struct bs_output *o = NULL;
	struct bs_sha256 *sha = bs_sha256_new();
	struct bs_xxh128_state *xh = bs_xxh128_new();
	uint8_t *buf = bs_xmalloc(BS_MAX_CHUNK), digest[32];
	char *path = NULL;
	int fd = -1, rc;

	if (!sha || !xh)
		bs_die(2, "out of memory");
	while ((rc = bs_reader_next(r, &f)) == 0) {
		const struct bs_tensor_info *t;
		switch (f->type) {
		case BS_F_FILE: {
			const struct bs_file_info *fi = &f->u.file;
			refuse_ref(f);
			o = open_out(fi->path, fi->path_len, f->number, &path);
			fd = bs_output_fd(o);
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
				bs_die(1, "%s: frame %llu: tensor '%.*s' outside a file record: this stream does not say which file it belongs to (write new shards with --join or --size)",
				    in, (unsigned long long)f->number, (int)t->name_len, t->name);
			if (t->kind == BS_T_DELTA || t->kind == BS_T_REF)
				bs_die(1, "%s: frame %llu: '%.*s' is a delta against a base: apply it with bs-patch --base BASE first (bigsmall decompress --base BASE)",
				    in, (unsigned long long)f->number, (int)t->name_len, t->name);
			bs_xxh128_reset(xh);
			break;
		case BS_F_CHUNK: {
			const struct bs_chunk_info *c = &f->u.chunk;
			const uint8_t *raw;
			t = bs_reader_tensor(r);
			if (!(raw = bs_chunk_raw(f, t->dtype, buf, &rc)))
				die_chunk(f, t, rc);
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
			add_pending(o, path);
			o = NULL;
			path = NULL;
			break;
		}
		bs_frame_free(f);
	}
	if (rc < 0)
		bs_die(bs_err_status(rc), "%s: %s", in, bs_reader_errmsg(r));
	commit_all();
	free(buf);
	bs_sha256_free(sha);
	bs_xxh128_free(xh);
	return 0;
}

/* --------------------------------------------------------- new layouts */

/*
 * Tensors are spooled, in stream order, to one unlinked temporary file in
 * DIR: their raw bytes (safetensors output) or their TENSOR..TEND frames
 * as read (--bs).  A shard is written once its tensors are known, from the
 * spool, whose range is then released (hole punched).
 */
struct tensor {
	struct bs_st_tensor st;		/* name, dtype, shape; offsets set on output */
	uint64_t size;
	uint64_t spool_at, spool_end;
	size_t key_len;			/* layer key: name[0..key_len); 0: none */
	unsigned shard;
};
static struct tensor *tv;
static size_t ntv, captv;
static int spool = -1;
static uint64_t spool_len;

struct shard {
	struct bs_output *o;
	size_t first, last;		/* tensors [first, last) */
	struct bs_writer *w;		/* --bs */
};
static struct shard *sh;
static size_t nsh;

static struct bs_st_kv *meta;	/* merged __metadata__, first value wins */
static size_t nmeta;

static uint32_t chunk_size = BS_DEFAULT_CHUNK;
static uint8_t *copybuf;

/* The layer key of a tensor name: its prefix through the first
 * component that is all digits and not the last ("model.layers.7."). */
static size_t
layer_key(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;
		int digits = 1;
		while (j < n && s[j] != '.') {
			if (s[j] < '0' || s[j] > '9')
				digits = 0;
			j++;
		}
		if (j < n && j > i && digits && i > 0)
			return j + 1;
		i = j + 1;
	}
	return 0;
}

static void
spool_open(void)
{
	char *p;

	spool = open(outdir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (spool >= 0)
		return;
	if (asprintf(&p, "%s/.bs-reshard-spool.XXXXXX", outdir) < 0)
		bs_die(2, "out of memory");
	if ((spool = mkstemp(p)) < 0)
		bs_die(2, "%s: cannot create a temporary file: %s", outdir, strerror(errno));
	unlink(p);
	free(p);
}

static void
spool_write(const void *p, size_t n)
{
	if (bs_write_all(spool, p, n) < 0)
		bs_die(2, "%s: temporary file: write error: %s", outdir, strerror(errno));
	spool_len += n;
}

/* Copy spool bytes [at, at + n) to fd at its position. */
static void
spool_copy(int fd, uint64_t at, uint64_t n, const char *path)
{
	loff_t off = (loff_t)at;

	while (n > 0) {
		ssize_t k = copy_file_range(spool, &off, fd, NULL, n > (1u << 30) ? (1u << 30) : n, 0);
		if (k > 0) {
			n -= (uint64_t)k;
			continue;
		}
		if (k == 0)
			bs_die(2, "%s: temporary file ended early", outdir);
		if (errno == EINTR)
			continue;
		if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
			bs_die(2, "%s: write error: %s", path, strerror(errno));
		break;	/* fall back to read and write */
	}
	while (n > 0) {
		size_t step = n < BS_MAX_CHUNK ? (size_t)n : BS_MAX_CHUNK;
		ssize_t k = pread(spool, copybuf, step, off);
		if (k <= 0)
			bs_die(2, "%s: temporary file: read error: %s", outdir, k ? strerror(errno) : "early end");
		if (bs_write_all(fd, copybuf, (size_t)k) < 0)
			bs_die(2, "%s: write error: %s", path, strerror(errno));
		off += k;
		n -= (uint64_t)k;
	}
}

static void
spool_release(uint64_t at, uint64_t n)
{
	if (n)
		(void)fallocate(spool, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)at, (off_t)n);
}

/* A frame of the spool at *at (--bs), as read and checked before. */
static struct bs_frame *
spool_frame(uint64_t *at)
{
	uint8_t h[BS_FRAME_HEADER];
	struct bs_frame *f = calloc(1, sizeof *f);
	const char *why;
	uint32_t ml;
	uint64_t pl;

	if (!f || pread(spool, h, sizeof h, (off_t)*at) != (ssize_t)sizeof h ||
	    bs_frame_header_parse(h, &f->type, &f->flags, &ml, &pl, &why) < 0)
		bs_die(2, "%s: temporary file: read error", outdir);
	f->size = BS_FRAME_HEADER + ml + pl + BS_FRAME_TRAILER;
	f->offset = *at;
	f->bytes = bs_xmalloc(f->size);
	if (pread(spool, f->bytes, f->size, (off_t)*at) != (ssize_t)f->size)
		bs_die(2, "%s: temporary file: read error", outdir);
	f->meta = f->bytes + BS_FRAME_HEADER;
	f->meta_len = ml;
	f->payload = f->meta + ml;
	f->payload_len = pl;
	if (bs_frame_meta_parse(f, &why) < 0)
		bs_die(2, "%s: temporary file: %s", outdir, why);
	*at += f->size;
	return f;
}

static struct bs_writer *
bs_shard_writer(struct shard *s, const char *path)
{
	if (!(s->w = bs_writer_open_fd(bs_output_fd(s->o), path)))
		bs_die(2, "out of memory");
	if (bs_writer_stream(s->w, chunk_size) < 0)
		bs_die(2, "%s", bs_writer_errmsg(s->w));
	return s->w;
}

static struct shard *
new_shard(void)
{
	struct shard *s;
	char *path;

	sh = realloc(sh, (nsh + 1) * sizeof *sh);
	if (!sh)
		bs_die(2, "out of memory");
	s = &sh[nsh++];
	memset(s, 0, sizeof *s);
	/* a provisional name: the final one needs the count of shards */
	if (asprintf(&path, "%s/model.%s", outdir, bsout ? "bs" : "safetensors") < 0)
		bs_die(2, "out of memory");
	if (!(s->o = bs_output_open(path)))	/* never through a link */
		bs_die(2, "%s: cannot create: %s", path, strerror(errno));
	if (bsout)
		bs_shard_writer(s, path);
	free(path);
	return s;
}

static int
cmp_kv(const void *a, const void *b)
{
	const struct bs_st_kv *x = a, *y = b;
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, n);

	return c ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* Write the shard of tensors [a, b) from the spool. */
static void
flush_shard(size_t a, size_t b)
{
	struct shard *s;
	struct bs_err e = { 0, "" };

	if (a == b)
		return;
	/* with --bs the first shard is open from the start (blobs go there) */
	s = bsout && nsh == 1 && sh[0].last == 0 ? &sh[0] : new_shard();
	s->first = a;
	s->last = b;
	for (size_t i = a; i < b; i++)
		tv[i].shard = (unsigned)(s - sh);
	if (bsout) {
		uint64_t at = tv[a].spool_at;
		while (at < tv[b - 1].spool_end) {
			struct bs_frame *f = spool_frame(&at);
			if (bs_writer_copy(s->w, f) < 0)
				bs_die(2, "%s", bs_writer_errmsg(s->w));
			bs_frame_free(f);
		}
		if (s != &sh[0]) {
			if (bs_writer_end(s->w) < 0)
				bs_die(2, "%s", bs_writer_errmsg(s->w));
			bs_writer_free(s->w);
			s->w = NULL;
			if (bs_output_close_fd(s->o) < 0)
				bs_die(2, "%s: write error: %s", outdir, strerror(errno));
		}
	} else {
		struct bs_st_tensor *st = bs_xmalloc((b - a) * sizeof *st);
		uint8_t *hdr;
		size_t hlen;
		int rc;
		for (size_t i = a; i < b; i++)
			st[i - a] = tv[i].st;
		if (nmeta)
			qsort(meta, nmeta, sizeof *meta, cmp_kv);
		if ((rc = bs_st_header_build(st, b - a, meta, nmeta, &hdr, &hlen, &e)) < 0)
			bs_die(bs_err_status(rc), "%s: %s", in, e.msg);
		free(st);
		if (bs_write_all(bs_output_fd(s->o), hdr, hlen) < 0)
			bs_die(2, "%s: write error: %s", outdir, strerror(errno));
		free(hdr);
		spool_copy(bs_output_fd(s->o), tv[a].spool_at, tv[b - 1].spool_end - tv[a].spool_at, outdir);
		if (bs_output_close_fd(s->o) < 0)
			bs_die(2, "%s: write error: %s", outdir, strerror(errno));
	}
	spool_release(tv[a].spool_at, tv[b - 1].spool_end - tv[a].spool_at);
}

/* Cut state of --size: the open shard starts at tensor shard_first, holds
 * cur bytes; the open group (one layer, or one tensor) starts at grp. */
static size_t shard_first, grp;
static uint64_t cur;

static void
close_group(void)
{
	uint64_t g = 0;

	for (size_t i = grp; i < ntv; i++)
		g += tv[i].size;
	if (size_opt > 0 && grp > shard_first && cur + g > (uint64_t)size_opt) {
		flush_shard(shard_first, grp);
		shard_first = grp;
		cur = 0;
	}
	cur += g;
	grp = ntv;
}

static void
add_tensor(const struct bs_tensor_info *t)
{
	struct tensor *x;
	size_t key = layer_key(t->name, t->name_len);

	/* a new group unless it continues the layer of the one before */
	if (ntv > grp && !(key && tv[ntv - 1].key_len == key &&
	    memcmp(tv[ntv - 1].st.name, t->name, key) == 0))
		close_group();
	if (ntv == captv) {
		captv = captv ? 2 * captv : 256;
		if (!(tv = realloc(tv, captv * sizeof *tv)))
			bs_die(2, "out of memory");
	}
	x = &tv[ntv++];
	memset(x, 0, sizeof *x);
	x->st.name = bs_xmalloc(t->name_len + 1);
	memcpy(x->st.name, t->name, t->name_len);
	x->st.name[t->name_len] = 0;
	x->st.name_len = t->name_len;
	x->st.dtype = t->dtype;
	x->st.rank = t->rank;
	memcpy(x->st.shape, t->shape, t->rank * sizeof t->shape[0]);
	x->size = t->size;
	x->key_len = key;
	x->spool_at = spool_len;
}

/* Merge the __metadata__ of a safetensors header (first value wins). */
static void
merge_metadata(const uint8_t *json, size_t n)
{
	json_t *root = json_loadb((const char *)json, n, JSON_ALLOW_NUL, NULL), *m, *v;
	const char *k;

	if (!root)
		return;	/* the reader checked it; nothing to merge */
	m = json_object_get(root, "__metadata__");
	json_object_foreach(m, k, v) {
		size_t klen = strlen(k), i;
		if (!json_is_string(v))
			continue;
		for (i = 0; i < nmeta; i++)
			if (meta[i].key_len == klen && memcmp(meta[i].key, k, klen) == 0)
				break;
		if (i < nmeta)
			continue;
		meta = realloc(meta, (nmeta + 1) * sizeof *meta);
		if (!meta)
			bs_die(2, "out of memory");
		meta[nmeta].key = strdup(k);
		meta[nmeta].key_len = klen;
		meta[nmeta].val_len = json_string_length(v);
		meta[nmeta].val = bs_xmalloc(meta[nmeta].val_len + 1);
		memcpy((char *)meta[nmeta].val, json_string_value(v), meta[nmeta].val_len);
		if (!meta[nmeta].key)
			bs_die(2, "out of memory");
		nmeta++;
	}
	json_decref(root);
}

static int
cmp_name(const void *a, const void *b)
{
	const struct tensor *x = *(struct tensor *const *)a, *y = *(struct tensor *const *)b;
	size_t n = x->st.name_len < y->st.name_len ? x->st.name_len : y->st.name_len;
	int c = memcmp(x->st.name, y->st.name, n);

	return c ? c : (x->st.name_len > y->st.name_len) - (x->st.name_len < y->st.name_len);
}

static int
is_old_index(const char *p, size_t n)
{
	static const char sfx[] = ".safetensors.index.json";
	size_t k = sizeof sfx - 1;

	return n >= k && memcmp(p + n - k, sfx, k) == 0;
}

/* The Hugging Face index of the shards, keys sorted as transformers
 * writes them. */
static void
write_index(struct tensor **byname, char **names)
{
	struct bs_output *o;
	char *path;
	FILE *f;
	uint64_t total = 0;
	int fd;

	for (size_t i = 0; i < ntv; i++)
		total += tv[i].size;
	o = open_out("model.safetensors.index.json", 28, 0, &path);
	if ((fd = dup(bs_output_fd(o))) < 0 || !(f = fdopen(fd, "w")))
		bs_die(2, "%s: %s", path, strerror(errno));
	fprintf(f, "{\n  \"metadata\": {\n    \"total_size\": %llu\n  },\n  \"weight_map\": {\n",
	    (unsigned long long)total);
	for (size_t i = 0; i < ntv; i++) {
		size_t qn;
		char *q = bs_json_quote(byname[i]->st.name, byname[i]->st.name_len, &qn);
		if (!q)
			bs_die(2, "out of memory");
		fprintf(f, "    %s: \"%s\"%s\n", q, names[byname[i]->shard], i + 1 < ntv ? "," : "");
		free(q);
	}
	fprintf(f, "  }\n}\n");
	if (fclose(f) != 0)
		bs_die(2, "%s: write error: %s", path, strerror(errno));
	add_pending(o, path);
}

static int
reshard(struct bs_reader *r)
{
	struct bs_frame *f;
	struct bs_output *o = NULL;	/* a blob being written */
	struct bs_sha256 *sha = bs_sha256_new();
	struct bs_xxh128_state *xh = bs_xxh128_new();
	uint8_t *buf = bs_xmalloc(BS_MAX_CHUNK), digest[32];
	char *path = NULL;
	enum { NONE, BLOB, SKIP, TENSOR } what = NONE;
	int in_blob_file = 0, chunked = 0, rc;

	copybuf = buf;
	if (!sha || !xh)
		bs_die(2, "out of memory");
	spool_open();
	if (bsout)
		new_shard();	/* the first shard takes the blobs as they come */
	while ((rc = bs_reader_next(r, &f)) == 0) {
		const struct bs_tensor_info *t;
		int copy = 0;
		switch (f->type) {
		case BS_F_STREAM:
			if (!chunked++)
				chunk_size = f->u.stream.chunk_size;
			break;
		case BS_F_FILE: {
			const struct bs_file_info *fi = &f->u.file;
			refuse_ref(f);
			in_blob_file = fi->kind == BS_FILE_BLOB;
			if (fi->kind == BS_FILE_SAFETENSORS) {
				merge_metadata(f->payload + 8, f->payload_len - 8);
				what = NONE;
			} else if (is_old_index(fi->path, fi->path_len)) {
				what = SKIP;	/* replaced by the new shards' index */
			} else if (bsout) {
				if (!safe_path(fi->path, fi->path_len))
					bs_die(1, "%s: frame %llu: unsafe file path '%.*s' (absolute, or with . or ..)",
					    in, (unsigned long long)f->number, (int)fi->path_len, fi->path);
				what = BLOB;
				copy = 1;
			} else {
				what = BLOB;
				o = open_out(fi->path, fi->path_len, f->number, &path);
			}
			break;
		}
		case BS_F_TENSOR:
			t = &f->u.tensor;
			if (t->kind == BS_T_DELTA || t->kind == BS_T_REF)
				bs_die(1, "%s: frame %llu: '%.*s' is a delta against a base: apply it with bs-patch --base BASE first (bigsmall decompress --base BASE)",
				    in, (unsigned long long)f->number, (int)t->name_len, t->name);
			bs_xxh128_reset(xh);
			if (t->kind == BS_T_BLOB) {
				copy = bsout && what == BLOB;
				break;
			}
			what = TENSOR;
			add_tensor(t);
			if (bsout)
				spool_write(f->bytes, f->size);
			break;
		case BS_F_CHUNK: {
			const struct bs_chunk_info *c = &f->u.chunk;
			const uint8_t *raw;
			if (what == SKIP)
				break;
			if (bsout) {
				if (what == TENSOR)
					spool_write(f->bytes, f->size);
				else
					copy = 1;
				break;
			}
			t = bs_reader_tensor(r);
			if (!(raw = bs_chunk_raw(f, t->dtype, buf, &rc)))
				die_chunk(f, t, rc);
			bs_xxh128_update(xh, raw, c->raw_len);
			if (what == BLOB) {
				bs_sha256_update(sha, raw, c->raw_len);
				if (bs_write_all(bs_output_fd(o), raw, c->raw_len) < 0)
					bs_die(2, "%s: write error: %s", path, strerror(errno));
			} else
				spool_write(raw, c->raw_len);
			break;
		}
		case BS_F_TEND:
			if (what == SKIP)
				break;
			if (!bsout) {
				struct bs_hash128 h = bs_xxh128_digest(xh);
				if (h.lo != f->u.tend.hash.lo || h.hi != f->u.tend.hash.hi)
					bs_die(1, "%s: frame %llu at offset %llu: tensor checksum mismatch (XXH3-128)",
					    in, (unsigned long long)f->number, (unsigned long long)f->offset);
			} else if (what == TENSOR)
				spool_write(f->bytes, f->size);
			else
				copy = 1;
			if (what == TENSOR) {
				tv[ntv - 1].spool_end = spool_len;
				what = in_blob_file ? BLOB : NONE;
			}
			break;
		case BS_F_FEND:
			if (what == BLOB && bsout)
				copy = 1;
			else if (what == BLOB) {
				bs_sha256_final(sha, digest);
				if (memcmp(digest, f->u.fend.sha256, 32) != 0)
					bs_die(1, "%s: frame %llu: %s: SHA-256 of the restored file does not match the original's",
					    in, (unsigned long long)f->number, path);
				add_pending(o, path);
				o = NULL;
				path = NULL;
			}
			what = NONE;
			in_blob_file = 0;
			break;
		}
		if (copy && bs_writer_copy(sh[0].w, f) < 0)
			bs_die(2, "%s", bs_writer_errmsg(sh[0].w));
		bs_frame_free(f);
	}
	if (rc < 0)
		bs_die(bs_err_status(rc), "%s: %s", in, bs_reader_errmsg(r));
	if (ntv > grp)
		close_group();
	if (size_opt > 0) {
		flush_shard(shard_first, ntv);
	} else {
		/* N shards: a layer goes to the shard its middle byte falls in */
		uint64_t total = 0, at = 0;
		unsigned n = join ? 1 : (unsigned)shards_opt;
		size_t first = 0;
		unsigned k = 0;
		for (size_t i = 0; i < ntv; i++)
			total += tv[i].size;
		for (size_t i = 0; i < ntv;) {
			size_t j = i + 1;
			uint64_t g = tv[i].size;
			unsigned kk;
			while (j < ntv && tv[i].key_len && tv[j].key_len == tv[i].key_len &&
			    memcmp(tv[j].st.name, tv[i].st.name, tv[i].key_len) == 0)
				g += tv[j++].size;
			kk = total ? (unsigned)(((unsigned __int128)(at + g / 2) * n) / total) : 0;
			if (kk >= n)
				kk = n - 1;
			if (kk != k) {
				flush_shard(first, i);
				first = i;
				k = kk;
			}
			at += g;
			i = j;
		}
		flush_shard(first, ntv);
	}
	/* a tensor name twice would make two keys of one header */
	{
		struct tensor **byname = bs_xmalloc((ntv ? ntv : 1) * sizeof *byname);
		char **names = bs_xmalloc((nsh ? nsh : 1) * sizeof *names);
		for (size_t i = 0; i < ntv; i++)
			byname[i] = &tv[i];
		qsort(byname, ntv, sizeof *byname, cmp_name);
		for (size_t i = 1; i < ntv; i++)
			if (cmp_name(&byname[i - 1], &byname[i]) == 0)
				bs_die(1, "%s: tensor '%.*s' appears twice: new shards cannot hold it",
				    in, (int)byname[i]->st.name_len, byname[i]->st.name);
		for (size_t i = 0; i < nsh; i++) {
			char *p;
			if (nsh == 1) {
				if (asprintf(&names[i], "model.%s", bsout ? "bs" : "safetensors") < 0)
					bs_die(2, "out of memory");
			} else if (asprintf(&names[i], "model-%05zu-of-%05zu.%s", i + 1, nsh,
			    bsout ? "bs" : "safetensors") < 0)
				bs_die(2, "out of memory");
			if (asprintf(&p, "%s/%s", outdir, names[i]) < 0)
				bs_die(2, "out of memory");
			struct stat sb;
			if (!force && lstat(p, &sb) == 0)
				bs_die(2, "%s: already exists (use -f to replace it)", p);
			if (bsout && i == 0) {
				if (bs_writer_end(sh[0].w) < 0)
					bs_die(2, "%s", bs_writer_errmsg(sh[0].w));
				bs_writer_free(sh[0].w);
			}
			if (bs_output_set_path(sh[i].o, p) < 0)
				bs_die(2, "out of memory");
			add_pending(sh[i].o, p);
		}
		if (!bsout && nsh > 1)
			write_index(byname, names);
		for (size_t i = 0; i < nsh; i++)
			free(names[i]);
		free(names);
		free(byname);
	}
	commit_all();
	for (size_t i = 0; i < ntv; i++)
		free(tv[i].st.name);
	free(tv);
	free(sh);
	free(buf);
	close(spool);
	bs_sha256_free(sha);
	bs_xxh128_free(xh);
	return 0;
}

int
main(int argc, char *argv[])
{
	struct bs_reader *r;
	int layouts;

	atexit(remove_made);	/* runs after the outputs are removed */
	bs_on_signal(remove_made);
	bs_proginit(argc, argv, "bs-reshard");
	bs_parse_args(&prog, &argc, &argv);
	if (!outdir || !*outdir)
		bs_die(2, "no output folder: give -o DIR");
	layouts = (size_opt > 0) + (shards_opt > 0) + (join > 0);
	if (layouts > 1)
		bs_die(2, "give one of --size, --shards and --join");
	if (size_opt == 0 || (shards_opt != LLONG_MIN && shards_opt < 1) || shards_opt > 99999)
		bs_die(2, "--size and --shards need a positive value (at most 99999 shards)");
	if (bsout && !layouts)
		bs_die(2, "--bs needs a layout: --size, --shards or --join");
	in = argc ? argv[0] : "-";
	if (!(r = bs_reader_open(in)))
		bs_die(2, "%s: %s", in, strerror(errno));
	in = bs_reader_name(r);		/* "<stdin>" for standard input */
	{
		/* DIR/ and DIR name the same folder: no double slash in names */
		char *d = strdup(outdir);
		size_t n = d ? strlen(d) : 0;
		if (!d)
			bs_die(2, "out of memory");
		while (n > 1 && d[n - 1] == '/')
			d[--n] = 0;
		outdir = d;
	}
	make_outdir();
	if (layouts)
		reshard(r);
	else
		restore(r);
	bs_reader_close(r);
	return bs_finish(0);
}
