/*
 * model.c - a base model for bs-delta and bs-patch: a safetensors file, a
 * folder of files, or a bigsmall stream saved to disk, looked up tensor by
 * tensor (and blob by path) and read on demand with pread.  Nothing but
 * the catalogue stays in memory: names, shapes, where the bytes lie (and,
 * for a stream, where each chunk's frame lies) and, once computed, hashes.
 *
 * A stream is catalogued through its index when the file is seekable and
 * holds one member with an index (bs_index_read_fd), otherwise by walking
 * its frame headers from the start; a base that is not a regular file (a
 * pipe) is first copied to an unlinked temporary file.  Chunks of a stream
 * are checked (header, meta and payload checksums) and decoded when read,
 * one chunk cached.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bs.h"
#include "internal.h"

struct chunkref {
	uint64_t frame_off;		/* of the CHUNK frame in the file */
	uint64_t offset;		/* of the chunk in the tensor */
	uint32_t raw_len;
};

struct ment {
	struct bs_model_entry pub;
	int src;			/* index of its file in m->fd */
	uint64_t data_off;		/* safetensors or blob: bytes at this offset */
	struct chunkref *ch;		/* stream: its chunks, in order */
	size_t nch;
	int have_hash;
	struct bs_hash128 hash;
};

/* A file of the base: its header lies at hdr_off of fd src (the first
 * bytes of a safetensors file, or a FILE frame's payload). */
struct mfile {
	struct bs_model_file pub;
	int src;
	uint64_t hdr_off;
	uint32_t hdr_len;
};

struct bs_model {
	char *path;
	int is_stream;
	int *fd;
	size_t nfd;
	struct ment *e;
	size_t n, cap;
	struct mfile *f;
	size_t nf, capf;
	struct ment **sorted;		/* by (blob, name) */
	/* one decoded chunk of a stream */
	const struct ment *cache_t;
	size_t cache_i;
	uint8_t *cache, *frame;
	size_t frame_cap;
	/* the last piece bs_model_hash read from a file, read again by the
	 * caller that hashed a tensor before reading it (one chunk: most) */
	const struct ment *hb_t;
	uint64_t hb_off;
	size_t hb_len;
	uint8_t *hb;
};

const char *bs_model_path(const struct bs_model *m) { return m->path; }
size_t bs_model_count(const struct bs_model *m) { return m->n; }
const struct bs_model_entry *bs_model_entry_at(const struct bs_model *m, size_t i)
{
	return i < m->n ? &m->e[i].pub : NULL;
}

static struct ment *
add_entry(struct bs_model *m, const char *name, size_t len, struct bs_err *e)
{
	struct ment *t;
	char *nm;

	if (m->n == m->cap) {
		size_t nc = m->cap ? 2 * m->cap : 64;
		struct ment *ne = realloc(m->e, nc * sizeof *ne);
		if (!ne)
			return bs_err_set(e, BS_ENOMEM, "out of memory"), NULL;
		m->e = ne;
		m->cap = nc;
	}
	if (!(nm = malloc(len + 1)))
		return bs_err_set(e, BS_ENOMEM, "out of memory"), NULL;
	memcpy(nm, name, len);
	nm[len] = 0;
	t = &m->e[m->n++];
	memset(t, 0, sizeof *t);
	t->pub.name = nm;
	t->pub.name_len = (uint32_t)len;
	t->src = (int)m->nfd - 1;
	return t;
}

static struct mfile *
add_file(struct bs_model *m, const char *path, size_t len, int kind,
    uint64_t size, struct bs_err *e)
{
	struct mfile *f;
	char *p;

	if (m->nf == m->capf) {
		size_t nc = m->capf ? 2 * m->capf : 16;
		struct mfile *nf = realloc(m->f, nc * sizeof *nf);
		if (!nf)
			return bs_err_set(e, BS_ENOMEM, "out of memory"), NULL;
		m->f = nf;
		m->capf = nc;
	}
	if (!(p = malloc(len + 1)))
		return bs_err_set(e, BS_ENOMEM, "out of memory"), NULL;
	memcpy(p, path, len);
	p[len] = 0;
	f = &m->f[m->nf++];
	memset(f, 0, sizeof *f);
	f->pub.path = p;
	f->pub.path_len = (uint32_t)len;
	f->pub.kind = kind;
	f->pub.size = size;
	f->pub.first = m->n;
	f->src = (int)m->nfd - 1;
	return f;
}

static int
add_fd(struct bs_model *m, int fd, struct bs_err *e)
{
	int *nf = realloc(m->fd, (m->nfd + 1) * sizeof *nf);

	if (!nf) {
		close(fd);
		return bs_err_set(e, BS_ENOMEM, "out of memory");
	}
	m->fd = nf;
	m->fd[m->nfd++] = fd;
	return 0;
}

static int
pread_all(int fd, void *p, size_t n, uint64_t off)
{
	size_t done = 0;

	while (done < n) {
		ssize_t got = pread(fd, (uint8_t *)p + done, n - done, (off_t)(off + done));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return got < 0 ? -1 : 0;
		done += (size_t)got;
	}
	return 1;
}

/* ------------------------------------------------------- safetensors */

static int
add_safetensors(struct bs_model *m, int fd, const char *full, const char *rel,
    uint64_t size, struct bs_err *e)
{
	uint8_t lenbuf[8], *json;
	uint64_t n;
	struct bs_st st;
	struct mfile *mf;
	int rc;

	if (size < 8 || pread_all(fd, lenbuf, 8, 0) != 1)
		return bs_err_set(e, BS_ECORRUPT, "%s: too short for a safetensors header", full);
	n = get64(lenbuf);
	if (n > BS_MAX_ST_HEADER || n > size - 8)
		return bs_err_set(e, BS_ECORRUPT, "%s: safetensors header length %llu out of range",
		    full, (unsigned long long)n);
	if (!(json = malloc(n ? n : 1)))
		return bs_err_set(e, BS_ENOMEM, "out of memory");
	if (pread_all(fd, json, n, 8) != 1) {
		free(json);
		return bs_err_set(e, BS_EIO, "%s: read error", full);
	}
	rc = bs_st_parse(json, n, size, &st, e);
	free(json);
	if (rc < 0) {
		char msg[sizeof e->msg];
		snprintf(msg, sizeof msg, "%s: %s", full, e->msg);
		return bs_err_set(e, rc, "%s", msg);
	}
	if (!(mf = add_file(m, rel, strlen(rel), BS_FILE_SAFETENSORS, size, e))) {
		bs_st_free(&st);
		return e->code;
	}
	mf->hdr_off = 0;
	mf->hdr_len = (uint32_t)(8 + n);
	mf->pub.count = st.n;
	for (size_t i = 0; i < st.n && rc == 0; i++) {
		const struct bs_st_tensor *s = &st.t[i];
		struct ment *t = add_entry(m, s->name, s->name_len, e);
		if (!t) {
			rc = e->code;
			break;
		}
		t->pub.dtype = s->dtype;
		t->pub.rank = s->rank;
		memcpy(t->pub.shape, s->shape, s->rank * sizeof s->shape[0]);
		t->pub.size = s->end - s->begin;
		t->data_off = 8 + n + s->begin;
	}
	bs_st_free(&st);
	return rc;
}

/* --------------------------------------------------------------- stream */

/* Read and check the meta block of the frame at off into m->frame. */
static int
frame_meta(struct bs_model *m, int fd, uint64_t off, struct bs_frame *f,
    const char **why)
{
	uint8_t hdr[BS_FRAME_HEADER];
	int rc;

	memset(f, 0, sizeof *f);
	if (pread_all(fd, hdr, sizeof hdr, off) != 1) {
		*why = "frame cut short";
		return BS_ETRUNC;
	}
	if ((rc = bs_frame_header_parse(hdr, &f->type, &f->flags, &f->meta_len,
	    &f->payload_len, why)) < 0)
		return rc;
	if (f->meta_len > BS_MAX_META || f->payload_len > (1ull << 40)) {
		*why = "frame length out of range";
		return BS_ECORRUPT;
	}
	f->offset = off;
	f->size = BS_FRAME_HEADER + f->meta_len + f->payload_len + BS_FRAME_TRAILER;
	if (f->type != BS_F_TENSOR && f->type != BS_F_CHUNK && f->type != BS_F_TEND &&
	    f->type != BS_F_FILE && f->type != BS_F_FEND)
		return 0;
	if (f->meta_len > m->frame_cap) {
		uint8_t *nb = realloc(m->frame, f->meta_len);
		if (!nb) {
			*why = "out of memory";
			return BS_ENOMEM;
		}
		m->frame = nb;
		m->frame_cap = f->meta_len;
	}
	if (pread_all(fd, m->frame, f->meta_len, off + BS_FRAME_HEADER) != 1) {
		*why = "frame cut short";
		return BS_ETRUNC;
	}
	if (get32(hdr + 20) != bs_xxh32(m->frame, f->meta_len)) {
		*why = "meta checksum mismatch";
		return BS_ECHECKSUM;
	}
	f->meta = m->frame;
	return bs_frame_meta_parse(f, why);
}

/* Catalogue the tensors of the frames in [from, to) of the stream on fd. */
static int
walk_stream(struct bs_model *m, int fd, uint64_t from, uint64_t to,
    struct bs_err *e)
{
	struct ment *cur = NULL;
	struct mfile *file = NULL;
	uint64_t p = from, next = 0;
	const char *why = NULL;
	struct bs_frame f;
	int rc;

	while (p < to) {
		if ((rc = frame_meta(m, fd, p, &f, &why)) < 0)
			goto bad;
		if (f.size > to - p) {
			rc = BS_ETRUNC;
			why = "frame runs past the end";
			goto bad;
		}
		switch (f.type) {
		case BS_F_FILE: {
			const struct bs_file_info *fi = &f.u.file;
			if (cur || file) {
				rc = BS_ECORRUPT, why = "file record inside a record";
				goto bad;
			}
			if (fi->kind == BS_FILE_REF)
				return bs_err_set(e, BS_EUNSUPPORTED,
				    "%s: file '%.*s' is a reference to a base's file: this is a patch, and a whole model is needed here (apply it with bs-patch first)",
				    m->path, (int)(fi->path_len > 100 ? 100 : fi->path_len), fi->path);
			if (!(file = add_file(m, fi->path, fi->path_len, fi->kind, fi->size, e)))
				return e->code;
			file->hdr_off = p + BS_FRAME_HEADER + f.meta_len;
			file->hdr_len = (uint32_t)f.payload_len;
			break;
		}
		case BS_F_FEND:
			if (!file || cur) {
				rc = BS_ECORRUPT, why = "file end out of place";
				goto bad;
			}
			file->pub.size = f.u.fend.size;
			file->pub.count = m->n - file->pub.first;
			file = NULL;
			break;
		case BS_F_TENSOR: {
			const struct bs_tensor_info *ti = &f.u.tensor;
			if (cur) {
				rc = BS_ECORRUPT, why = "tensor record inside a tensor";
				goto bad;
			}
			if (ti->kind == BS_T_DELTA || ti->kind == BS_T_REF)
				return bs_err_set(e, BS_EUNSUPPORTED,
				    "%s: tensor '%.*s' is a delta: this is a patch, and a whole model is needed here (apply it with bs-patch first)",
				    m->path, (int)(ti->name_len > 100 ? 100 : ti->name_len), ti->name);
			if (!(cur = add_entry(m, ti->name, ti->name_len, e)))
				return e->code;
			cur->pub.blob = ti->kind == BS_T_BLOB;
			cur->pub.dtype = ti->dtype;
			cur->pub.rank = ti->rank;
			memcpy(cur->pub.shape, ti->shape, ti->rank * sizeof ti->shape[0]);
			cur->pub.size = ti->size;
			next = 0;
			break;
		}
		case BS_F_CHUNK: {
			const struct bs_chunk_info *ci = &f.u.chunk;
			struct chunkref *nc;
			if (!cur || ci->offset != next || ci->transform != BS_X_NONE ||
			    ci->raw_len == 0 || ci->raw_len > BS_MAX_CHUNK) {
				rc = BS_ECORRUPT, why = "chunk out of place";
				goto bad;
			}
			if (!(nc = realloc(cur->ch, (cur->nch + 1) * sizeof *nc)))
				return bs_err_set(e, BS_ENOMEM, "out of memory");
			cur->ch = nc;
			nc[cur->nch++] = (struct chunkref){ p, ci->offset, ci->raw_len };
			next += ci->raw_len;
			break;
		}
		case BS_F_TEND:
			if (!cur || f.u.tend.size != next ||
			    (cur->pub.size != BS_SIZE_UNKNOWN && cur->pub.size != next)) {
				rc = BS_ECORRUPT, why = "tensor end does not match its chunks";
				goto bad;
			}
			cur->pub.size = next;
			cur->hash = f.u.tend.hash;
			cur->have_hash = 1;
			cur = NULL;
			break;
		}
		p += f.size;
	}
	if (cur)
		return bs_err_set(e, BS_ETRUNC, "%s: tensor '%s' cut short", m->path, cur->pub.name);
	if (file)
		return bs_err_set(e, BS_ETRUNC, "%s: file '%s' cut short", m->path, file->pub.path);
	return 0;
bad:
	return bs_err_set(e, rc, "%s: frame at offset %llu: %s", m->path,
	    (unsigned long long)p, why);
}

static int
add_stream(struct bs_model *m, int fd, uint64_t size, struct bs_err *e)
{
	struct bs_index ix;
	struct bs_err ie;
	uint64_t start = 0;
	int rc;

	m->is_stream = 1;
	if (bs_index_read_fd(fd, &ix, &start, &ie) == 0 && start == 0) {
		uint64_t covered = 0;	/* the end of the last file record */
		rc = 0;
		for (size_t i = 0; i < ix.n && rc == 0; i++) {
			const struct bs_index_entry *x = &ix.e[i];
			if (x->type == BS_F_TENSOR && x->offset < covered)
				continue;	/* walked with its file */
			if (x->type == BS_F_FILE)
				covered = x->offset + x->length;
			rc = walk_stream(m, fd, x->offset, x->offset + x->length, e);
		}
		bs_index_free(&ix);
		return rc;
	}
	/* no index, or several members: every frame, from the start */
	return walk_stream(m, fd, 0, size, e);
}

/* --------------------------------------------------------------- folder */

static int is_st_name(const char *s)
{
	size_t n = strlen(s);
	return n >= 12 && strcmp(s + n - 12, ".safetensors") == 0;
}

static int
add_folder(struct bs_model *m, const char *dir, struct bs_err *e)
{
	char **names;
	size_t nn, dl = strlen(dir);
	int rc = bs_folder_files(dir, &names, &nn, e);

	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	for (size_t i = 0; rc == 0 && i < nn; i++) {
		char *full = NULL;
		struct stat sb;
		int fd;
		if (asprintf(&full, "%.*s/%s", (int)dl, dir, names[i]) < 0) {
			rc = bs_err_set(e, BS_ENOMEM, "out of memory");
			break;
		}
		if ((fd = open(full, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &sb) < 0) {
			rc = bs_err_set(e, BS_EIO, "%s: %s", full, strerror(errno));
			if (fd >= 0)
				close(fd);
		} else if ((rc = add_fd(m, fd, e)) == 0) {
			if (is_st_name(names[i]))
				rc = add_safetensors(m, fd, full, names[i],
				    (uint64_t)sb.st_size, e);
			else {
				struct mfile *mf = add_file(m, names[i], strlen(names[i]),
				    BS_FILE_BLOB, (uint64_t)sb.st_size, e);
				struct ment *t = mf ? add_entry(m, names[i], strlen(names[i]), e) : NULL;
				if (mf)
					mf->pub.count = 1;
				if (!t)
					rc = e->code;
				else {
					t->pub.blob = 1;
					t->pub.dtype = BS_DT_BYTES;
					t->pub.size = (uint64_t)sb.st_size;
				}
			}
		}
		free(full);
	}
	bs_folder_files_free(names, nn);
	return rc;
}

/* ----------------------------------------------------------------- open */

static int
cmp_ment(const void *a, const void *b)
{
	const struct bs_model_entry *x = &(*(struct ment *const *)a)->pub;
	const struct bs_model_entry *y = &(*(struct ment *const *)b)->pub;
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c;

	if (x->blob != y->blob)
		return x->blob - y->blob;
	if ((c = memcmp(x->name, y->name, n)) != 0)
		return c;
	return (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

int
bs_spool_fd(int in, const char *path, struct bs_err *e)
{
	const char *tmp = getenv("TMPDIR");
	char *name;
	uint8_t *buf;
	ssize_t got;
	int fd;

	const char *dir = tmp && *tmp ? tmp : "/tmp";
	if (asprintf(&name, "%s/bs-base.XXXXXX", dir) < 0)
		return bs_err_set(e, BS_ENOMEM, "out of memory"), -1;
	fd = mkstemp(name);
	if (fd >= 0)
		unlink(name);
	free(name);
	if (fd < 0)	/* the temporary folder's fault, not the input's */
		return bs_err_set(e, BS_EIO, "%s: cannot make a temporary copy in %s%s: %s", path, dir,
		    tmp && *tmp ? " ($TMPDIR)" : "", strerror(errno)), -1;
	if (!(buf = malloc(1u << 20))) {
		close(fd);
		return bs_err_set(e, BS_ENOMEM, "out of memory"), -1;
	}
	while ((got = bs_read_full(in, buf, 1u << 20)) > 0)
		if (bs_write_all(fd, buf, (size_t)got) < 0) {
			got = -1;
			break;
		}
	free(buf);
	if (got < 0) {
		bs_err_set(e, BS_EIO, "%s: cannot make a temporary copy in %s: %s", path, dir, strerror(errno));
		close(fd);
		return -1;
	}
	if (lseek(fd, 0, SEEK_SET) < 0) {
		bs_err_set(e, BS_EIO, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int
bs_model_open(const char *path, struct bs_model **mp, struct bs_err *e)
{
	struct bs_model *m;
	struct stat sb;
	uint8_t magic[4];
	int fd = -1, rc;

	*mp = NULL;
	if (!(m = calloc(1, sizeof *m)) || !(m->path = strdup(path))) {
		free(m);
		return bs_err_set(e, BS_ENOMEM, "out of memory");
	}
	if (strcmp(path, "-") == 0) {	/* the stream itself comes there */
		rc = bs_err_set(e, BS_EUSAGE, "-: a base is a file or a folder, not standard input");
		goto fail;
	}
	if (stat(path, &sb) < 0) {
		rc = bs_err_set(e, BS_EIO, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (S_ISDIR(sb.st_mode)) {
		if ((rc = add_folder(m, path, e)) < 0)
			goto fail;
	} else if (!S_ISREG(sb.st_mode) && !S_ISFIFO(sb.st_mode)) {
		/* a device such as /dev/zero would be spooled without end */
		rc = bs_err_set(e, BS_EIO, "%s: not a regular file, folder or pipe", path);
		goto fail;
	} else {
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
			rc = bs_err_set(e, BS_EIO, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (!S_ISREG(sb.st_mode)) {
			int copy = bs_spool_fd(fd, path, e);
			close(fd);
			if (copy < 0) {
				rc = e->code;
				goto fail;
			}
			fd = copy;
		}
		if ((rc = add_fd(m, fd, e)) < 0)
			goto fail;
		if (fstat(fd, &sb) < 0) {
			rc = bs_err_set(e, BS_EIO, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (sb.st_size >= 4 && pread_all(fd, magic, 4, 0) == 1 && memcmp(magic, bs_sync, 4) == 0)
			rc = add_stream(m, fd, (uint64_t)sb.st_size, e);
		else if ((rc = add_safetensors(m, fd, path, strrchr(path, '/') ?
		    strrchr(path, '/') + 1 : path, (uint64_t)sb.st_size, e)) == BS_ECORRUPT &&
		    m->n == 0) {
			/* no sync marker and no safetensors header: say both */
			char why[sizeof e->msg];
			size_t pl = strlen(path);
			snprintf(why, sizeof why, "%s", strncmp(e->msg, path, pl) == 0 &&
			    e->msg[pl] == ':' ? e->msg + pl + 2 : e->msg);
			rc = bs_err_set(e, BS_ECORRUPT,
			    "%s: neither a bigsmall stream nor a safetensors file (%s)", path, why);
		}
		if (rc < 0)
			goto fail;
	}
	if (!(m->sorted = malloc((m->n ? m->n : 1) * sizeof *m->sorted))) {
		rc = bs_err_set(e, BS_ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < m->n; i++)
		m->sorted[i] = &m->e[i];
	qsort(m->sorted, m->n, sizeof *m->sorted, cmp_ment);
	*mp = m;
	return 0;
fail:
	bs_model_close(m);
	return rc;
}

int
bs_model_open_fd(int fd, const char *name, struct bs_model **mp, struct bs_err *e)
{
	char path[64];

	/* through /proc: the same code path, a file of its own */
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	if (bs_model_open(path, mp, e) < 0) {
		char msg[sizeof e->msg];
		const char *rest = strncmp(e->msg, path, strlen(path)) == 0 ? e->msg + strlen(path) : NULL;
		snprintf(msg, sizeof msg, "%s%s", rest ? name : "", rest ? rest : e->msg);
		return bs_err_set(e, e->code, "%s", msg);
	}
	free((*mp)->path);
	if (!((*mp)->path = strdup(name))) {
		bs_model_close(*mp);
		*mp = NULL;
		return bs_err_set(e, BS_ENOMEM, "out of memory");
	}
	return 0;
}

void
bs_model_close(struct bs_model *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free((char *)m->e[i].pub.name);
		free(m->e[i].ch);
	}
	for (size_t i = 0; i < m->nf; i++)
		free((char *)m->f[i].pub.path);
	free(m->f);
	for (size_t i = 0; i < m->nfd; i++)
		close(m->fd[i]);
	free(m->fd);
	free(m->e);
	free(m->sorted);
	free(m->cache);
	free(m->frame);
	free(m->hb);
	free(m->path);
	free(m);
}

/* Paths in byte order, a prefix first. */
static int
path_cmp(const struct mfile *a, const struct mfile *b)
{
	size_t n = a->pub.path_len < b->pub.path_len ? a->pub.path_len : b->pub.path_len;
	int c = memcmp(a->pub.path, b->pub.path, n);

	return c ? c : (a->pub.path_len > b->pub.path_len) - (a->pub.path_len < b->pub.path_len);
}

/* The file entry t belongs to (entries are in catalogue order, each
 * file's a run of them). */
static const struct mfile *
file_of(const struct bs_model *m, const struct ment *t)
{
	size_t i = (size_t)(t - m->e), lo = 0, hi = m->nf;

	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (m->f[mid].pub.first <= i)
			lo = mid;
		else
			hi = mid;
	}
	return lo < m->nf && m->f[lo].pub.first <= i &&
	    i < m->f[lo].pub.first + m->f[lo].pub.count ? &m->f[lo] : NULL;
}

/* The run of sorted entries of that name: its first, and *n of them (0:
 * none). */
static struct ment **
name_run(const struct bs_model *m, const char *name, size_t len, int blob,
    size_t *n)
{
	struct ment key, *kp = &key, **hit, **end = m->sorted + m->n, **h;

	memset(&key, 0, sizeof key);
	key.pub.name = name;
	key.pub.name_len = (uint32_t)len;
	key.pub.blob = blob ? 1 : 0;
	*n = 0;
	if (!(hit = bsearch(&kp, m->sorted, m->n, sizeof *m->sorted, cmp_ment)))
		return NULL;
	while (hit > m->sorted && cmp_ment(hit - 1, &kp) == 0)
		hit--;
	for (h = hit; h < end && cmp_ment(h, &kp) == 0; h++)
		;
	*n = (size_t)(h - hit);
	return hit;
}

const struct bs_model_entry *
bs_model_find_in(const struct bs_model *m, const char *path, size_t path_len,
    const char *name, size_t len, int blob)
{
	size_t n;
	struct ment **run = name_run(m, name, len, blob, &n);

	if (!run)
		return NULL;
	/* a name in several files: the one in the file of that path, else
	 * the one in the first file by path (byte order, as a folder lists
	 * them; a stream may hold its files in any order) */
	const struct ment *first = run[0];
	const struct mfile *ff = file_of(m, first);
	for (size_t i = 0; i < n; i++) {
		const struct mfile *f = file_of(m, run[i]);
		if (path && f && f->pub.path_len == path_len &&
		    memcmp(f->pub.path, path, path_len) == 0)
			return &run[i]->pub;
		if (f && ff && path_cmp(f, ff) < 0) {
			first = run[i];
			ff = f;
		}
	}
	return &first->pub;
}

size_t
bs_model_entry_index(const struct bs_model *m, const struct bs_model_entry *t)
{
	return (size_t)((const struct ment *)t - m->e);
}

const struct bs_model_file *
bs_model_entry_file(const struct bs_model *m, const struct bs_model_entry *t)
{
	const struct mfile *f = file_of(m, (const struct ment *)t);

	return f ? &f->pub : NULL;
}

const struct bs_model_entry *
bs_model_find_entry(const struct bs_model *m, const struct bs_model *of,
    const struct bs_model_entry *t)
{
	const struct bs_model_file *f = bs_model_entry_file(of, t);

	return bs_model_find_in(m, f ? f->path : NULL, f ? f->path_len : 0,
	    t->name, t->name_len, t->blob);
}

size_t
bs_model_name_count(const struct bs_model *m, const char *name, size_t len, int blob)
{
	size_t n;

	name_run(m, name, len, blob, &n);
	return n;
}

const struct bs_model_entry *
bs_model_find(const struct bs_model *m, const char *name, size_t len, int blob)
{
	return bs_model_find_in(m, NULL, 0, name, len, blob);
}

/* ----------------------------------------------------------------- read */

/* Decode chunk i of stream tensor t into m->cache. */
static int
load_chunk(struct bs_model *m, const struct ment *t, size_t i, struct bs_err *e)
{
	const struct chunkref *c = &t->ch[i];
	int fd = m->fd[t->src];
	struct bs_frame f;
	const char *why = NULL;
	uint8_t *whole;
	int rc;

	if (m->cache_t == t && m->cache_i == i)
		return 0;
	m->cache_t = NULL;
	if ((rc = frame_meta(m, fd, c->frame_off, &f, &why)) < 0 || f.type != BS_F_CHUNK)
		return bs_err_set(e, rc < 0 ? rc : BS_ECORRUPT, "%s: tensor '%s': chunk at offset %llu: %s",
		    m->path, t->pub.name, (unsigned long long)c->frame_off, why ? why : "not a chunk");
	if (f.payload_len > BS_MAX_CHUNK + 64u)
		return bs_err_set(e, BS_ECORRUPT, "%s: chunk at offset %llu too large", m->path,
		    (unsigned long long)c->frame_off);
	if (!m->cache && !(m->cache = malloc(BS_MAX_CHUNK)))
		return bs_err_set(e, BS_ENOMEM, "out of memory");
	if (!(whole = malloc(f.payload_len + 8)))
		return bs_err_set(e, BS_ENOMEM, "out of memory");
	if (pread_all(fd, whole, f.payload_len + 8, c->frame_off + BS_FRAME_HEADER + f.meta_len) != 1) {
		free(whole);
		return bs_err_set(e, BS_ETRUNC, "%s: chunk at offset %llu cut short", m->path,
		    (unsigned long long)c->frame_off);
	}
	if (get64(whole + f.payload_len) != bs_xxh64(whole, f.payload_len)) {
		free(whole);
		return bs_err_set(e, BS_ECHECKSUM, "%s: tensor '%s': chunk at offset %llu: payload checksum mismatch",
		    m->path, t->pub.name, (unsigned long long)c->frame_off);
	}
	if (f.u.chunk.codec == BS_C_NONE && f.payload_len == c->raw_len)
		memcpy(m->cache, whole, c->raw_len), rc = 0;
	else
		rc = bs_chunk_decode(f.u.chunk.codec, t->pub.dtype, whole, f.payload_len,
		    m->cache, c->raw_len);
	free(whole);
	if (rc < 0)
		return bs_err_set(e, rc, "%s: tensor '%s': chunk at offset %llu does not decode",
		    m->path, t->pub.name, (unsigned long long)c->frame_off);
	m->cache_t = t;
	m->cache_i = i;
	return 0;
}

int
bs_model_pread(const struct bs_model *m, const struct bs_model_entry *pub,
    uint64_t off, void *buf, size_t n, struct bs_err *e)
{
	const struct ment *t = (const struct ment *)pub;
	int r;

	if (m->is_stream)
		return bs_err_set(e, BS_EUSAGE, "%s: a stream is read through bs_model_read", m->path);
	if (off > t->pub.size || n > t->pub.size - off)
		return bs_err_set(e, BS_EUSAGE, "%s: read past the end of '%s'", m->path, t->pub.name);
	if ((r = pread_all(m->fd[t->src], buf, n, t->data_off + off)) != 1)
		return bs_err_set(e, r < 0 ? BS_EIO : BS_ETRUNC, "%s: '%s': %s", m->path,
		    t->pub.name, r < 0 ? strerror(errno) : "file cut short");
	return 0;
}

int
bs_model_is_stream(const struct bs_model *m)
{
	return m->is_stream;
}

int
bs_model_read(struct bs_model *m, const struct bs_model_entry *pub,
    uint64_t off, void *buf, size_t n, struct bs_err *e)
{
	const struct ment *t = (const struct ment *)pub;
	uint8_t *out = buf;

	if (off > t->pub.size || n > t->pub.size - off)
		return bs_err_set(e, BS_EUSAGE, "%s: read past the end of '%s'", m->path, t->pub.name);
	if (!m->is_stream && m->hb_t == t && off >= m->hb_off &&
	    off - m->hb_off + n <= m->hb_len) {
		memcpy(buf, m->hb + (off - m->hb_off), n);
		return 0;
	}
	if (!m->is_stream)
		return bs_model_pread(m, pub, off, buf, n, e);
	while (n > 0) {
		size_t lo = 0, hi = t->nch, i, k;
		uint64_t in;
		while (hi - lo > 1) {		/* last chunk starting at or before off */
			size_t mid = (lo + hi) / 2;
			if (t->ch[mid].offset <= off)
				lo = mid;
			else
				hi = mid;
		}
		i = lo;
		if (load_chunk(m, t, i, e) < 0)
			return e->code;
		in = off - t->ch[i].offset;
		k = t->ch[i].raw_len - in < n ? (size_t)(t->ch[i].raw_len - in) : n;
		memcpy(out, m->cache + in, k);
		out += k;
		off += k;
		n -= k;
	}
	return 0;
}

int
bs_model_hash(struct bs_model *m, const struct bs_model_entry *pub,
    struct bs_hash128 *h, struct bs_err *e)
{
	struct ment *t = (struct ment *)pub;
	struct bs_xxh128_state *st;
	uint8_t *buf;
	uint64_t off = 0;
	int rc = 0;

	if (t->have_hash) {
		*h = t->hash;
		return 0;
	}
	st = bs_xxh128_new();
	m->hb_t = NULL;		/* its buffer is reused below */
	buf = m->hb ? m->hb : malloc(1u << 20);
	m->hb = buf;
	if (!st || !buf) {	/* buf, if any, stays m->hb's */
		bs_xxh128_free(st);
		return bs_err_set(e, BS_ENOMEM, "out of memory");
	}
	while (off < t->pub.size) {
		size_t k = t->pub.size - off < (1u << 20) ? (size_t)(t->pub.size - off) : (1u << 20);
		if ((rc = bs_model_read(m, pub, off, buf, k, e)) < 0)
			break;
		bs_xxh128_update(st, buf, k);
		m->hb_t = t, m->hb_off = off, m->hb_len = k;
		off += k;
	}
	if (rc == 0) {
		t->hash = bs_xxh128_digest(st);
		t->have_hash = 1;
		*h = t->hash;
	}
	bs_xxh128_free(st);
	if (rc < 0)
		m->hb_t = NULL;
	return rc;
}

const struct bs_model_file *
bs_model_file_find(const struct bs_model *m, const char *path, size_t len)
{
	for (size_t i = 0; i < m->nf; i++)
		if (m->f[i].pub.path_len == len && memcmp(m->f[i].pub.path, path, len) == 0)
			return &m->f[i].pub;
	return NULL;
}

int
bs_model_file_header(struct bs_model *m, const struct bs_model_file *pub,
    uint8_t **buf, size_t *len, struct bs_err *e)
{
	const struct mfile *f = (const struct mfile *)pub;

	*buf = NULL;
	*len = 0;
	if (pub->kind != BS_FILE_SAFETENSORS)
		return 0;
	if (!(*buf = malloc(f->hdr_len ? f->hdr_len : 1)))
		return bs_err_set(e, BS_ENOMEM, "out of memory");
	if (pread_all(m->fd[f->src], *buf, f->hdr_len, f->hdr_off) != 1) {
		free(*buf);
		*buf = NULL;
		return bs_err_set(e, BS_EIO, "%s: %s: cannot read its header", m->path, pub->path);
	}
	*len = f->hdr_len;
	return 0;
}

int
bs_model_file_sha256(struct bs_model *m, const struct bs_model_file *f,
    uint8_t out[32], struct bs_err *e)
{
	struct bs_sha256 *sha = bs_sha256_new();
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	if (!sha)
		return bs_err_set(e, BS_ENOMEM, "out of memory");
	if ((rc = bs_model_file_header(m, f, &buf, &len, e)) < 0)
		goto out;
	bs_sha256_update(sha, buf, len);
	free(buf);
	if (!(buf = malloc(BS_DEFAULT_CHUNK))) {
		rc = bs_err_set(e, BS_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < f->count && rc == 0; i++) {
		const struct bs_model_entry *t = bs_model_entry_at(m, f->first + i);
		for (uint64_t off = 0; off < t->size && rc == 0; off += len) {
			len = t->size - off < BS_DEFAULT_CHUNK ? (size_t)(t->size - off) : BS_DEFAULT_CHUNK;
			if ((rc = bs_model_read(m, t, off, buf, len, e)) == 0)
				bs_sha256_update(sha, buf, len);
		}
	}
	if (rc == 0)
		bs_sha256_final(sha, out);
out:
	free(buf);
	bs_sha256_free(sha);
	return rc;
}
