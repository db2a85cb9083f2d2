/*
 * util.c - program support: messages, exit status, I/O loops, outputs that
 * appear by rename, signals, progress.  Only programs call the functions
 * that print or exit; the library proper uses bs_err.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "bs.h"

const char *bs_progname = "bs";
int bs_verbose;
int bs_saw_epipe;
int bs_upstream_failed;

int
bs_err_status(int e)
{
	switch (e) {
	case BS_ETRUNC:
	case BS_ECORRUPT:
	case BS_ECHECKSUM:
	case BS_EUNSUPPORTED:
		return 1;
	default:
		return 2;
	}
}

int
bs_err_set(struct bs_err *e, int code, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return code;
}

/* ------------------------------------------------------------ messages */

static void
vmsg(const char *fmt, va_list ap)
{
	char buf[1024];
	int n;

	n = snprintf(buf, sizeof buf, "%s: ", bs_progname);
	vsnprintf(buf + n, sizeof buf - n, fmt, ap);
	/* one line: messages never carry newlines from the data, nor other
	 * control characters (a terminal would act on an escape) */
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
		else if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	fprintf(stderr, "%s\n", buf);
}

void
bs_die(int status, const char *fmt, ...)
{
	va_list ap;

	/* a reader that went away: a quiet exit, non-zero */
	if (bs_saw_epipe)
		exit(status ? status : 2);
	/* an empty input from a stage that failed and said so */
	if (bs_upstream_failed)
		exit(BS_EXIT_UPSTREAM);
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	exit(status);
}

void
bs_warn(const char *fmt, ...)
{
	va_list ap;

	if (bs_verbose < 0)
		return;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void
bs_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void
bs_info(const char *fmt, ...)
{
	va_list ap;

	if (bs_verbose < 1)
		return;
	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
}

void *
bs_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		bs_die(2, "out of memory (%zu bytes)", n);
	return p;
}

/* ------------------------------------------------------------ outputs */

struct bs_output {
	char *path, *tmp;
	int fd;
	struct bs_output *next;
};
static struct bs_output *outputs;	/* uncommitted, removed at exit */

static void
remove_outputs(void)
{
	for (struct bs_output *o = outputs; o; o = o->next)
		if (o->tmp)
			unlink(o->tmp);
}

/* Children of a pipeline run by this program: they share its fate. */
static pid_t children[64];
static volatile sig_atomic_t nchildren;

void
bs_child_started(pid_t pid)
{
	if (nchildren < (sig_atomic_t)(sizeof children / sizeof children[0]))
		children[nchildren++] = pid;
}

void
bs_children_done(void)
{
	nchildren = 0;
}

static void (*signal_hook)(void);

void
bs_on_signal(void (*fn)(void))
{
	signal_hook = fn;
}

static void
on_signal(int sig)
{
	for (sig_atomic_t i = 0; i < nchildren; i++)
		kill(children[i], sig);
	remove_outputs();
	if (signal_hook)
		signal_hook();
	signal(sig, SIG_DFL);
	raise(sig);
}

void
bs_proginit(int argc, char *argv[], const char *name)
{
	struct sigaction sa;

	(void)argc, (void)argv;
	bs_progname = name;
	/* a closed standard descriptor gets a stand-in that fails as a closed
	 * one does (reads from a write-only /dev/null, writes to a read-only
	 * one: EBADF), so that no file or pipe we open lands on it and is
	 * taken for standard input or output */
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && errno == EBADF &&
		    open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY) != fd)
			_exit(2);
	/* a reader that goes away gives EPIPE, handled as a write error */
	signal(SIGPIPE, SIG_IGN);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	atexit(remove_outputs);
	/* chunk buffers are reused from the heap rather than mmap'd each time */
	mallopt(M_MMAP_THRESHOLD, 256 << 20);
	mallopt(M_TRIM_THRESHOLD, 512 << 20);
}

struct bs_output *
bs_output_open(const char *path)
{
	struct bs_output *o;
	const char *slash = strrchr(path, '/');
	size_t dirlen = slash ? (size_t)(slash - path + 1) : 0;

	o = calloc(1, sizeof *o);
	if (!o)
		return NULL;
	o->path = strdup(path);
	o->tmp = malloc(strlen(path) + 32);
	if (!o->path || !o->tmp)
		goto fail;
	/* .NAME.XXXXXX next to the final name, so rename stays on one fs */
	snprintf(o->tmp, strlen(path) + 32, "%.*s.%s.XXXXXX", (int)dirlen, path,
	    path + dirlen);
	o->fd = mkstemp(o->tmp);
	if (o->fd < 0)
		goto fail;
	{
		mode_t m = umask(0);
		umask(m);
		fchmod(o->fd, 0666 & ~m);
	}
	o->next = outputs;
	outputs = o;
	return o;
fail:
	free(o->path);
	free(o->tmp);
	free(o);
	return NULL;
}

int
bs_output_fd(const struct bs_output *o)
{
	return o->fd;
}

static void
unlist(struct bs_output *o)
{
	for (struct bs_output **pp = &outputs; *pp; pp = &(*pp)->next)
		if (*pp == o) {
			*pp = o->next;
			break;
		}
}

int
bs_output_commit(struct bs_output *o)
{
	int rc = 0;

	if (o->fd >= 0) {	/* not closed already by bs_output_close_fd() */
		if (fsync(o->fd) < 0 && errno != EINVAL)
			rc = -1;
		if (close(o->fd) < 0)
			rc = -1;
		o->fd = -1;
	}
	if (rc == 0 && rename(o->tmp, o->path) < 0)
		rc = -1;
	if (rc < 0) {
		int saved = errno;
		unlink(o->tmp);
		errno = saved;
	}
	unlist(o);
	free(o->tmp);
	free(o->path);
	free(o);
	return rc;
}

int
bs_output_close_fd(struct bs_output *o)
{
	int rc = 0;

	if (o->fd < 0)
		return 0;
	if (fsync(o->fd) < 0 && errno != EINVAL)
		rc = -1;
	if (close(o->fd) < 0)
		rc = -1;
	o->fd = -1;
	return rc;
}

int
bs_output_set_path(struct bs_output *o, const char *path)
{
	char *p = strdup(path);

	if (!p)
		return -1;
	free(o->path);
	o->path = p;
	return 0;
}

void
bs_output_abort(struct bs_output *o)
{
	if (!o)
		return;
	if (o->fd >= 0)
		close(o->fd);
	unlink(o->tmp);
	unlist(o);
	free(o->tmp);
	free(o->path);
	free(o);
}

/* ------------------------------------------------------------ I/O */

int
bs_write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n > (1u << 30) ? (1u << 30) : n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EPIPE)
				bs_saw_epipe = 1;
			return -1;
		}
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

ssize_t
bs_read_full(int fd, void *p, size_t n)
{
	char *c = p;
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, c + got, n - got > (1u << 30) ? (1u << 30) : n - got);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int
bs_finish(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno != EPIPE)
			bs_warn("<stdout>: write error: %s", strerror(errno));
		status = status ? status : 2;
	}
	if (close(STDOUT_FILENO) < 0 && errno != EBADF) {
		bs_warn("<stdout>: write error: %s", strerror(errno));
		status = status ? status : 2;
	}
	return status;
}

char *
bs_printable(const char *p, size_t n, size_t max)
{
	size_t m = n > max ? max : n;
	char *s = bs_xmalloc(4 * m + 4), *o = s;

	for (size_t i = 0; i < m; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x20 || c == 0x7f)
			o += sprintf(o, "\\x%02x", c);
		else
			*o++ = (char)c;
	}
	if (m < n)
		o += sprintf(o, "...");
	*o = 0;
	return s;
}

int
bs_text_width(const char *s)
{
	int chars = 0;

	for (; *s; s++)
		chars += ((unsigned char)*s & 0xc0) != 0x80;
	return chars;
}

void
bs_put_column(const char *s, int width)
{
	fputs(s, stdout);
	for (int chars = bs_text_width(s); chars < width; chars++)
		putchar(' ');
}

int
bs_same_file(int a, int b)
{
	struct stat sa, sb;

	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && S_ISREG(sa.st_mode) &&
	    sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

void
bs_refuse_tty(int fd, int force, const char *what)
{
	if (!force && isatty(fd))
		bs_die(2, "refusing to write %s to a terminal (use -f to force)", what);
}

long long
bs_parse_size(const char *s)
{
	char *end;
	unsigned long long v, mul = 1;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'k': case 'K': mul = 1ull << 10; end++; break;
	case 'm': case 'M': mul = 1ull << 20; end++; break;
	case 'g': case 'G': mul = 1ull << 30; end++; break;
	case 't': case 'T': mul = 1ull << 40; end++; break;
	}
	if (*end == 'i' && mul > 1)
		end++;
	if ((*end == 'B' || *end == 'b') && end[1] == 0)
		end++;
	if (*end)
		return -1;
	if (v > (unsigned long long)LLONG_MAX / mul)
		return -1;
	return (long long)(v * mul);
}

double
bs_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ------------------------------------------------------------ progress */

struct bs_progress {
	const char *what;
	uint64_t total;
	double start, last;
	int shown;
};

struct bs_progress *
bs_progress_new(const char *what, uint64_t total)
{
	struct bs_progress *p;

	if (bs_verbose < 0 || !isatty(STDERR_FILENO))
		return NULL;
	if (!(p = calloc(1, sizeof *p)))
		return NULL;
	p->what = what;
	p->total = total;
	p->start = p->last = bs_now();
	return p;
}

static void
human(double v, char *buf, size_t n)
{
	const char *u = " KMGT";
	int i = 0;

	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	snprintf(buf, n, i ? "%.1f %ciB" : "%.0f B", v, u[i]);
}

void
bs_progress_update(struct bs_progress *p, uint64_t done)
{
	double now, rate;
	char a[32], b[32];

	if (!p)
		return;
	now = bs_now();
	if (now - p->last < 0.2)
		return;
	p->last = now;
	rate = done / (now - p->start > 1e-6 ? now - p->start : 1e-6);
	human((double)done, a, sizeof a);
	human(rate, b, sizeof b);
	if (p->total && p->total != BS_SIZE_UNKNOWN && rate > 0) {
		double left = (p->total > done ? p->total - done : 0) / rate;
		fprintf(stderr, "\r%s: %s: %s (%.0f%%), %s/s, %.0fs left   ",
		    bs_progname, p->what, a, 100.0 * done / p->total, b, left);
	} else
		fprintf(stderr, "\r%s: %s: %s, %s/s   ", bs_progname, p->what, a, b);
	p->shown = 1;
}

void
bs_progress_end(struct bs_progress *p)
{
	if (!p)
		return;
	if (p->shown)
		fprintf(stderr, "\r\033[K");
	free(p);
}

int
bs_out_open(const char *path, int force, struct bs_output **o)
{
	struct stat sb;
	char *real = NULL;

	*o = NULL;
	if (!path || strcmp(path, "-") == 0) {
		bs_refuse_tty(STDOUT_FILENO, force, "a binary stream");
		return STDOUT_FILENO;
	}
	if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode)) {
		/* a device or a pipe is written to, never renamed over */
		int fd;
		if (S_ISDIR(sb.st_mode))
			bs_die(2, "%s: is a folder", path);
		if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
			bs_die(2, "%s: cannot open: %s", path, strerror(errno));
		bs_refuse_tty(fd, force, "a binary stream");
		return fd;
	}
	/* a symbolic link: the file it points to is replaced, not the link */
	if (lstat(path, &sb) == 0 && S_ISLNK(sb.st_mode) && (real = realpath(path, NULL)))
		path = real;
	if (!(*o = bs_output_open(path)))
		bs_die(2, "%s: cannot create: %s", path, strerror(errno));
	free(real);
	return bs_output_fd(*o);
}

void
bs_out_close(struct bs_output *o, const char *path, int ok)
{
	if (!o)
		return;
	if (!ok) {
		bs_output_abort(o);
		return;
	}
	if (bs_output_commit(o) < 0)
		bs_die(2, "%s: cannot write: %s", path, strerror(errno));
}
