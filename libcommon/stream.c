/*
 * stream.c - the stream reader, which checks every checksum and the grammar
 * of bs-stream(5) as frames go by, and the stream writer, which computes
 * the checksums and keeps the index written before END.  Neither seeks.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bs.h"
#include "internal.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
    "the stream is little-endian and so is this code");

/* -------------------------------------------------------------- reader */

enum state { S_OUTSIDE, S_MEMBER, S_FILE, S_TENSOR, S_INDEXED };

struct bs_reader {
	int fd, own_fd;
	char *name;
	uint64_t pos, nframes, members;
	struct bs_err err;
	/* grammar */
	enum state state;
	uint64_t member_start, index_at, index_len;
	struct bs_frame *file_frame, *tensor_frame;	/* kept while open */
	struct bs_st st;
	int have_st;
	size_t next_tensor;		/* of st */
	int blob_tensors;
	uint64_t file_bytes;		/* tensor bytes of the file so far */
	uint64_t chunk_off, nchunks;
	uint64_t files, tensors, raw_bytes;
	/* resynchronisation (bs_reader_resync) */
	uint8_t *push;			/* bytes to read again before the fd */
	size_t push_len, push_off;
	uint8_t *lost;			/* the bytes of the frame that failed */
	size_t lost_len;
	uint64_t lost_at;
	int damaged_member;		/* END's length, index and counts unchecked */
	int damaged_file;		/* FEND's tensor count unchecked */
	int orphan_fend;		/* the FILE was lost: skip its FEND */
	uint64_t lost_files;		/* FEND frames so skipped */
	int defer_chunks;		/* CHUNK payloads left to bs_frame_check */
	/* read-ahead: small frames come out of one read() instead of two
	 * system calls each */
	uint8_t *ahead;
	size_t ahead_len, ahead_off;
};

#define AHEAD (128u << 10)	/* read-ahead size; larger reads go direct */

struct bs_reader *
bs_reader_open_fd(int fd, const char *name)
{
	struct bs_reader *r = calloc(1, sizeof *r);

	if (!r || !(r->name = strdup(name))) {
		free(r);
		return NULL;
	}
	r->fd = fd;
	return r;
}

struct bs_reader *
bs_reader_open(const char *path)
{
	struct bs_reader *r;
	int fd;

	if (strcmp(path, "-") == 0)
		return bs_reader_open_fd(STDIN_FILENO, "<stdin>");
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return NULL;
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	if (!(r = bs_reader_open_fd(fd, path))) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	r->own_fd = 1;
	return r;
}

void
bs_frame_free(struct bs_frame *f)
{
	if (!f)
		return;
	free(f->bytes);
	free(f);
}

static void
close_file(struct bs_reader *r)
{
	bs_frame_free(r->file_frame);
	r->file_frame = NULL;
	if (r->have_st)
		bs_st_free(&r->st);
	r->have_st = 0;
	r->damaged_file = 0;
}

/* Read up to n bytes, the pushed-back ones first, then the read-ahead,
 * then the fd; fewer only at the end. */
static ssize_t
rd(struct bs_reader *r, void *p, size_t n)
{
	size_t got = 0;
	ssize_t more;

	if (r->push_off < r->push_len) {
		got = r->push_len - r->push_off < n ? r->push_len - r->push_off : n;
		memcpy(p, r->push + r->push_off, got);
		r->push_off += got;
		if (r->push_off == r->push_len) {
			free(r->push);
			r->push = NULL;
			r->push_len = r->push_off = 0;
		}
	}
	while (got < n) {
		if (r->ahead_off < r->ahead_len) {
			size_t k = r->ahead_len - r->ahead_off;
			if (k > n - got)
				k = n - got;
			memcpy((uint8_t *)p + got, r->ahead + r->ahead_off, k);
			r->ahead_off += k;
			got += k;
			continue;
		}
		if (n - got >= AHEAD / 2 || (!r->ahead && !(r->ahead = malloc(AHEAD)))) {
			/* a large payload: straight into place */
			if ((more = bs_read_full(r->fd, (uint8_t *)p + got, n - got)) < 0)
				return -1;
			got += (size_t)more;
			break;
		}
		/* whatever one read gives (a pipe need not fill it) */
		while ((more = read(r->fd, r->ahead, AHEAD)) < 0 && errno == EINTR)
			;
		if (more < 0)
			return -1;
		if (more == 0)
			break;
		r->ahead_len = (size_t)more;
		r->ahead_off = 0;
	}
	return (ssize_t)got;
}

/* Put the read-ahead bytes behind the pushed-back ones, for code that
 * reads the fd itself (the resynchronisation scan). */
static int
unread_ahead(struct bs_reader *r)
{
	size_t a = r->ahead_len - r->ahead_off, pl = r->push_len - r->push_off;
	uint8_t *np;

	if (!a)
		return 0;
	if (!(np = malloc(pl + a)))
		return bs_err_set(&r->err, BS_ENOMEM, "out of memory");
	if (pl)
		memcpy(np, r->push + r->push_off, pl);
	memcpy(np + pl, r->ahead + r->ahead_off, a);
	free(r->push);
	r->push = np;
	r->push_len = pl + a;
	r->push_off = 0;
	r->ahead_len = r->ahead_off = 0;
	return 0;
}

/* Keep the bytes of a frame that failed (n bytes at p from offset at),
 * for bs_reader_resync() to scan again; takes p when own. */
static void
stash(struct bs_reader *r, uint8_t *p, size_t n, uint64_t at, int own)
{
	free(r->lost);
	r->lost = NULL;
	r->lost_len = 0;
	r->lost_at = at;
	if (own) {
		r->lost = p;
		r->lost_len = n;
	} else if (n && (r->lost = malloc(n))) {
		memcpy(r->lost, p, n);
		r->lost_len = n;
	}
}

void
bs_reader_close(struct bs_reader *r)
{
	if (!r)
		return;
	close_file(r);
	bs_frame_free(r->tensor_frame);
	free(r->push);
	free(r->lost);
	free(r->ahead);
	if (r->own_fd)
		close(r->fd);
	free(r->name);
	free(r);
}

const char *bs_reader_errmsg(const struct bs_reader *r) { return r->err.msg; }
const char *bs_reader_name(const struct bs_reader *r) { return r->name; }
uint64_t bs_reader_offset(const struct bs_reader *r) { return r->pos; }

const struct bs_tensor_info *
bs_reader_tensor(const struct bs_reader *r)
{
	return r->state == S_TENSOR ? &r->tensor_frame->u.tensor : NULL;
}

const struct bs_file_info *
bs_reader_file(const struct bs_reader *r)
{
	return r->file_frame ? &r->file_frame->u.file : NULL;
}

const struct bs_st *
bs_reader_st(const struct bs_reader *r)
{
	return r->have_st ? &r->st : NULL;
}

static const char *
where(const struct bs_reader *r)
{
	switch (r->state) {
	case S_TENSOR: return "inside a tensor";
	case S_FILE: return "inside a file record";
	case S_MEMBER: case S_INDEXED: return "before the end record";
	default: return "";
	}
}

/* Error about frame f (number, offset) with a reason. */
static int
ferr(struct bs_reader *r, const struct bs_frame *f, int code, const char *why)
{
	return bs_err_set(&r->err, code, "frame %llu (%s) at offset %llu: %s",
	    (unsigned long long)f->number, bs_ftype_name(f->type),
	    (unsigned long long)f->offset, why);
}

/* Largest payload a frame of type t may carry. */
static uint64_t
payload_limit(int t)
{
	switch (t) {
	case BS_F_CHUNK: return BS_MAX_CHUNK;
	case BS_F_FILE: return 8 + (uint64_t)BS_MAX_ST_HEADER;
	case BS_F_INDEX: return 1ull << 30;
	case BS_F_STREAM: case BS_F_TENSOR: case BS_F_TEND: case BS_F_FEND:
	case BS_F_END: return 0;
	default: return 256ull << 20;
	}
}

/* Read exactly n bytes at p; BS_ETRUNC with a message at a short read. */
static int
read_exact(struct bs_reader *r, uint8_t *p, size_t n, uint64_t frame_at, size_t *gotp)
{
	ssize_t got = rd(r, p, n);

	*gotp = got > 0 ? (size_t)got : 0;
	if (got < 0)
		return bs_err_set(&r->err, BS_EIO, "read error at offset %llu: %s",
		    (unsigned long long)r->pos, strerror(errno));
	r->pos += (uint64_t)got;
	if ((size_t)got < n)
		return bs_err_set(&r->err, BS_ETRUNC,
		    "unexpected end of stream at offset %llu (frame at offset %llu cut short)",
		    (unsigned long long)r->pos, (unsigned long long)frame_at);
	return 0;
}

void
bs_reader_defer_chunk_checks(struct bs_reader *r)
{
	r->defer_chunks = 1;
}

int
bs_frame_check(const struct bs_frame *f)
{
	if (f->unchecked &&
	    get64(f->payload + f->payload_len) != bs_xxh64(f->payload, f->payload_len))
		return BS_ECHECKSUM;
	return 0;
}

/* Read one frame's bytes and check its checksums. */
static int
read_frame(struct bs_reader *r, struct bs_frame **fp)
{
	uint8_t hdr[BS_FRAME_HEADER];
	struct bs_frame *f;
	const char *why = NULL;
	uint64_t total, have = 0;
	size_t cap;
	ssize_t got;
	int rc;

	*fp = NULL;
	stash(r, NULL, 0, r->pos, 0);
	got = rd(r, hdr, sizeof hdr);
	if (got < 0)
		return bs_err_set(&r->err, BS_EIO, "read error at offset %llu: %s",
		    (unsigned long long)r->pos, strerror(errno));
	if (got == 0) {
		if (r->state == S_OUTSIDE && r->members > 0)
			return BS_EOF;
		if (r->pos == 0)
			return bs_err_set(&r->err, BS_ETRUNC, "empty input: not a bigsmall stream");
		return bs_err_set(&r->err, BS_ETRUNC,
		    "unexpected end of stream at offset %llu (%s)",
		    (unsigned long long)r->pos, where(r));
	}
	r->pos += (uint64_t)got;
	if ((size_t)got < sizeof hdr) {
		stash(r, hdr, (size_t)got, r->pos - (uint64_t)got, 0);
		/* a few bytes that do not even start like a stream */
		if (r->pos == (uint64_t)got && memcmp(hdr, bs_sync, (size_t)got < 4 ? (size_t)got : 4) != 0)
			return bs_err_set(&r->err, BS_ECORRUPT,
			    "not a bigsmall stream (no frame sync marker at offset 0)");
		return bs_err_set(&r->err, BS_ETRUNC,
		    "unexpected end of stream at offset %llu (frame header cut short)",
		    (unsigned long long)r->pos);
	}
	if (!(f = calloc(1, sizeof *f)))
		return bs_err_set(&r->err, BS_ENOMEM, "out of memory");
	f->offset = r->pos - sizeof hdr;
	f->number = r->nframes++;
	rc = bs_frame_header_parse(hdr, &f->type, &f->flags, &f->meta_len,
	    &f->payload_len, &why);
	if (rc < 0) {
		if (r->pos == sizeof hdr && rc == BS_ECORRUPT)
			why = hdr[8] == '{' && get64(hdr) < (1ull << 32) ?
			    "not a bigsmall stream but a safetensors file (bs-split makes a stream of it)" :
			    "not a bigsmall stream (no frame sync marker at offset 0)";
		ferr(r, f, rc, why);
		goto fail;
	}
	if (f->meta_len > BS_MAX_META) {
		ferr(r, f, BS_ECORRUPT, "meta length out of range");
		goto fail;
	}
	if (f->payload_len > payload_limit(f->type)) {
		ferr(r, f, BS_ECORRUPT, "payload length out of range for its frame type");
		goto fail;
	}
	total = BS_FRAME_HEADER + f->meta_len + f->payload_len + BS_FRAME_TRAILER;
	/* grow with the data actually read: a lying length costs nothing */
	cap = total < (16u << 20) ? (size_t)total : (16u << 20);
	if (!(f->bytes = malloc(cap))) {
		rc = bs_err_set(&r->err, BS_ENOMEM, "out of memory");
		goto fail;
	}
	memcpy(f->bytes, hdr, sizeof hdr);
	have = sizeof hdr;
	while (have < total) {
		size_t step;
		if (have == cap) {
			size_t ncap = total - cap < cap ? (size_t)total : 2 * cap;
			uint8_t *nb = realloc(f->bytes, ncap);
			if (!nb) {
				rc = bs_err_set(&r->err, BS_ENOMEM, "out of memory");
				goto fail;
			}
			f->bytes = nb;
			cap = ncap;
		}
		size_t part;
		step = cap - have;
		rc = read_exact(r, f->bytes + have, step, f->offset, &part);
		have += part;
		if (rc < 0)
			goto fail;
	}
	f->size = (size_t)total;
	f->meta = f->bytes + BS_FRAME_HEADER;
	f->payload = f->meta + f->meta_len;
	if (get32(hdr + 20) != bs_xxh32(f->meta, f->meta_len)) {
		rc = ferr(r, f, BS_ECHECKSUM, "meta checksum mismatch");
		goto fail;
	}
	if (r->defer_chunks && f->type == BS_F_CHUNK)
		f->unchecked = 1;
	else if (get64(f->payload + f->payload_len) != bs_xxh64(f->payload, f->payload_len)) {
		rc = ferr(r, f, BS_ECHECKSUM, "payload checksum mismatch");
		goto fail;
	}
	if ((rc = bs_frame_meta_parse(f, &why)) < 0) {
		ferr(r, f, rc, why);
		goto fail;
	}
	*fp = f;
	return 0;
fail:
	if (f->bytes) {
		stash(r, f->bytes, (size_t)have, f->offset, 1);
		f->bytes = NULL;
	} else
		stash(r, hdr, sizeof hdr, f->offset, 0);
	bs_frame_free(f);
	return r->err.code;
}

/* A copy of f with its own bytes and pointers into them. */
static struct bs_frame *
frame_dup(const struct bs_frame *f)
{
	struct bs_frame *c = malloc(sizeof *c);
	const char *why;

	if (!c)
		return NULL;
	*c = *f;
	if (!(c->bytes = malloc(f->size))) {
		free(c);
		return NULL;
	}
	memcpy(c->bytes, f->bytes, f->size);
	c->meta = c->bytes + BS_FRAME_HEADER;
	c->payload = c->meta + c->meta_len;
	bs_frame_meta_parse(c, &why);	/* re-points names into c->bytes */
	return c;
}

static int
name_eq(const char *a, size_t alen, const char *b, size_t blen)
{
	return alen == blen && memcmp(a, b, alen) == 0;
}

/* Check frame f against the grammar; update the state. */
static int
grammar(struct bs_reader *r, struct bs_frame *f)
{
	char why[256];

	switch (f->type) {
	case BS_F_STREAM:
		if (r->state != S_OUTSIDE)
			return ferr(r, f, BS_ECORRUPT, "stream header inside a member (previous member not ended)");
		if (f->u.stream.version != BS_STREAM_VERSION) {
			snprintf(why, sizeof why, "stream version %u is not supported (this reader knows version %d)",
			    f->u.stream.version, BS_STREAM_VERSION);
			return ferr(r, f, BS_EUNSUPPORTED, why);
		}
		r->state = S_MEMBER;
		r->member_start = f->offset;
		r->damaged_member = 0;
		r->index_at = 0;
		r->files = r->tensors = r->raw_bytes = 0;
		r->members++;
		return 0;
	case BS_F_FILE: {
		struct bs_file_info *fi = &f->u.file;
		if (r->state != S_MEMBER)
			return ferr(r, f, BS_ECORRUPT, "file record where none may start");
		for (uint32_t i = 0; i < fi->path_len; i++)
			if (fi->path[i] == 0)
				return ferr(r, f, BS_ECORRUPT, "file path contains a NUL byte");
		if (fi->kind == BS_FILE_SAFETENSORS) {
			uint64_t n;
			if (f->payload_len < 8)
				return ferr(r, f, BS_ECORRUPT, "safetensors file record without its header");
			n = get64(f->payload);
			if (n != f->payload_len - 8)
				return ferr(r, f, BS_ECORRUPT, "safetensors header length does not match the record");
			if (bs_st_parse(f->payload + 8, n, fi->size, &r->st, &r->err) < 0) {
				snprintf(why, sizeof why, "%.*s: %s", (int)(fi->path_len > 100 ? 100 : fi->path_len),
				    fi->path, r->err.msg);
				return ferr(r, f, r->err.code, why);
			}
			r->have_st = 1;
		} else if (f->payload_len)
			return ferr(r, f, BS_ECORRUPT, fi->kind == BS_FILE_REF ?
			    "file reference with a payload" : "blob file record with a payload");
		else if (fi->kind == BS_FILE_REF && fi->size == BS_SIZE_UNKNOWN)
			return ferr(r, f, BS_ECORRUPT, "file reference without its size");
		r->file_frame = f;
		r->next_tensor = 0;
		r->blob_tensors = 0;
		r->file_bytes = 0;
		r->state = S_FILE;
		r->files++;
		return 1;	/* kept */
	}
	case BS_F_TENSOR: {
		struct bs_tensor_info *t = &f->u.tensor;
		uint64_t bytes;
		const char *w;
		if (r->state != S_MEMBER && r->state != S_FILE)
			return ferr(r, f, BS_ECORRUPT, "tensor record where none may start");
		if (r->state == S_FILE && r->file_frame->u.file.kind == BS_FILE_REF)
			return ferr(r, f, BS_ECORRUPT, "tensor record inside a file reference");
		/* a blob's bytes, or a reference to a base's blob (dtype BYTES) */
		if (t->kind == BS_T_BLOB || (t->kind == BS_T_REF && t->dtype == BS_DT_BYTES)) {
			if (r->state != S_FILE || r->file_frame->u.file.kind != BS_FILE_BLOB)
				return ferr(r, f, BS_ECORRUPT, "blob data outside a blob file record");
			if (r->blob_tensors++)
				return ferr(r, f, BS_ECORRUPT, "second data record in a blob file");
			if (t->dtype != BS_DT_BYTES || t->rank != 0)
				return ferr(r, f, BS_ECORRUPT, "blob data with a dtype or shape");
			if (t->kind == BS_T_REF && t->size == BS_SIZE_UNKNOWN)
				return ferr(r, f, BS_ECORRUPT, "blob reference without its size");
			if (!name_eq(t->name, t->name_len, r->file_frame->u.file.path,
			    r->file_frame->u.file.path_len))
				return ferr(r, f, BS_ECORRUPT, "blob data named otherwise than its file");
		} else {
			if (t->dtype == BS_DT_BYTES)
				return ferr(r, f, BS_ECORRUPT, "tensor of dtype BYTES");
			if (bs_tensor_bytes(t->dtype, t->shape, t->rank, &bytes, &w) < 0)
				return ferr(r, f, BS_ECORRUPT, w);
			if (bytes != t->size)
				return ferr(r, f, BS_ECORRUPT, "tensor size does not match its shape and dtype");
			if (r->state == S_FILE) {
				const struct bs_st_tensor *e;
				if (!r->have_st)
					return ferr(r, f, BS_ECORRUPT, "tensor inside a blob file record");
				if (r->next_tensor >= r->st.n)
					return ferr(r, f, BS_ECORRUPT, "more tensors than the file's header lists");
				e = &r->st.t[r->next_tensor];
				if (!name_eq(t->name, t->name_len, e->name, e->name_len) ||
				    t->dtype != e->dtype || t->rank != e->rank ||
				    memcmp(t->shape, e->shape, t->rank * sizeof t->shape[0]) != 0) {
					snprintf(why, sizeof why, "tensor '%.*s' is not the next one the file's header lists ('%.*s')",
					    (int)(t->name_len > 80 ? 80 : t->name_len), t->name,
					    (int)(e->name_len > 80 ? 80 : e->name_len), e->name);
					return ferr(r, f, BS_ECORRUPT, why);
				}
			}
		}
		if (r->state == S_MEMBER && t->kind == BS_T_BLOB)
			return ferr(r, f, BS_ECORRUPT, "blob data outside a file");
		r->tensor_frame = f;
		r->chunk_off = 0;
		r->nchunks = 0;
		r->state = S_TENSOR;
		r->tensors++;
		return 1;
	}
	case BS_F_CHUNK: {
		struct bs_chunk_info *c = &f->u.chunk;
		const struct bs_tensor_info *t;
		if (r->state != S_TENSOR)
			return ferr(r, f, BS_ECORRUPT, "chunk outside a tensor");
		t = &r->tensor_frame->u.tensor;
		if (t->kind == BS_T_REF)
			return ferr(r, f, BS_ECORRUPT, "chunk in a tensor reference");
		if (c->offset != r->chunk_off)
			return ferr(r, f, BS_ECORRUPT, "chunk out of order (offset does not follow the previous chunk)");
		if (c->raw_len == 0 || c->raw_len > BS_MAX_CHUNK)
			return ferr(r, f, BS_ECORRUPT, "chunk raw length out of range");
		if (t->size != BS_SIZE_UNKNOWN && c->raw_len > t->size - r->chunk_off)
			return ferr(r, f, BS_ECORRUPT, "chunk runs past the end of its tensor");
		if (c->codec == BS_C_NONE && f->payload_len != c->raw_len)
			return ferr(r, f, BS_ECORRUPT, "raw chunk whose payload length is not its raw length");
		if (f->payload_len > c->raw_len + 64)
			return ferr(r, f, BS_ECORRUPT, "coded chunk larger than its raw length");
		if (c->transform > BS_X_SUB)
			return ferr(r, f, BS_EUNSUPPORTED, "unknown chunk transform");
		if (c->transform != BS_X_NONE && t->kind != BS_T_DELTA)
			return ferr(r, f, BS_ECORRUPT, "residual chunk outside a delta tensor");
		r->chunk_off += c->raw_len;
		r->nchunks++;
		return 0;
	}
	case BS_F_TEND: {
		const struct bs_tensor_info *t;
		struct bs_tend_info *te = &f->u.tend;
		if (r->state != S_TENSOR)
			return ferr(r, f, BS_ECORRUPT, "tensor end outside a tensor");
		t = &r->tensor_frame->u.tensor;
		if (t->kind == BS_T_REF) {
			if (te->size != t->size || te->chunks != 0)
				return ferr(r, f, BS_ECORRUPT, "tensor reference end does not match its record");
		} else {
			if (te->size != r->chunk_off || te->chunks != r->nchunks)
				return ferr(r, f, BS_ECORRUPT, "tensor end does not match its chunks (a chunk is missing)");
			if (t->size != BS_SIZE_UNKNOWN && te->size != t->size)
				return ferr(r, f, BS_ECORRUPT, "tensor ends before its size (a chunk is missing)");
		}
		r->raw_bytes += te->size;
		r->file_bytes += te->size;
		r->next_tensor++;
		bs_frame_free(r->tensor_frame);
		r->tensor_frame = NULL;
		r->state = r->file_frame ? S_FILE : S_MEMBER;
		return 0;
	}
	case BS_F_FEND: {
		struct bs_file_info *fi;
		if (r->state != S_FILE)
			return ferr(r, f, BS_ECORRUPT, "file end outside a file record");
		fi = &r->file_frame->u.file;
		if (r->damaged_file) {
			/* after a resynchronisation: the tensors lost are reported */
		} else if (fi->kind == BS_FILE_REF) {
			/* no records: the base's file, whose size is known */
		} else if (r->have_st) {
			if (r->next_tensor != r->st.n)
				return ferr(r, f, BS_ECORRUPT, "file ends before all the tensors its header lists");
			if (f->u.fend.size != 8 + r->st.header_len + r->st.data_len)
				return ferr(r, f, BS_ECORRUPT, "file size does not match its header");
		} else {
			if (r->blob_tensors != 1)
				return ferr(r, f, BS_ECORRUPT, "blob file record without its data");
			if (f->u.fend.size != r->file_bytes)
				return ferr(r, f, BS_ECORRUPT, "blob file size does not match its data");
		}
		if (fi->size != BS_SIZE_UNKNOWN && fi->size != f->u.fend.size)
			return ferr(r, f, BS_ECORRUPT, "file size does not match its record");
		close_file(r);
		r->state = S_MEMBER;
		return 0;
	}
	case BS_F_INDEX: {
		struct bs_index ix;
		const char *w;
		int rc;
		if (r->state != S_MEMBER)
			return ferr(r, f, BS_ECORRUPT, "index inside a record");
		r->index_at = f->offset - r->member_start;
		/* every entry must point into the member before the index */
		if (r->damaged_member)
			;	/* after a resynchronisation the member's start is not known */
		else if ((rc = bs_index_parse(f->payload, f->payload_len, r->index_at, &ix, &w)) < 0)
			return ferr(r, f, rc, w);
		else
			bs_index_free(&ix);
		r->index_len = f->size;
		r->state = S_INDEXED;
		return 0;
	}
	case BS_F_END: {
		struct bs_end_info *en = &f->u.end;
		if (r->state != S_MEMBER && r->state != S_INDEXED)
			return ferr(r, f, BS_ECORRUPT, "end record inside a record (a record is cut short)");
		if (f->size != BS_FOOTER_SIZE)
			return ferr(r, f, BS_ECORRUPT, "end record of the wrong size");
		if (r->damaged_member) {
			/* after a resynchronisation: lengths and counts cannot match */
			r->damaged_member = 0;
			r->state = S_OUTSIDE;
			return 0;
		}
		if (en->member_len != f->offset + f->size - r->member_start)
			return ferr(r, f, BS_ECORRUPT, "end record's member length does not match (bytes missing or added)");
		if (en->index_offset != r->index_at || (r->index_at && en->index_len != r->index_len) ||
		    (r->index_at && f->offset != r->member_start + r->index_at + r->index_len))
			return ferr(r, f, BS_ECORRUPT, "end record does not point at the index just before it");
		if (en->files != r->files || en->tensors != r->tensors || en->raw_bytes != r->raw_bytes)
			return ferr(r, f, BS_ECORRUPT, "end record's counts do not match the member (records missing or added)");
		r->state = S_OUTSIDE;
		return 0;
	}
	default:
		if (!(f->flags & BS_FF_SKIPPABLE)) {
			snprintf(why, sizeof why, "unknown frame type 0x%02x that is not skippable (written by a newer version?)", f->type);
			return ferr(r, f, BS_EUNSUPPORTED, why);
		}
		if (r->state == S_OUTSIDE && r->members == 0 && f->type != BS_F_PARITY)
			return ferr(r, f, BS_ECORRUPT, "stream does not start with a stream header");
		return 0;
	}
}

int
bs_reader_next(struct bs_reader *r, struct bs_frame **fp)
{
	struct bs_frame *f, *copy;
	int rc;

	*fp = NULL;
	if (r->err.code < 0)
		return r->err.code;
	if ((rc = read_frame(r, &f)) != 0) {
		/* the input ended early: in a pipeline stage after the first,
		 * the stage before failed (see bs_upstream_failed) */
		if (rc == BS_ETRUNC && getenv(BS_PIPELINE_ENV))
			bs_upstream_failed = 1;
		return rc;
	}
	if (r->orphan_fend && f->type == BS_F_FEND && r->state == S_MEMBER) {
		/* the end of a file whose FILE frame a resynchronisation lost */
		r->orphan_fend = 0;
		r->lost_files++;
		bs_frame_free(f);
		return bs_reader_next(r, fp);
	}
	if (f->type == BS_F_FILE || f->type == BS_F_INDEX || f->type == BS_F_END ||
	    f->type == BS_F_STREAM)
		r->orphan_fend = 0;
	if (r->state == S_OUTSIDE && f->type != BS_F_STREAM && (f->flags & BS_FF_SKIPPABLE) == 0) {
		ferr(r, f, BS_ECORRUPT, r->members ? "frame after the end record that does not start a new member"
		    : "stream does not start with a stream header");
		bs_frame_free(f);
		return r->err.code;
	}
	rc = grammar(r, f);
	if (rc < 0) {
		bs_frame_free(f);
		return rc;
	}
	if (rc == 1) {
		/* the reader keeps the FILE or TENSOR frame; the caller gets a copy */
		if (!(copy = frame_dup(f)))
			return bs_err_set(&r->err, BS_ENOMEM, "out of memory");
		*fp = copy;
		return 0;
	}
	*fp = f;
	return 0;
}

/* Close the open tensor and, unless keep_file, the open file. */
static void
drop_records(struct bs_reader *r, int keep_file)
{
	bs_frame_free(r->tensor_frame);
	r->tensor_frame = NULL;
	if (!keep_file && r->file_frame) {
		close_file(r);
		r->orphan_fend = 0;
	}
	if (r->state != S_OUTSIDE)
		r->state = r->file_frame ? S_FILE : S_MEMBER;
}

/* Set the grammar state so that the intact frame f, found after damage,
 * can be read as the start of a record: what was open is lost. */
static int
resume_at(struct bs_reader *r, const struct bs_frame *f)
{
	if (f->type == BS_F_STREAM) {
		drop_records(r, 0);
		r->state = S_OUTSIDE;
		return 0;
	}
	if (r->state == S_OUTSIDE) {
		/* the STREAM frame was lost: the member goes on without it */
		r->state = S_MEMBER;
		r->member_start = f->offset;
		r->index_at = 0;
		r->files = r->tensors = r->raw_bytes = 0;
		r->members++;
	}
	r->damaged_member = 1;
	if (f->type == BS_F_TENSOR && r->file_frame) {
		const struct bs_tensor_info *t = &f->u.tensor;
		drop_records(r, 1);
		if (r->have_st) {
			/* a later tensor of the same file: go on with the file */
			for (size_t i = r->next_tensor; i < r->st.n; i++)
				if (t->name_len == r->st.t[i].name_len &&
				    memcmp(t->name, r->st.t[i].name, t->name_len) == 0) {
					r->next_tensor = i;
					r->damaged_file = 1;
					return 1;
				}
		} else if (t->kind == BS_T_BLOB && r->blob_tensors == 0) {
			r->damaged_file = 1;
			return 1;
		}
		drop_records(r, 0);
		r->orphan_fend = 1;
		return 0;
	}
	drop_records(r, 0);
	if (f->type == BS_F_TENSOR)
		r->orphan_fend = 1;	/* maybe a tensor of a file whose FILE was lost */
	return 0;
}

uint64_t
bs_reader_lost_files(const struct bs_reader *r)
{
	return r->lost_files;
}

int
bs_reader_resync(struct bs_reader *r, struct bs_frame **fp,
    struct bs_resync_info *ri)
{
	uint8_t *win;
	size_t len, cap, plen, i;
	uint64_t base;
	struct bs_frame *f;
	int rc;

	*fp = NULL;
	memset(ri, 0, sizeof *ri);
	if (r->err.code == BS_EIO || r->err.code == BS_ENOMEM)
		return r->err.code;
	ri->from = r->lost_at;	/* the start of the frame that failed */
	if ((rc = unread_ahead(r)) < 0)
		return rc;
	/* the first TEND and FEND passed over may end what is open */
	int open_t = r->tensor_frame != NULL, open_f = r->file_frame != NULL;
	for (;;) {
		/* the scan window: the failed frame's bytes after its first,
		 * the bytes pushed back, then more of the input */
		base = r->lost_len ? r->lost_at + 1 : r->pos;
		plen = r->push_len - r->push_off;
		len = r->lost_len ? r->lost_len - 1 : 0;
		cap = len + plen + (64u << 10);
		if (!(win = malloc(cap)))
			return bs_err_set(&r->err, BS_ENOMEM, "out of memory");
		if (len)
			memcpy(win, r->lost + 1, len);
		if (plen)
			memcpy(win + len, r->push + r->push_off, plen);
		len += plen;
		free(r->push);
		r->push = NULL;
		r->push_len = r->push_off = 0;
		stash(r, NULL, 0, 0, 0);
		/* a sync marker whose header check holds */
		for (i = 0;;) {
			uint8_t type, flags;
			uint32_t ml;
			uint64_t pl;
			const char *why;
			ssize_t got;
			for (; i + BS_FRAME_HEADER <= len; i++)
				if (memcmp(win + i, bs_sync, 4) == 0 &&
				    bs_frame_header_parse(win + i, &type, &flags, &ml, &pl, &why) == 0)
					break;
			if (i + BS_FRAME_HEADER <= len)
				break;
			if (len >= BS_FRAME_HEADER) {	/* keep what may start a header */
				size_t keep = BS_FRAME_HEADER - 1;
				memmove(win, win + len - keep, keep);
				base += len - keep;
				len = keep;
			}
			i = 0;
			if ((got = bs_read_full(r->fd, win + len, cap - len)) < 0) {
				free(win);
				return bs_err_set(&r->err, BS_EIO, "read error at offset %llu: %s",
				    (unsigned long long)(base + len), strerror(errno));
			}
			if (got == 0) {
				free(win);
				r->pos = base + len;
				ri->to = r->pos;
				ri->bytes = ri->to - ri->from;
				ri->cut = r->state != S_OUTSIDE || r->members == 0;
				drop_records(r, 0);
				r->state = S_OUTSIDE;
				r->err.code = 0;
				return BS_EOF;
			}
			len += (size_t)got;
		}
		/* read on from the candidate */
		r->pos = base + i;
		memmove(win, win + i, len - i);
		r->push = win;
		r->push_len = len - i;
		r->push_off = 0;
		r->err.code = 0;
		r->err.msg[0] = 0;
		for (;;) {
			if ((rc = read_frame(r, &f)) != 0) {
				if (rc == BS_EIO || rc == BS_ENOMEM)
					return rc;
				if (rc == BS_EOF) {
					ri->to = r->pos;
					ri->bytes = ri->to - ri->from;
					return BS_EOF;
				}
				break;	/* damaged too: scan on from its second byte */
			}
			if (f->type != BS_F_STREAM && f->type != BS_F_FILE && f->type != BS_F_TENSOR &&
			    f->type != BS_F_INDEX && f->type != BS_F_END) {
				/* an intact frame of the damaged record: passed over */
				ri->frames++;
				if (f->type == BS_F_TEND && !open_t)
					ri->records++;
				if (f->type == BS_F_FEND && !open_f)
					ri->files++;
				if (f->type == BS_F_TEND || f->type == BS_F_FEND)
					open_t = 0;
				if (f->type == BS_F_FEND)
					open_f = 0;
				bs_frame_free(f);
				continue;
			}
			ri->file_kept = resume_at(r, f);
			if ((rc = grammar(r, f)) < 0) {
				bs_frame_free(f);
				if (rc == BS_ENOMEM)
					return rc;
				ri->frames++;
				r->err.code = 0;
				continue;	/* no place to resume: read on */
			}
			ri->to = f->offset;
			ri->bytes = ri->to - ri->from;
			if (rc == 1) {
				if (!(*fp = frame_dup(f)))
					return bs_err_set(&r->err, BS_ENOMEM, "out of memory");
			} else
				*fp = f;
			return 0;
		}
	}
}

/* -------------------------------------------------------------- writer */

#define WBUF (256u << 10)

struct bs_writer {
	int fd;
	char *name;
	uint8_t *buf;
	size_t used;
	uint64_t pos, member_start;
	struct bs_err err;
	struct bs_index ix;
	size_t open_file, open_tensor;	/* index entries + 1; 0 when none */
	uint64_t files, tensors, raw_bytes;
};

struct bs_writer *
bs_writer_open_fd(int fd, const char *name)
{
	struct bs_writer *w = calloc(1, sizeof *w);

	if (!w)
		return NULL;
	w->fd = fd;
	w->name = strdup(name);
	w->buf = malloc(WBUF);
	if (!w->name || !w->buf) {
		bs_writer_free(w);
		return NULL;
	}
	return w;
}

void
bs_writer_free(struct bs_writer *w)
{
	if (!w)
		return;
	bs_index_free(&w->ix);
	free(w->buf);
	free(w->name);
	free(w);
}

const char *bs_writer_errmsg(const struct bs_writer *w) { return w->err.msg; }
uint64_t bs_writer_offset(const struct bs_writer *w) { return w->pos; }

static int
wflush(struct bs_writer *w)
{
	if (w->used && bs_write_all(w->fd, w->buf, w->used) < 0)
		return bs_err_set(&w->err, BS_EIO, "%s: write error: %s", w->name, strerror(errno));
	w->used = 0;
	return 0;
}

static int
wput(struct bs_writer *w, const void *p, size_t n)
{
	if (w->err.code < 0)
		return w->err.code;
	if (n == 0)
		return 0;
	w->pos += n;
	if (w->used + n <= WBUF) {
		memcpy(w->buf + w->used, p, n);
		w->used += n;
		return 0;
	}
	if (wflush(w) < 0)
		return w->err.code;
	if (n >= WBUF / 2) {
		if (bs_write_all(w->fd, p, n) < 0)
			return bs_err_set(&w->err, BS_EIO, "%s: write error: %s", w->name, strerror(errno));
		return 0;
	}
	memcpy(w->buf, p, n);
	w->used = n;
	return 0;
}

/* Note a record in the index as its first frame goes out at w->pos. */
static int
index_open(struct bs_writer *w, uint8_t type, uint8_t kind, uint8_t dtype,
    const char *name, uint32_t name_len, uint64_t size)
{
	struct bs_index *ix = &w->ix;
	struct bs_index_entry *e;

	if (ix->n == ix->cap) {
		size_t ncap = ix->cap ? 2 * ix->cap : 64;
		struct bs_index_entry *ne = realloc(ix->e, ncap * sizeof *ne);
		if (!ne)
			return bs_err_set(&w->err, BS_ENOMEM, "out of memory");
		ix->e = ne;
		ix->cap = ncap;
	}
	e = &ix->e[ix->n];
	memset(e, 0, sizeof *e);
	if (!(e->name = malloc(name_len + 1)))
		return bs_err_set(&w->err, BS_ENOMEM, "out of memory");
	memcpy(e->name, name, name_len);
	e->name[name_len] = 0;
	e->name_len = name_len;
	e->type = type;
	e->kind = kind;
	e->dtype = dtype;
	e->offset = w->pos - w->member_start;
	e->size = size;
	ix->n++;
	if (type == BS_F_FILE)
		w->open_file = ix->n;
	else
		w->open_tensor = ix->n;
	return 0;
}

/* Bookkeeping for a frame of type t with info u, before it is written. */
static int
note(struct bs_writer *w, uint8_t type, const void *info, uint64_t frame_size)
{
	switch (type) {
	case BS_F_STREAM:
		bs_index_free(&w->ix);
		w->member_start = w->pos;
		w->open_file = w->open_tensor = 0;
		w->files = w->tensors = w->raw_bytes = 0;
		return 0;
	case BS_F_FILE: {
		const struct bs_file_info *fi = info;
		w->files++;
		return index_open(w, BS_F_FILE, fi->kind, 0, fi->path, fi->path_len, fi->size);
	}
	case BS_F_TENSOR: {
		const struct bs_tensor_info *t = info;
		w->tensors++;
		return index_open(w, BS_F_TENSOR, t->kind, t->dtype, t->name, t->name_len, t->size);
	}
	case BS_F_TEND: {
		const struct bs_tend_info *te = info;
		w->raw_bytes += te->size;
		if (w->open_tensor) {
			struct bs_index_entry *e = &w->ix.e[w->open_tensor - 1];
			e->length = w->pos + frame_size - w->member_start - e->offset;
			e->size = te->size;
			w->open_tensor = 0;
		}
		return 0;
	}
	case BS_F_FEND: {
		const struct bs_fend_info *fe = info;
		if (w->open_file) {
			struct bs_index_entry *e = &w->ix.e[w->open_file - 1];
			e->length = w->pos + frame_size - w->member_start - e->offset;
			e->size = fe->size;
			w->open_file = 0;
		}
		return 0;
	}
	}
	return 0;
}

/* A frame; hash is the payload's XXH64 when the caller has it, or NULL. */
static int
frame_out(struct bs_writer *w, uint8_t type, uint8_t flags, const void *meta,
    uint32_t meta_len, const void *payload, uint64_t len, const uint64_t *hash)
{
	uint8_t hdr[BS_FRAME_HEADER], trailer[8];

	bs_frame_header_build(hdr, type, flags, meta, meta_len, len);
	put64(trailer, hash ? *hash : bs_xxh64(payload, (size_t)len));
	if (wput(w, hdr, sizeof hdr) < 0 || wput(w, meta, meta_len) < 0 ||
	    wput(w, payload, (size_t)len) < 0 || wput(w, trailer, 8) < 0)
		return w->err.code;
	return 0;
}

int
bs_writer_frame(struct bs_writer *w, uint8_t type, uint8_t flags,
    const void *meta, uint32_t meta_len, const void *payload, uint64_t len)
{
	return frame_out(w, type, flags, meta, meta_len, payload, len, NULL);
}

/* Write a known frame type from its info struct. */
static int
typed(struct bs_writer *w, uint8_t type, const void *info, const void *payload,
    uint64_t len, const uint64_t *hash)
{
	uint8_t small[1024], *meta = small;
	size_t cap = 96 + 8 * BS_MAX_RANK, mlen;
	int rc;

	if (type == BS_F_FILE)
		cap += ((const struct bs_file_info *)info)->path_len;
	if (type == BS_F_TENSOR)
		cap += ((const struct bs_tensor_info *)info)->name_len +
		    ((const struct bs_tensor_info *)info)->base_name_len;
	if (cap > sizeof small && !(meta = malloc(cap)))
		return bs_err_set(&w->err, BS_ENOMEM, "out of memory");
	mlen = bs_meta_build(meta, type, info);
	rc = note(w, type, info, BS_FRAME_HEADER + mlen + len + BS_FRAME_TRAILER);
	if (rc == 0)
		rc = frame_out(w, type, 0, meta, (uint32_t)mlen, payload, len, hash);
	if (meta != small)
		free(meta);
	return rc;
}

int
bs_writer_stream(struct bs_writer *w, uint32_t chunk_size)
{
	struct bs_stream_info s;

	memset(&s, 0, sizeof s);
	s.version = BS_STREAM_VERSION;
	s.chunk_size = chunk_size;
	snprintf(s.writer, sizeof s.writer, "%s %s", bs_progname, BS_VERSION_STRING);
	return typed(w, BS_F_STREAM, &s, NULL, 0, NULL);
}

int
bs_writer_file(struct bs_writer *w, const struct bs_file_info *fi,
    const void *prefix, size_t prefix_len)
{
	return typed(w, BS_F_FILE, fi, prefix, prefix_len, NULL);
}

int
bs_writer_tensor(struct bs_writer *w, const struct bs_tensor_info *ti)
{
	return typed(w, BS_F_TENSOR, ti, NULL, 0, NULL);
}

int
bs_writer_chunk(struct bs_writer *w, const struct bs_chunk_info *ci,
    const void *payload, size_t len)
{
	return typed(w, BS_F_CHUNK, ci, payload, len, NULL);
}

int
bs_writer_chunk_hashed(struct bs_writer *w, const struct bs_chunk_info *ci,
    const void *payload, size_t len, uint64_t xxh64)
{
	return typed(w, BS_F_CHUNK, ci, payload, len, &xxh64);
}

int
bs_writer_tend(struct bs_writer *w, const struct bs_tend_info *te)
{
	return typed(w, BS_F_TEND, te, NULL, 0, NULL);
}

int
bs_writer_fend(struct bs_writer *w, const struct bs_fend_info *fe)
{
	return typed(w, BS_F_FEND, fe, NULL, 0, NULL);
}

int
bs_writer_copy(struct bs_writer *w, const struct bs_frame *f)
{
	int rc;

	if (f->type == BS_F_INDEX || f->type == BS_F_END)
		return bs_err_set(&w->err, BS_EUSAGE, "index and end records are written, not copied");
	if ((rc = note(w, f->type, &f->u, f->size)) < 0)
		return rc;
	return wput(w, f->bytes, f->size);
}

#define IX_FIXED 32	/* bytes of an index entry before its name */

int
bs_writer_end(struct bs_writer *w)
{
	struct bs_end_info en;
	uint8_t *p, *ixbuf;
	size_t len = 8;
	uint64_t at;
	int rc;

	for (size_t i = 0; i < w->ix.n; i++)
		len += IX_FIXED + w->ix.e[i].name_len;
	if (!(ixbuf = malloc(len)))
		return bs_err_set(&w->err, BS_ENOMEM, "out of memory");
	p = ixbuf;
	put32(p, (uint32_t)w->ix.n), p += 4;
	put32(p, 0), p += 4;
	for (size_t i = 0; i < w->ix.n; i++) {
		const struct bs_index_entry *e = &w->ix.e[i];
		*p++ = e->type;
		*p++ = e->kind;
		*p++ = e->dtype;
		*p++ = 0;
		put32(p, e->name_len), p += 4;
		put64(p, e->offset), p += 8;
		put64(p, e->length), p += 8;
		put64(p, e->size), p += 8;
		memcpy(p, e->name, e->name_len), p += e->name_len;
	}
	at = w->pos - w->member_start;
	rc = bs_writer_frame(w, BS_F_INDEX, 0, NULL, 0, ixbuf, len);
	free(ixbuf);
	if (rc < 0)
		return rc;
	memset(&en, 0, sizeof en);
	en.index_offset = at;
	en.index_len = w->pos - w->member_start - at;
	en.files = w->files;
	en.tensors = w->tensors;
	en.raw_bytes = w->raw_bytes;
	en.member_len = w->pos + BS_FOOTER_SIZE - w->member_start;
	if ((rc = typed(w, BS_F_END, &en, NULL, 0, NULL)) < 0)
		return rc;
	bs_index_free(&w->ix);
	return wflush(w);
}

/* --------------------------------------------------------------- index */

void
bs_index_free(struct bs_index *ix)
{
	for (size_t i = 0; i < ix->n; i++)
		free(ix->e[i].name);
	free(ix->e);
	memset(ix, 0, sizeof *ix);
}

int
bs_index_parse(const uint8_t *p, uint64_t len, uint64_t member_len,
    struct bs_index *ix, const char **why)
{
	const uint8_t *end = p + len;
	uint32_t n;

	memset(ix, 0, sizeof *ix);
	if (len < 8 || get32(p + 4) != 0) {
		*why = "index header damaged";
		return BS_ECORRUPT;
	}
	n = get32(p);
	p += 8;
	if (n > (len - 8) / IX_FIXED) {
		*why = "index entry count larger than the index";
		return BS_ECORRUPT;
	}
	if (!(ix->e = calloc(n ? n : 1, sizeof *ix->e))) {
		*why = "out of memory";
		return BS_ENOMEM;
	}
	ix->cap = n;
	for (uint32_t i = 0; i < n; i++) {
		struct bs_index_entry *e = &ix->e[i];
		if ((size_t)(end - p) < IX_FIXED)
			goto bad;
		e->type = p[0];
		e->kind = p[1];
		e->dtype = p[2];
		e->name_len = get32(p + 4);
		e->offset = get64(p + 8);
		e->length = get64(p + 16);
		e->size = get64(p + 24);
		p += IX_FIXED;
		if (p[-IX_FIXED + 3] || e->name_len > BS_MAX_NAME ||
		    (size_t)(end - p) < e->name_len)
			goto bad;
		if ((e->type != BS_F_FILE && e->type != BS_F_TENSOR) ||
		    e->offset >= member_len || e->length > member_len - e->offset) {
			*why = "index entry points outside its member";
			ix->n = i;
			bs_index_free(ix);
			return BS_ECORRUPT;
		}
		if (!(e->name = malloc(e->name_len + 1))) {
			ix->n = i;
			bs_index_free(ix);
			*why = "out of memory";
			return BS_ENOMEM;
		}
		memcpy(e->name, p, e->name_len);
		e->name[e->name_len] = 0;
		p += e->name_len;
		ix->n = i + 1;
	}
	if (p != end)
		goto bad;
	return 0;
bad:
	bs_index_free(ix);
	*why = "index entries damaged";
	return BS_ECORRUPT;
}

/* bs_index_read_fd's reader: pread all n bytes at off, or fail. */
static int
fd_read_at(void *arg, void *buf, size_t n, uint64_t off)
{
	return pread(*(int *)arg, buf, n, (off_t)off) == (ssize_t)n ? 0 : -1;
}

int
bs_index_read_fd(int fd, struct bs_index *ix, uint64_t *member_start,
    struct bs_err *e)
{
	off_t size;

	memset(ix, 0, sizeof *ix);
	if ((size = lseek(fd, 0, SEEK_END)) < 0)
		return bs_err_set(e, BS_EUNSUPPORTED, "not seekable");
	return bs_index_read_at((uint64_t)size, fd_read_at, &fd, ix, member_start, e);
}

int
bs_index_read_at(uint64_t size, int (*read_at)(void *arg, void *buf, size_t n, uint64_t off),
    void *arg, struct bs_index *ix, uint64_t *member_start, struct bs_err *e)
{
	uint8_t foot[BS_FOOTER_SIZE], hdr[BS_FRAME_HEADER];
	struct bs_frame f;
	uint8_t *buf = NULL;
	const char *why = "";
	uint64_t ilen;
	int rc;

	memset(ix, 0, sizeof *ix);
	if (size < BS_FOOTER_SIZE || read_at(arg, foot, sizeof foot, size - BS_FOOTER_SIZE) < 0)
		return bs_err_set(e, BS_ETRUNC, "too short to hold a footer");
	memset(&f, 0, sizeof f);
	if ((rc = bs_frame_header_parse(foot, &f.type, &f.flags, &f.meta_len, &f.payload_len, &why)) < 0 ||
	    f.type != BS_F_END || f.meta_len != BS_END_META || f.payload_len != 0 ||
	    get32(foot + 20) != bs_xxh32(foot + BS_FRAME_HEADER, BS_END_META))
		return bs_err_set(e, BS_ECORRUPT, "no end record at the end of the file (truncated?)");
	f.meta = foot + BS_FRAME_HEADER;
	f.bytes = foot;
	bs_frame_meta_parse(&f, &why);
	if (f.u.end.member_len > size || f.u.end.member_len < BS_FOOTER_SIZE)
		return bs_err_set(e, BS_ECORRUPT, "footer's member length points outside the file");
	*member_start = size - f.u.end.member_len;
	if (f.u.end.index_offset == 0)
		return bs_err_set(e, BS_EUNSUPPORTED, "the stream has no index");
	ilen = f.u.end.index_len;
	if (f.u.end.index_offset >= f.u.end.member_len - BS_FOOTER_SIZE ||
	    ilen != f.u.end.member_len - BS_FOOTER_SIZE - f.u.end.index_offset ||
	    ilen < BS_FRAME_HEADER + BS_FRAME_TRAILER || ilen > (1ull << 30) + 64)
		return bs_err_set(e, BS_ECORRUPT, "footer's index position points outside the member");
	if (read_at(arg, hdr, sizeof hdr, *member_start + f.u.end.index_offset) < 0)
		return bs_err_set(e, BS_EIO, "cannot read the index: %s", strerror(errno));
	if (bs_frame_header_parse(hdr, &f.type, &f.flags, &f.meta_len, &f.payload_len, &why) < 0 ||
	    f.type != BS_F_INDEX || f.meta_len != 0 ||
	    f.payload_len != ilen - BS_FRAME_HEADER - BS_FRAME_TRAILER)
		return bs_err_set(e, BS_ECORRUPT, "index frame damaged");
	if (!(buf = malloc((size_t)f.payload_len + 8)))
		return bs_err_set(e, BS_ENOMEM, "out of memory");
	if (read_at(arg, buf, (size_t)f.payload_len + 8, *member_start + f.u.end.index_offset + BS_FRAME_HEADER) < 0) {
		free(buf);
		return bs_err_set(e, BS_EIO, "cannot read the index");
	}
	if (get64(buf + f.payload_len) != bs_xxh64(buf, (size_t)f.payload_len)) {
		free(buf);
		return bs_err_set(e, BS_ECHECKSUM, "index payload checksum mismatch");
	}
	rc = bs_index_parse(buf, f.payload_len, f.u.end.member_len, ix, &why);
	free(buf);
	if (rc < 0)
		return bs_err_set(e, rc, "%s", why);
	return 0;
}
