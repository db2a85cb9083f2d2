/*
 * archive.c - bundles through libarchive: a tar, tar.gz, tar.zst, tar.xz,
 * zip (any format and filter libarchive detects by content) is read in one
 * pass, member by member, and each regular member goes through the
 * splitter as a folder's file would; nothing is extracted to disk.  Input
 * that is not an archive is taken as one safetensors file.  Only bs-split
 * calls this file, so only bs-split links libarchive.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bs.h"

#define PROBE (64u << 10)	/* bytes read at a time to detect the format */
#define MAX_HEAD (64u << 20)	/* most bytes kept while detecting it */

/* The input: the bytes read while detecting the format first (kept, so
 * that input which is not an archive can be read again), then the rest
 * of fd. */
struct src {
	int fd;
	uint8_t *head;		/* bytes read during detection */
	size_t have, cap, pos;
	int recording;
	uint8_t *blk;		/* for libarchive's reads afterwards */
	int err;
};

static ssize_t
src_read(void *arg, void *p, size_t n)
{
	struct src *s = arg;

	if (s->pos < s->have) {
		size_t k = s->have - s->pos < n ? s->have - s->pos : n;
		memcpy(p, s->head + s->pos, k);
		s->pos += k;
		return (ssize_t)k;
	}
	return bs_read_full(s->fd, p, n);
}

static la_ssize_t
la_read(struct archive *a, void *arg, const void **buf)
{
	struct src *s = arg;
	ssize_t n;

	if (s->pos < s->have) {
		*buf = s->head + s->pos;
		n = (ssize_t)(s->have - s->pos);
		s->pos = s->have;
		return n;
	}
	if (s->recording) {
		if (s->have + PROBE > s->cap) {
			uint8_t *nh;
			if (s->cap >= MAX_HEAD || !(nh = realloc(s->head, s->cap * 2))) {
				archive_set_error(a, ENOMEM, "out of memory while detecting the format");
				return -1;
			}
			s->head = nh;
			s->cap *= 2;
		}
		n = bs_read_full(s->fd, s->head + s->have, PROBE);
		if (n > 0) {
			*buf = s->head + s->have;
			s->have += (size_t)n;
			s->pos = s->have;
		}
	} else {
		*buf = s->blk;
		n = bs_read_full(s->fd, s->blk, 1u << 20);
	}
	if (n < 0) {
		s->err = errno;
		archive_set_error(a, errno, "read error: %s", strerror(errno));
	}
	return n;
}

static struct archive *
la_new(void)
{
	struct archive *a = archive_read_new();

	if (a) {
		archive_read_support_filter_all(a);
		/* real archive formats only: "all" takes mtree, which reads a
		 * plain text file (a vocabulary, say) as a list of empty files */
		archive_read_support_format_tar(a);
		archive_read_support_format_zip(a);
		archive_read_support_format_cpio(a);
		archive_read_support_format_7zip(a);
	}
	return a;
}

struct member {
	struct archive *a;
	int failed;
};

static ssize_t
member_read(void *arg, void *p, size_t n)
{
	struct member *m = arg;
	la_ssize_t r = archive_read_data(m->a, p, n);

	if (r < 0) {
		m->failed = 1;
		errno = EIO;
		return -1;
	}
	return (ssize_t)r;
}

/* Normalise a member path in place: leading "./" and trailing "/" go;
 * returns 0 for a path with an empty, "." or ".." component or absolute. */
static int
clean_path(char *p)
{
	size_t n;

	if (p[0] == '/')
		return 0;
	while (p[0] == '.' && p[1] == '/') {
		size_t k = 2;
		while (p[k] == '/')
			k++;
		memmove(p, p + k, strlen(p + k) + 1);
	}
	n = strlen(p);
	while (n && p[n - 1] == '/')
		p[--n] = 0;
	if (strcmp(p, ".") == 0)
		p[0] = 0;
	for (char *c = p; *c;) {
		char *e = strchr(c, '/');
		size_t len = e ? (size_t)(e - c) : strlen(c);
		if (len == 0 || (len == 1 && c[0] == '.') || (len == 2 && c[0] == '.' && c[1] == '.'))
			return 0;
		c += len + (e ? 1 : 0);
	}
	return 1;
}

static int
hidden(const char *p)
{
	for (const char *c = p; c; c = strchr(c, '/')) {
		if (*c == '/')
			c++;
		if (*c == '.')
			return 1;
	}
	return 0;
}

/* The members of archive a, whose first header (r, ae) is read. */
static int
split_members(struct archive *a, int r, struct archive_entry *ae,
    const char *display, struct bs_splitter *sp, struct bs_err *e)
{
	char *top = NULL, **seen = NULL;
	size_t nseen = 0, first = 1;
	int rc = 0;

	for (; r == ARCHIVE_OK || r == ARCHIVE_WARN; r = archive_read_next_header(a, &ae)) {
		const char *raw = archive_entry_pathname(ae);
		mode_t type = archive_entry_filetype(ae);
		char *path, *rel, *disp;
		struct member m = { a, 0 };
		uint64_t size;

		if (!raw)
			raw = archive_entry_pathname_utf8(ae);
		if (!raw) {
			rc = bs_err_set(e, BS_ECORRUPT, "%s: a member without a path", display);
			break;
		}
		if (!(path = strdup(raw))) {
			rc = bs_err_set(e, BS_ENOMEM, "out of memory");
			break;
		}
		if (!clean_path(path)) {
			rc = bs_err_set(e, BS_ECORRUPT, "%s: unsafe member path '%s' (absolute, or with an empty, . or .. component)",
			    display, raw);
			free(path);
			break;
		}
		if (first && path[0]) {
			first = 0;
			if (type == AE_IFDIR && !strchr(path, '/')) {
				top = path;	/* the folder the archive was made of */
				continue;
			}
		}
		rel = path;
		if (top && path[0]) {
			size_t tl = strlen(top);
			if (strncmp(path, top, tl) == 0 && path[tl] == '/')
				rel = path + tl + 1;
			else if (strcmp(path, top) == 0)
				rel = path + tl;
			else {
				rc = bs_err_set(e, BS_ECORRUPT, "%s: member '%s' is outside the top folder '%s/'",
				    display, raw, top);
				free(path);
				break;
			}
		}
		if (!rel[0] || hidden(rel) || type == AE_IFDIR || type == AE_IFIFO ||
		    type == AE_IFCHR || type == AE_IFBLK || type == AE_IFSOCK) {
			free(path);
			continue;	/* as a folder's walk skips them */
		}
		if (type == AE_IFLNK || archive_entry_hardlink(ae)) {
			rc = bs_err_set(e, BS_ECORRUPT, "%s: member '%s' is a %s link: archive the files it points to (tar -h, zip without -y)",
			    display, raw, type == AE_IFLNK ? "symbolic" : "hard");
			free(path);
			break;
		}
		if (type != AE_IFREG) {
			free(path);
			continue;
		}
		for (size_t i = 0; i < nseen; i++)
			if (strcmp(seen[i], rel) == 0) {
				rc = bs_err_set(e, BS_ECORRUPT, "%s: member '%s' appears twice", display, rel);
				break;
			}
		if (rc == 0) {
			char **ns = realloc(seen, (nseen + 1) * sizeof *seen);
			if (!ns || !(ns[nseen] = strdup(rel))) {
				seen = ns ? ns : seen;
				rc = bs_err_set(e, BS_ENOMEM, "out of memory");
			} else {
				seen = ns;
				nseen++;
			}
		}
		if (rc < 0) {
			free(path);
			break;
		}
		size = archive_entry_size_is_set(ae) ? (uint64_t)archive_entry_size(ae) : BS_SIZE_UNKNOWN;
		if (asprintf(&disp, "%s: %s", display, raw) < 0) {
			free(path);
			rc = bs_err_set(e, BS_ENOMEM, "out of memory");
			break;
		}
		rc = bs_splitter_add(sp, member_read, &m, rel, disp, size);
		if (rc < 0 && m.failed)
			rc = bs_err_set(e, bs_err_status(rc) == 1 ? rc : BS_ECORRUPT, "%s: %s",
			    disp, archive_error_string(a));
		free(disp);
		free(path);
		if (rc < 0)
			break;
		continue;
	}
	if (rc == 0 && r != ARCHIVE_EOF)
		rc = bs_err_set(e, BS_ECORRUPT, "%s: %s", display, archive_error_string(a));
	for (size_t i = 0; i < nseen; i++)
		free(seen[i]);
	free(seen);
	free(top);
	return rc;
}

int
bs_split_archive_fd(int fd, const char *name, const char *display, uint64_t size,
    struct bs_writer *w, const struct bs_split_opts *o, int *is_archive,
    struct bs_err *e)
{
	struct src s = { fd, NULL, 0, PROBE, 0, 1, NULL, 0 };
	struct bs_splitter *sp;
	struct archive *a = NULL;
	struct archive_entry *ae = NULL;
	int rc, r = ARCHIVE_FATAL;

	*is_archive = 0;
	if (!(sp = bs_splitter_new(w, o, e)))
		return bs_err_set(e, BS_ENOMEM, "out of memory");
	if (!(s.head = malloc(s.cap)) || !(s.blk = malloc(1u << 20)) || !(a = la_new())) {
		rc = bs_err_set(e, BS_ENOMEM, "out of memory");
		goto out;
	}
	/* detect the format by content; every byte read is kept meanwhile */
	if (archive_read_open(a, &s, NULL, la_read, NULL) == ARCHIVE_OK)
		r = archive_read_next_header(a, &ae);
	if (s.err) {
		rc = bs_err_set(e, BS_EIO, "%s: read error: %s", display, strerror(s.err));
		goto out;
	}
	{
		int fmt = archive_format(a) & ARCHIVE_FORMAT_BASE_MASK;
		*is_archive = fmt != 0 && fmt != ARCHIVE_FORMAT_EMPTY && fmt != ARCHIVE_FORMAT_RAW;
	}
	s.recording = 0;
	if (bs_writer_stream(w, o->chunk_size) < 0) {
		rc = bs_err_set(e, BS_EIO, "%s", bs_writer_errmsg(w));
		goto out;
	}
	if (*is_archive)
		rc = split_members(a, r, ae, display, sp, e);
	else {
		s.pos = 0;	/* read it again from the first byte */
		rc = bs_splitter_add(sp, src_read, &s, name, display, size);
	}
	if (rc == 0 && bs_writer_end(w) < 0)
		rc = bs_err_set(e, BS_EIO, "%s", bs_writer_errmsg(w));
out:
	if (a)
		archive_read_free(a);
	free(s.head);
	free(s.blk);
	bs_splitter_free(sp);
	return rc;
}

const char *
bs_archive_version(void)
{
	return archive_version_details();
}
