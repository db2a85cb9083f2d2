/*
 * split.c - turn a model into a raw stream: a safetensors file, a folder of
 * files (safetensors and blobs), or a safetensors file on a pipe.  Each
 * file becomes FILE .. FEND carrying its path, its SHA-256 and, for
 * safetensors, its header bytes verbatim; tensors follow in data order, cut
 * into chunks of codec "none".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bs.h"

struct bs_splitter {
	struct bs_writer *w;
	const struct bs_split_opts *o;
	struct bs_err *e;
	uint8_t *buf;
	struct bs_sha256 *sha;
	struct bs_xxh128_state *xh;
	uint64_t done;
	const char *path;		/* for messages */
};

static int
wfail(struct bs_splitter *s)
{
	return bs_err_set(s->e, BS_EIO, "%s", bs_writer_errmsg(s->w));
}

/* Read up to n bytes from the source, fewer only at its end; -1 on error. */
static ssize_t
read_src(bs_read_fn rd, void *arg, uint8_t *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = rd(arg, p + got, n - got);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* Read n bytes of the file, or fail naming it. */
static int
read_in(struct bs_splitter *s, bs_read_fn rd, void *arg, uint8_t *p, size_t n, const char *what)
{
	ssize_t got = read_src(rd, arg, p, n);

	if (got < 0)
		return bs_err_set(s->e, BS_EIO, "%s: read error: %s", s->path, strerror(errno));
	if (got == 0 && s->done == 0)
		return bs_err_set(s->e, BS_ECORRUPT, "%s: empty input: not a safetensors file", s->path);
	if ((size_t)got < n)
		return bs_err_set(s->e, BS_ECORRUPT, "%s: file cut short (in %s)", s->path, what);
	s->done += n;
	if (s->o->progress)
		s->o->progress(s->done, s->o->progress_arg);
	return 0;
}

/* Stream `size` bytes of fd as the chunks of the open tensor record. */
static int
chunks(struct bs_splitter *s, bs_read_fn rd, void *arg, uint64_t size, const char *what,
    struct bs_tend_info *te)
{
	uint64_t off = 0;

	bs_xxh128_reset(s->xh);
	memset(te, 0, sizeof *te);
	while (off < size) {
		size_t n = size - off < s->o->chunk_size ? (size_t)(size - off) : s->o->chunk_size;
		struct bs_chunk_info ci = { BS_C_NONE, BS_X_NONE, (uint32_t)n, off };
		if (size == BS_SIZE_UNKNOWN) {
			/* a blob of unknown size: chunks until the source ends */
			ssize_t got = read_src(rd, arg, s->buf, s->o->chunk_size);
			if (got < 0)
				return bs_err_set(s->e, BS_EIO, "%s: read error: %s", s->path, strerror(errno));
			if (got == 0)
				break;
			n = (size_t)got;
			ci.raw_len = (uint32_t)n;
			s->done += n;
			if (s->o->progress)
				s->o->progress(s->done, s->o->progress_arg);
		} else if (read_in(s, rd, arg, s->buf, n, what) < 0)
			return s->e->code;
		bs_sha256_update(s->sha, s->buf, n);
		bs_xxh128_update(s->xh, s->buf, n);
		if (bs_writer_chunk(s->w, &ci, s->buf, n) < 0)
			return wfail(s);
		off += n;
		te->chunks++;
	}
	te->size = off;
	te->hash = bs_xxh128_digest(s->xh);
	return 0;
}

static int
finish_file(struct bs_splitter *s, uint64_t size)
{
	struct bs_fend_info fe;

	fe.size = size;
	bs_sha256_final(s->sha, fe.sha256);
	if (bs_writer_fend(s->w, &fe) < 0)
		return wfail(s);
	return 0;
}

/* A safetensors file: size is BS_SIZE_UNKNOWN on a pipe. */
static int
split_st(struct bs_splitter *s, bs_read_fn rd, void *arg, const char *rel, uint64_t size)
{
	uint8_t lenbuf[8], *prefix = NULL;
	struct bs_st st;
	struct bs_file_info fi;
	uint64_t n;
	size_t have, cap;
	int rc;

	memset(&st, 0, sizeof st);
	if (size != BS_SIZE_UNKNOWN && size < 8)
		return bs_err_set(s->e, BS_ECORRUPT, "%s: too short for a safetensors header length", s->path);
	if ((rc = read_in(s, rd, arg, lenbuf, 8, "the header length")) < 0)
		return rc;
	memcpy(&n, lenbuf, 8);
	if (n > BS_MAX_ST_HEADER)
		return bs_err_set(s->e, BS_ECORRUPT, "%s: header length %llu is above the limit of 100000000",
		    s->path, (unsigned long long)n);
	if (size != BS_SIZE_UNKNOWN && n > size - 8)
		return bs_err_set(s->e, BS_ECORRUPT, "%s: header length %llu runs past the end of the file",
		    s->path, (unsigned long long)n);
	/* grow with the data: a lying length on a pipe costs nothing */
	cap = 8 + (n < (1u << 20) ? n : (1u << 20));
	if (!(prefix = malloc(cap)))
		return bs_err_set(s->e, BS_ENOMEM, "out of memory");
	memcpy(prefix, lenbuf, 8);
	for (have = 8; have < 8 + n;) {
		size_t step;
		if (have == cap) {
			size_t ncap = cap * 2 < 8 + n ? cap * 2 : 8 + n;
			uint8_t *np = realloc(prefix, ncap);
			if (!np) {
				rc = bs_err_set(s->e, BS_ENOMEM, "out of memory");
				goto out;
			}
			prefix = np;
			cap = ncap;
		}
		step = cap - have;
		if ((rc = read_in(s, rd, arg, prefix + have, step, "the header")) < 0)
			goto out;
		have += step;
	}
	if ((rc = bs_st_parse(prefix + 8, n, size, &st, s->e)) < 0) {
		char msg[sizeof s->e->msg];
		snprintf(msg, sizeof msg, "%s: %s", s->path, s->e->msg);
		rc = bs_err_set(s->e, rc, "%s", msg);
		goto out;
	}
	memset(&fi, 0, sizeof fi);
	fi.kind = BS_FILE_SAFETENSORS;
	fi.size = 8 + n + st.data_len;
	fi.path = rel;
	fi.path_len = (uint32_t)strlen(rel);
	bs_sha256_update(s->sha, prefix, 8 + n);
	if (bs_writer_file(s->w, &fi, prefix, 8 + n) < 0) {
		rc = wfail(s);
		goto out;
	}
	for (size_t i = 0; i < st.n; i++) {
		const struct bs_st_tensor *t = &st.t[i];
		struct bs_tensor_info ti;
		struct bs_tend_info te;
		if (t->name_len > BS_MAX_NAME) {
			rc = bs_err_set(s->e, BS_EUNSUPPORTED, "%s: a tensor name is longer than %u bytes",
			    s->path, BS_MAX_NAME);
			goto out;
		}
		memset(&ti, 0, sizeof ti);
		ti.kind = BS_T_TENSOR;
		ti.dtype = t->dtype;
		ti.rank = t->rank;
		memcpy(ti.shape, t->shape, t->rank * sizeof t->shape[0]);
		ti.size = t->end - t->begin;
		ti.name = t->name;
		ti.name_len = t->name_len;
		if (bs_writer_tensor(s->w, &ti) < 0) {
			rc = wfail(s);
			goto out;
		}
		if ((rc = chunks(s, rd, arg, ti.size, "tensor data", &te)) < 0)
			goto out;
		if (bs_writer_tend(s->w, &te) < 0) {
			rc = wfail(s);
			goto out;
		}
	}
	if (size == BS_SIZE_UNKNOWN) {
		/* a pipe: anything after the last tensor is an error too */
		uint8_t extra;
		ssize_t got = read_src(rd, arg, &extra, 1);
		if (got != 0) {
			rc = got < 0 ? bs_err_set(s->e, BS_EIO, "%s: read error: %s", s->path, strerror(errno))
			    : bs_err_set(s->e, BS_ECORRUPT, "%s: bytes after the last tensor belong to no tensor", s->path);
			goto out;
		}
	}
	rc = finish_file(s, fi.size);
out:
	bs_st_free(&st);
	free(prefix);
	return rc;
}

static int
split_blob(struct bs_splitter *s, bs_read_fn rd, void *arg, const char *rel, uint64_t size)
{
	struct bs_file_info fi;
	struct bs_tensor_info ti;
	struct bs_tend_info te;
	int rc;

	memset(&fi, 0, sizeof fi);
	fi.kind = BS_FILE_BLOB;
	fi.size = size;
	fi.path = rel;
	fi.path_len = (uint32_t)strlen(rel);
	memset(&ti, 0, sizeof ti);
	ti.kind = BS_T_BLOB;
	ti.dtype = BS_DT_BYTES;
	ti.size = size;
	ti.name = rel;
	ti.name_len = fi.path_len;
	if (bs_writer_file(s->w, &fi, NULL, 0) < 0 || bs_writer_tensor(s->w, &ti) < 0)
		return wfail(s);
	if ((rc = chunks(s, rd, arg, size, "file data", &te)) < 0)
		return rc;
	if (bs_writer_tend(s->w, &te) < 0)
		return wfail(s);
	return finish_file(s, te.size);
}

static int
is_safetensors(const char *name)
{
	size_t n = strlen(name);

	return n >= 12 && strcmp(name + n - 12, ".safetensors") == 0;
}

ssize_t
bs_read_fd(void *arg, void *p, size_t n)
{
	return bs_read_full(*(int *)arg, p, n);
}

int
bs_splitter_add(struct bs_splitter *s, bs_read_fn rd, void *arg, const char *rel,
    const char *display, uint64_t size)
{
	s->path = display;
	if (!*rel || strlen(rel) > BS_MAX_NAME)
		return bs_err_set(s->e, BS_EUNSUPPORTED, "%s: file name empty or longer than %u bytes",
		    display, BS_MAX_NAME);
	if (is_safetensors(rel))
		return split_st(s, rd, arg, rel, size);
	return split_blob(s, rd, arg, rel, size);
}

struct bs_splitter *
bs_splitter_new(struct bs_writer *w, const struct bs_split_opts *o, struct bs_err *e)
{
	struct bs_splitter *s = calloc(1, sizeof *s);

	if (!s)
		return NULL;
	s->w = w;
	s->o = o;
	s->e = e;
	s->buf = malloc(o->chunk_size);
	s->sha = bs_sha256_new();
	s->xh = bs_xxh128_new();
	if (!s->buf || !s->sha || !s->xh) {
		bs_splitter_free(s);
		return NULL;
	}
	return s;
}

void
bs_splitter_free(struct bs_splitter *s)
{
	if (!s)
		return;
	free(s->buf);
	bs_sha256_free(s->sha);
	bs_xxh128_free(s->xh);
	free(s);
}

static int
split_path(struct bs_splitter *s, const char *full, const char *rel)
{
	struct stat sb;
	int fd, rc;

	s->path = full;
	if ((fd = open(full, O_RDONLY | O_CLOEXEC)) < 0)
		return bs_err_set(s->e, BS_EIO, "%s: %s", full, strerror(errno));
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return bs_err_set(s->e, BS_EIO, "%s: not a regular file", full);
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	rc = bs_splitter_add(s, bs_read_fd, &fd, rel, full, (uint64_t)sb.st_size);
	close(fd);
	return rc;
}

struct names {
	size_t n, cap;
	char **v;
};

/* The folders from the root down to the one being read, to pass over a
 * link back to one of them. */
struct ancestry {
	dev_t dev;
	ino_t ino;
	const struct ancestry *up;
};

static int
cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collect regular files under root/rel, relative paths, hidden entries
 * skipped. */
static int
walk(const char *root, const char *rel, const struct ancestry *up,
    struct names *out, struct bs_err *e)
{
	char *dir;
	DIR *d;
	struct dirent *de;
	int rc = 0;

	if (asprintf(&dir, "%s%s%s", root, *rel ? "/" : "", rel) < 0)
		return bs_err_set(e, BS_ENOMEM, "out of memory");
	if (!(d = opendir(dir))) {
		rc = bs_err_set(e, BS_EIO, "%s: %s", dir, strerror(errno));
		free(dir);
		return rc;
	}
	while ((de = readdir(d))) {
		char *r, *full;
		struct stat sb;
		if (de->d_name[0] == '.')
			continue;
		if (asprintf(&r, "%s%s%s", rel, *rel ? "/" : "", de->d_name) < 0) {
			rc = bs_err_set(e, BS_ENOMEM, "out of memory");
			break;
		}
		if (asprintf(&full, "%s/%s", dir, de->d_name) < 0) {
			free(r);
			rc = bs_err_set(e, BS_ENOMEM, "out of memory");
			break;
		}
		if (stat(full, &sb) < 0) {
			rc = bs_err_set(e, BS_EIO, "%s: %s", full, strerror(errno));
			free(r);
			free(full);
			break;
		}
		free(full);
		if (S_ISDIR(sb.st_mode)) {
			const struct ancestry *a = up;
			while (a && (a->dev != sb.st_dev || a->ino != sb.st_ino))
				a = a->up;
			if (!a) {	/* not a link back up */
				struct ancestry here = { sb.st_dev, sb.st_ino, up };
				rc = walk(root, r, &here, out, e);
			}
			free(r);
			if (rc < 0)
				break;
			continue;
		}
		if (!S_ISREG(sb.st_mode)) {
			free(r);
			continue;	/* sockets, fifos: not part of a model */
		}
		if (out->n == out->cap) {
			size_t nc = out->cap ? 2 * out->cap : 32;
			char **nv = realloc(out->v, nc * sizeof *nv);
			if (!nv) {
				free(r);
				rc = bs_err_set(e, BS_ENOMEM, "out of memory");
				break;
			}
			out->v = nv;
			out->cap = nc;
		}
		out->v[out->n++] = r;
	}
	closedir(d);
	free(dir);
	return rc;
}

int
bs_folder_files(const char *dir, char ***names, size_t *n, struct bs_err *e)
{
	struct names out = { 0, 0, NULL };
	struct stat sb;
	int rc;

	*names = NULL;
	*n = 0;
	if (stat(dir, &sb) < 0)
		return bs_err_set(e, BS_EIO, "%s: %s", dir, strerror(errno));
	struct ancestry root = { sb.st_dev, sb.st_ino, NULL };
	if ((rc = walk(dir, "", &root, &out, e)) < 0) {
		bs_folder_files_free(out.v, out.n);
		return rc;
	}
	if (out.n)
		qsort(out.v, out.n, sizeof *out.v, cmpstr);
	*names = out.v;
	*n = out.n;
	return 0;
}

void
bs_folder_files_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int
bs_split_tensor_fd(int fd, const struct bs_tensor_info *ti,
    struct bs_writer *w, const struct bs_split_opts *o, struct bs_err *e)
{
	struct bs_splitter *s;
	struct bs_tend_info te;
	int rc = 0;

	if (!(s = bs_splitter_new(w, o, e)))
		return bs_err_set(e, BS_ENOMEM, "out of memory");
	s->path = "<tensor data>";
	if (bs_writer_tensor(w, ti) < 0)
		rc = wfail(s);
	else if ((rc = chunks(s, bs_read_fd, &fd, ti->size, "tensor data", &te)) == 0 &&
	    bs_writer_tend(w, &te) < 0)
		rc = wfail(s);
	bs_splitter_free(s);
	return rc;
}

int
bs_split(const char *path, struct bs_writer *w, const struct bs_split_opts *o,
    struct bs_err *e)
{
	struct bs_splitter *s;
	struct stat sb;
	int rc = 0;

	if (!(s = bs_splitter_new(w, o, e)))
		return bs_err_set(e, BS_ENOMEM, "out of memory");
	if (bs_writer_stream(w, o->chunk_size) < 0) {
		rc = wfail(s);
		goto out;
	}
	if (strcmp(path, "-") == 0) {
		int fd = STDIN_FILENO;
		rc = bs_splitter_add(s, bs_read_fd, &fd,
		    o->stdin_name ? o->stdin_name : "model.safetensors", "<stdin>", BS_SIZE_UNKNOWN);
	} else if (stat(path, &sb) < 0) {
		rc = bs_err_set(e, BS_EIO, "%s: %s", path, strerror(errno));
	} else if (S_ISDIR(sb.st_mode)) {
		char **names;
		size_t nn;
		rc = bs_folder_files(path, &names, &nn, e);
		for (size_t i = 0; rc == 0 && i < nn; i++) {
			char *full;
			if (asprintf(&full, "%s/%s", path, names[i]) < 0)
				rc = bs_err_set(e, BS_ENOMEM, "out of memory");
			else {
				rc = split_path(s, full, names[i]);
				free(full);
			}
		}
		bs_folder_files_free(names, nn);
	} else {
		const char *base = strrchr(path, '/');
		rc = split_path(s, path, base ? base + 1 : path);
	}
	if (rc == 0 && bs_writer_end(w) < 0)
		rc = wfail(s);
out:
	bs_splitter_free(s);
	return rc;
}

int
bs_split_fd(int fd, const char *name, uint64_t size, struct bs_writer *w,
    const struct bs_split_opts *o, struct bs_err *e)
{
	struct bs_splitter *s;
	int rc;

	if (!(s = bs_splitter_new(w, o, e)))
		return bs_err_set(e, BS_ENOMEM, "out of memory");
	rc = bs_writer_stream(w, o->chunk_size) < 0 ? wfail(s) : 0;
	if (rc == 0)
		rc = bs_splitter_add(s, bs_read_fd, &fd, name, name, size);
	if (rc == 0 && bs_writer_end(w) < 0)
		rc = wfail(s);
	bs_splitter_free(s);
	return rc;
}
