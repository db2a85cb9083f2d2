/*
 * pipeline.c - run a pipeline of programs the way a shell with pipefail
 * does, and print it as shell text that does the same when pasted.
 *
 * Each stage is an argv; stage i's standard output is stage i+1's standard
 * input; the first stage may read a file and the last may write one (both
 * opened by the parent, like a shell's < and >).  Programs are looked up
 * in a preferred folder first (the front end's own folder), then in PATH.
 * run() waits for every stage; the pipeline failed when any stage did, and
 * its status is the last failing stage's, as `set -o pipefail` gives.
 * Exec failures come back to the parent through a close-on-exec pipe, so
 * the library itself still never prints.  Every stage but the first runs
 * with BS_PIPELINE_DOWNSTREAM=1 in its environment (the first without it,
 * whatever the caller's environment held): an input that ends early there
 * (empty, or cut short) means the stage before failed (a stage that
 * succeeds writes a whole stream), and bs_die exits BS_EXIT_UPSTREAM
 * without repeating the news: run() counts that stage as fine when an
 * earlier one failed, and else as failed with status 1, saying that the
 * stage before wrote no whole stream.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "bs.h"

struct stage {
	char **argv;			/* malloc'd, NULL-terminated */
	size_t argc, cap;
	pid_t pid;
	int status;			/* shell-style: code, or 128+signal */
	int exec_errno;			/* exec failed with this */
};

struct bs_pipeline {
	struct stage *s;
	size_t n, cap;
	char *dir;			/* searched before PATH */
	char *in, *out;			/* redirections, or NULL */
	int append;			/* out is appended to (>>) */
	int nomem;			/* an add failed: run refuses */
};

struct bs_pipeline *
bs_pipeline_new(void)
{
	return calloc(1, sizeof(struct bs_pipeline));
}

void
bs_pipeline_free(struct bs_pipeline *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		for (size_t j = 0; j < p->s[i].argc; j++)
			free(p->s[i].argv[j]);
		free(p->s[i].argv);
	}
	free(p->s);
	free(p->dir);
	free(p->in);
	free(p->out);
	free(p);
}

static int
set_str(struct bs_pipeline *p, char **dst, const char *v)
{
	char *c = NULL;

	if (v && !(c = strdup(v))) {
		p->nomem = 1;
		return BS_ENOMEM;
	}
	free(*dst);
	*dst = c;
	return 0;
}

int
bs_pipeline_dir(struct bs_pipeline *p, const char *dir)
{
	return set_str(p, &p->dir, dir);
}

int
bs_pipeline_stdin(struct bs_pipeline *p, const char *path)
{
	return set_str(p, &p->in, path);
}

int
bs_pipeline_stdout(struct bs_pipeline *p, const char *path)
{
	p->append = 0;
	return set_str(p, &p->out, path);
}

int
bs_pipeline_append(struct bs_pipeline *p, const char *path)
{
	int rc = set_str(p, &p->out, path);

	p->append = 1;
	return rc;
}

int
bs_pipeline_arg(struct bs_pipeline *p, const char *arg)
{
	struct stage *st;

	if (p->n == 0)
		return BS_EUSAGE;
	st = &p->s[p->n - 1];
	if (st->argc + 2 > st->cap) {
		size_t cap = st->cap ? 2 * st->cap : 8;
		char **v = realloc(st->argv, cap * sizeof *v);
		if (!v)
			goto nomem;
		st->argv = v;
		st->cap = cap;
	}
	if (!(st->argv[st->argc] = strdup(arg)))
		goto nomem;
	st->argv[++st->argc] = NULL;
	return 0;
nomem:
	p->nomem = 1;
	return BS_ENOMEM;
}

int
bs_pipeline_add(struct bs_pipeline *p, const char *const argv[])
{
	int rc = 0;

	if (!argv || !argv[0])
		return BS_EUSAGE;
	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 4;
		struct stage *s = realloc(p->s, cap * sizeof *s);
		if (!s) {
			p->nomem = 1;
			return BS_ENOMEM;
		}
		p->s = s;
		p->cap = cap;
	}
	memset(&p->s[p->n++], 0, sizeof *p->s);
	for (size_t i = 0; argv[i] && rc == 0; i++)
		rc = bs_pipeline_arg(p, argv[i]);
	return rc;
}

int
bs_pipeline_addl(struct bs_pipeline *p, const char *arg0, ...)
{
	const char *v[64];
	size_t n = 0;
	va_list ap;

	va_start(ap, arg0);
	for (const char *a = arg0; a && n < 63; a = va_arg(ap, const char *))
		v[n++] = a;
	va_end(ap);
	v[n] = NULL;
	return bs_pipeline_add(p, v);
}

size_t
bs_pipeline_stages(const struct bs_pipeline *p)
{
	return p->n;
}

/* Is an executable regular file at path? */
static int
is_exe(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && access(path, X_OK) == 0;
}

/* The file PATH lookup finds for name, malloc'd; NULL if none. */
static char *
path_lookup(const char *name)
{
	const char *path = getenv("PATH");

	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (1) {
		const char *c = strchr(path, ':');
		size_t n = c ? (size_t)(c - path) : strlen(path);
		char *f = malloc(n + strlen(name) + 3);

		if (!f)
			return NULL;
		if (n == 0)
			sprintf(f, "./%s", name);
		else
			sprintf(f, "%.*s/%s", (int)n, path, name);
		if (is_exe(f))
			return f;
		free(f);
		if (!c)
			return NULL;
		path = c + 1;
	}
}

char *
bs_pipeline_which(const struct bs_pipeline *p, const char *name)
{
	if (strchr(name, '/'))
		return is_exe(name) ? strdup(name) : NULL;
	if (p->dir) {
		char *f = malloc(strlen(p->dir) + strlen(name) + 2);
		if (!f)
			return NULL;
		sprintf(f, "%s/%s", p->dir, name);
		if (is_exe(f))
			return f;
		free(f);
	}
	return path_lookup(name);
}

/* How a shell should name the program: the bare name when PATH finds the
 * very file we would run, else the file's path.  malloc'd. */
static char *
display_name(const struct bs_pipeline *p, const char *name)
{
	char *run = bs_pipeline_which(p, name), *sh;
	struct stat a, b;

	if (!run || strchr(name, '/'))
		goto bare;
	sh = path_lookup(name);
	if (sh && stat(sh, &a) == 0 && stat(run, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
		free(sh);
		goto bare;
	}
	free(sh);
	return run;
bare:
	free(run);
	return strdup(name);
}

/* Characters a POSIX shell leaves alone in an unquoted word. */
static int
shell_safe(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789_@%+=:,./-", *s))
			return 0;
	return 1;
}

char *
bs_shell_quote(const char *s)
{
	size_t n = 3;
	char *q, *d;

	if (shell_safe(s) && s[0] != '=')
		return strdup(s);
	for (const char *c = s; *c; c++)
		n += *c == '\'' ? 4 : 1;
	if (!(q = malloc(n)))
		return NULL;
	d = q;
	*d++ = '\'';
	for (; *s; s++) {
		if (*s == '\'') {
			memcpy(d, "'\\''", 4);
			d += 4;
		} else
			*d++ = *s;
	}
	*d++ = '\'';
	*d = 0;
	return q;
}

static int
put_word(FILE *f, const char *w)
{
	char *q = bs_shell_quote(w);
	int rc;

	if (!q)
		return BS_ENOMEM;
	rc = fputs(q, f) < 0 ? BS_EIO : 0;
	free(q);
	return rc;
}

int
bs_pipeline_print(const struct bs_pipeline *p, FILE *f)
{
	int rc = 0;

	for (size_t i = 0; i < p->n && rc == 0; i++) {
		const struct stage *st = &p->s[i];
		char *name = display_name(p, st->argv[0]);

		if (i > 0)
			fputs(" | ", f);
		rc = name ? put_word(f, name) : BS_ENOMEM;
		free(name);
		for (size_t j = 1; j < st->argc && rc == 0; j++) {
			fputc(' ', f);
			rc = put_word(f, st->argv[j]);
		}
		if (i == 0 && p->in && rc == 0) {
			fputs(" < ", f);
			rc = put_word(f, p->in);
		}
	}
	if (p->out && rc == 0) {
		fputs(p->append ? " >> " : " > ", f);
		rc = put_word(f, p->out);
	}
	if (rc == 0 && (fputc('\n', f) == EOF || ferror(f)))
		rc = BS_EIO;
	return rc;
}

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* In the child: put fd at target, run the stage, report errno on errpipe. */
static void __attribute__((noreturn))
child(const char *file, char **argv, int in, int out, int errpipe)
{
	int e;

	if (in >= 0 && in != STDIN_FILENO) {
		if (dup2(in, STDIN_FILENO) < 0)
			goto fail;
		close(in);
	}
	if (out >= 0 && out != STDOUT_FILENO) {
		if (dup2(out, STDOUT_FILENO) < 0)
			goto fail;
		close(out);
	}
	/* a shell starts commands with the default signal dispositions */
	signal(SIGPIPE, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (file)
		execv(file, argv);
	else
		errno = ENOENT;
fail:
	e = errno;
	if (write(errpipe, &e, sizeof e) < 0)
		(void)0;
	_exit(127);
}

int
bs_pipeline_run(struct bs_pipeline *p, struct bs_err *e)
{
	int prev = -1, infd = -1, outfd = -1, rc = 0;
	int errpipe[2] = { -1, -1 };
	size_t started = 0;

	if (p->nomem)
		return bs_err_set(e, BS_ENOMEM, "out of memory");
	if (p->n == 0)
		return bs_err_set(e, BS_EUSAGE, "empty pipeline");
	for (size_t i = 0; i < p->n; i++) {
		p->s[i].pid = -1;
		p->s[i].status = 0;
		p->s[i].exec_errno = 0;
	}
	if (p->in && (infd = open(p->in, O_RDONLY | O_CLOEXEC)) < 0)
		return bs_err_set(e, BS_EIO, "%s: %s", p->in, strerror(errno));
	if (p->out && (outfd = open(p->out, O_WRONLY | O_CREAT | O_CLOEXEC |
	    (p->append ? O_APPEND : O_TRUNC), 0666)) < 0) {
		rc = bs_err_set(e, BS_EIO, "%s: cannot create: %s", p->out, strerror(errno));
		close_fd(&infd);
		return rc;
	}
	prev = infd;
	for (size_t i = 0; i < p->n; i++) {
		struct stage *st = &p->s[i];
		int fds[2] = { -1, -1 }, out = outfd;
		char *file;
		pid_t pid;

		if (i + 1 < p->n) {
			if (pipe2(fds, O_CLOEXEC) < 0) {
				rc = bs_err_set(e, BS_EIO, "pipe: %s", strerror(errno));
				break;
			}
			out = fds[1];
		}
		if (pipe2(errpipe, O_CLOEXEC) < 0) {
			rc = bs_err_set(e, BS_EIO, "pipe: %s", strerror(errno));
			close_fd(&fds[0]);
			close_fd(&fds[1]);
			break;
		}
		file = bs_pipeline_which(p, st->argv[0]);
		if (i == 0)
			unsetenv(BS_PIPELINE_ENV);
		if (i == 1 && setenv(BS_PIPELINE_ENV, "1", 1) < 0) {
			rc = bs_err_set(e, BS_ENOMEM, "out of memory");
			free(file);
			close_fd(&errpipe[0]);
			close_fd(&errpipe[1]);
			close_fd(&fds[0]);
			close_fd(&fds[1]);
			break;
		}
		pid = fork();
		if (pid == 0)
			child(file, st->argv, prev, out, errpipe[1]);
		free(file);
		close_fd(&errpipe[1]);
		close_fd(&prev);
		close_fd(&fds[1]);
		prev = fds[0];
		if (pid < 0) {
			rc = bs_err_set(e, BS_EIO, "fork: %s", strerror(errno));
			close_fd(&errpipe[0]);
			break;
		}
		st->pid = pid;
		bs_child_started(pid);
		started++;
		{
			int err;
			ssize_t n;
			while ((n = read(errpipe[0], &err, sizeof err)) < 0 && errno == EINTR)
				;
			if (n == (ssize_t)sizeof err)
				st->exec_errno = err;
		}
		close_fd(&errpipe[0]);
	}
	unsetenv(BS_PIPELINE_ENV);
	close_fd(&prev);
	close_fd(&outfd);
	close_fd(&infd);
	/* wait for every stage, failed or not, like a shell */
	for (size_t i = 0; i < started; i++) {
		struct stage *st = &p->s[i];
		int ws;

		while (waitpid(st->pid, &ws, 0) < 0)
			if (errno != EINTR) {
				ws = 2 << 8;
				break;
			}
		if (WIFEXITED(ws))
			st->status = WEXITSTATUS(ws);
		else if (WIFSIGNALED(ws))
			st->status = 128 + WTERMSIG(ws);
		else
			st->status = 2;
	}
	bs_children_done();
	/* an empty input after a failed stage is that stage's failure */
	int upstream = 0;
	size_t empty = p->n;
	for (size_t i = 0; i < started; i++) {
		struct stage *st = &p->s[i];
		if (st->status == BS_EXIT_UPSTREAM) {
			st->status = upstream ? 0 : 1;
			if (!upstream && empty == p->n)
				empty = i;
		}
		upstream |= st->status != 0 || st->exec_errno != 0;
	}
	if (rc < 0)
		return rc;
	for (size_t i = p->n; i-- > 0;) {
		struct stage *st = &p->s[i];

		if (st->exec_errno)
			return bs_err_set(e, BS_EIO, "%s: cannot run: %s",
			    st->argv[0], strerror(st->exec_errno));
	}
	if (empty < p->n && empty > 0)
		return bs_err_set(e, BS_ETRUNC, "%s: its input ended early: %s exited 0 without writing a whole stream",
		    p->s[empty].argv[0], p->s[empty - 1].argv[0]);
	for (size_t i = p->n; i-- > 0;) {
		struct stage *st = &p->s[i];

		if (st->status > 128)
			return bs_err_set(e, BS_EIO, "%s: killed by signal %d (%s)",
			    st->argv[0], st->status - 128, strsignal(st->status - 128));
		if (st->status)
			return bs_err_set(e, st->status == 1 ? BS_ECORRUPT : BS_EIO,
			    "%s: exit status %d", st->argv[0], st->status);
	}
	return 0;
}

int
bs_pipeline_status(const struct bs_pipeline *p, size_t i)
{
	return i < p->n ? p->s[i].status : -1;
}

int
bs_pipeline_exit_status(const struct bs_pipeline *p)
{
	for (size_t i = p->n; i-- > 0;)
		if (p->s[i].status)
			return p->s[i].status;
	return 0;
}
