/*
 * opt.c - one table-driven option parser for every program.  The same
 * table prints --help, and --list-options prints it for the script that
 * generates the shell completions (scripts/gen-completions).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <zstd.h>

#include "bs.h"

static int help_flag, version_flag, quiet_flag, verbose_flag, list_flag;
char **bs_operands;		/* kept reachable for the life of the program */

static const struct bs_opt common_opts[] = {
	{ 'h', "help", BS_OPT_FLAG, &help_flag, NULL, "print this help and exit", NULL },
	{ 'V', "version", BS_OPT_FLAG, &version_flag, NULL, "print the version and exit", NULL },
	{ 'q', "quiet", BS_OPT_FLAG, &quiet_flag, NULL, "no progress, warnings or notes; errors only", NULL },
	{ 'v', "verbose", BS_OPT_FLAG, &verbose_flag, NULL, "say more (repeat for more)", NULL },
	{ 0, "list-options", BS_OPT_FLAG, &list_flag, NULL, NULL, NULL },
	{ 0, NULL, 0, NULL, NULL, NULL, NULL }
};

static void
print_opts(const struct bs_opt *t, FILE *f)
{
	char left[64];

	for (; t->longname; t++) {
		if (!t->help)
			continue;
		if (t->shortname)
			snprintf(left, sizeof left, "-%c, --%s%s%s", t->shortname,
			    t->longname, t->argname ? " " : "", t->argname ? t->argname : "");
		else
			snprintf(left, sizeof left, "    --%s%s%s", t->longname,
			    t->argname ? " " : "", t->argname ? t->argname : "");
		fprintf(f, "  %-26s %s\n", left, t->help);
	}
}

void
bs_usage(const struct bs_prog *p, FILE *f)
{
	fprintf(f, "usage: %s %s\n", p->name, p->synopsis);
	if (f != stdout)
		return;
	fprintf(f, "%s\n\noptions:\n", p->summary);
	print_opts(p->opts, f);
	print_opts(common_opts, f);
	fprintf(f, "\nExit status: 0 success, 1 bad data, 2 usage or I/O trouble.\n"
	    "See %.*s(1) and bs-stream(5).\n", (int)strcspn(p->name, " "), p->name);
}

static void
list_opts(const struct bs_opt *t)
{
	static const char *kinds[] = { "flag", "int", "str", "size", "list" };

	for (; t->longname; t++) {
		if (!t->help)
			continue;
		printf("%c\t%s\t%s\t%s\t%s\n", t->shortname ? t->shortname : '-',
		    t->longname, kinds[t->kind], t->complete ? t->complete : "-",
		    t->help);
	}
}

static void
version(const struct bs_prog *p)
{
	printf("%s (bigsmall) %s\n", p->name, BS_VERSION_STRING);
	printf("stream format %d; zstd %s, xxhash %u.%u.%u, jansson %s\n",
	    BS_STREAM_VERSION, ZSTD_versionString(), XXH_VERSION_MAJOR,
	    XXH_VERSION_MINOR, XXH_VERSION_RELEASE, jansson_version_str());
	if (p->version_extra)
		printf("%s\n", p->version_extra());
}

static void
misuse(const struct bs_prog *p, const char *fmt, const char *what)
{
	fprintf(stderr, "%s: ", p->name);
	fprintf(stderr, fmt, what);
	fprintf(stderr, "\n");
	bs_usage(p, stderr);
	fprintf(stderr, "Try '%s --help' for more information.\n", p->name);
	exit(2);
}

static void
set_value(const struct bs_prog *p, const struct bs_opt *o, const char *val)
{
	char *end;
	long long v;

	switch (o->kind) {
	case BS_OPT_FLAG:
		(*(int *)o->dest)++;
		break;
	case BS_OPT_INT:
		errno = 0;
		v = strtoll(val, &end, 10);
		if (errno || end == val || *end)
			misuse(p, "--%s: not a number", o->longname);
		*(long long *)o->dest = v;
		break;
	case BS_OPT_SIZE:
		if ((v = bs_parse_size(val)) < 0)
			misuse(p, "--%s: not a size (like 4M or 2G)", o->longname);
		*(long long *)o->dest = v;
		break;
	case BS_OPT_STR:
		*(const char **)o->dest = val;
		break;
	case BS_OPT_LIST: {
		struct bs_strlist *l = o->dest;
		const char **nv = realloc(l->v, (l->n + 1) * sizeof *nv);
		if (!nv)
			bs_die(2, "out of memory");
		l->v = nv;
		l->v[l->n++] = val;
		break;
	}
	}
}

static const struct bs_opt *
find_long(const struct bs_opt *t, const char *name, size_t len)
{
	for (; t->longname; t++)
		if (strlen(t->longname) == len && strncmp(t->longname, name, len) == 0)
			return t;
	return NULL;
}

static const struct bs_opt *
find_short(const struct bs_opt *t, char c)
{
	for (; t->longname; t++)
		if (t->shortname == c)
			return t;
	return NULL;
}

void
bs_parse_args(const struct bs_prog *p, int *argcp, char ***argvp)
{
	int argc = *argcp, nops = 0;
	char **argv = *argvp, **ops;

	ops = bs_operands = bs_xmalloc((size_t)(argc + 1) * sizeof *ops);
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		const struct bs_opt *o;

		if (strcmp(a, "--") == 0) {
			while (++i < argc)
				ops[nops++] = argv[i];
			break;
		}
		if (a[0] != '-' || a[1] == 0) {
			ops[nops++] = a;
			continue;
		}
		if (a[1] == '-') {
			const char *name = a + 2, *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			if (!(o = find_long(p->opts, name, len)) &&
			    !(o = find_long(common_opts, name, len)))
				misuse(p, "unknown option '%s'", a);
			if (o->kind == BS_OPT_FLAG) {
				if (eq)
					misuse(p, "option '--%s' takes no value", o->longname);
				set_value(p, o, NULL);
			} else if (eq)
				set_value(p, o, eq + 1);
			else if (i + 1 < argc)
				set_value(p, o, argv[++i]);
			else
				misuse(p, "option '--%s' needs a value", o->longname);
			continue;
		}
		for (char *c = a + 1; *c; c++) {
			char opt[3] = { '-', *c, 0 };
			if (!(o = find_short(p->opts, *c)) &&
			    !(o = find_short(common_opts, *c)))
				misuse(p, "unknown option '%s'", opt);
			if (o->kind == BS_OPT_FLAG) {
				set_value(p, o, NULL);
				continue;
			}
			if (c[1])
				set_value(p, o, c + 1);
			else if (i + 1 < argc)
				set_value(p, o, argv[++i]);
			else
				misuse(p, "option '%s' needs a value", opt);
			break;
		}
	}
	ops[nops] = NULL;
	if (help_flag) {
		bs_usage(p, stdout);
		exit(bs_finish(0));
	}
	if (version_flag) {
		version(p);
		exit(bs_finish(0));
	}
	if (list_flag) {
		list_opts(p->opts);
		list_opts(common_opts);
		exit(bs_finish(0));
	}
	bs_verbose = quiet_flag ? -1 : verbose_flag;
	if (nops < p->min_args)
		misuse(p, "%s", "missing operand");
	if (p->max_args >= 0 && nops > p->max_args)
		misuse(p, "extra operand '%s'", ops[p->max_args]);
	*argcp = nops;
	*argvp = ops;
}
