/*
 * bs-ecc - protect a stream with Reed-Solomon parity (inline or in a
 * sidecar file); check it; repair damaged or missing bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bs.h"

static long long k = BS_ECC_DEFAULT_K, m = BS_ECC_DEFAULT_M, block = -1;	/* -1: by size */
static const char *backend, *sidecar, *output;
static int repair, check, list, force;
static char **volatile operands;		/* kept reachable: bs_parse_args allocates it */

static const struct bs_opt opts[] = {
	{ 'k', "data", BS_OPT_INT, &k, "K", "data blocks per group (default 16)", NULL },
	{ 'm', "parity", BS_OPT_INT, &m, "M", "parity blocks per group: how many may be lost (default 2)", NULL },
	{ 'b', "block", BS_OPT_SIZE, &block, "SIZE", "block size, a multiple of 64 (default 1M; less for a member under K MiB)", NULL },
	{ 0, "backend", BS_OPT_STR, &backend, "NAME", "isa_l_rs_cauchy or liberasurecode_rs_vand (default: the first available)", NULL },
	{ 's', "sidecar", BS_OPT_STR, &sidecar, "FILE", "parity in FILE; the stream is left as it is", "file" },
	{ 'r', "repair", BS_OPT_FLAG, &repair, NULL, "repair a damaged stream: write the original", NULL },
	{ 'c', "check", BS_OPT_FLAG, &check, NULL, "report damage, write nothing", NULL },
	{ 0, "list", BS_OPT_FLAG, &list, NULL, "print where each block and parity frame lies", NULL },
	{ 'o', "output", BS_OPT_STR, &output, "FILE", "write to FILE (by rename when complete) instead of stdout", "file" },
	{ 'f', "force", BS_OPT_FLAG, &force, NULL, "write to a terminal anyway", NULL },
	{ 0, NULL, 0, NULL, NULL, NULL, NULL }
};

static const struct bs_prog prog = {
	"bs-ecc", "[-k K] [-m M] [-b SIZE] [--backend NAME] [-s FILE] [-r | -c | --list] [-o FILE] [STREAM]",
	"Add Reed-Solomon parity to a bigsmall stream (STREAM, or stdin), or\n"
	"check and repair a protected stream.",
	opts, 0, 1,
	bs_ecc_version
};

struct input {
	uint8_t *p;
	uint64_t len;
	int mapped;
};

/* The whole of path in memory: mapped when it is a regular file. */
static void
slurp(const char *path, struct input *in)
{
	int fd = strcmp(path, "-") ? open(path, O_RDONLY) : STDIN_FILENO;
	const char *name = strcmp(path, "-") ? path : "<stdin>";
	struct stat sb;
	size_t cap = 1 << 20;
	ssize_t got;

	memset(in, 0, sizeof *in);
	if (fd < 0)
		bs_die(2, "%s: %s", name, strerror(errno));
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0) {
		in->p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (in->p != MAP_FAILED) {
			in->len = (uint64_t)sb.st_size;
			in->mapped = 1;
			if (fd != STDIN_FILENO)
				close(fd);
			return;
		}
	}
	in->p = bs_xmalloc(cap);
	for (;;) {
		if (in->len == cap) {
			uint8_t *np = realloc(in->p, cap *= 2);
			if (!np)
				bs_die(2, "%s: out of memory", name);
			in->p = np;
		}
		got = bs_read_full(fd, in->p + in->len, cap - in->len);
		if (got < 0)
			bs_die(2, "%s: read error: %s", name, strerror(errno));
		if (got == 0)
			break;
		in->len += (uint64_t)got;
	}
	if (fd != STDIN_FILENO)
		close(fd);
}

static void
unslurp(struct input *in)
{
	if (in->mapped)
		munmap(in->p, in->len);
	else
		free(in->p);
}

static int
protect(const char *in, const struct bs_ecc_params *p)
{
	struct bs_ecc_stats st;
	struct bs_err e = { 0, "" };
	struct bs_output *out = NULL, *side = NULL;
	struct bs_reader *r;
	int fd = -1, rc;

	if (!(r = bs_reader_open(in)))
		bs_die(2, "%s: %s", in, strerror(errno));
	if (sidecar) {
		if (!(side = bs_output_open(sidecar)))
			bs_die(2, "%s: cannot create: %s", sidecar, strerror(errno));
	} else
		fd = bs_out_open(output, force, &out);
	rc = bs_ecc_protect(r, fd, side ? bs_output_fd(side) : -1,
	    sidecar ? sidecar : output ? output : "<stdout>", p, &st, &e);
	if (sidecar) {
		if (rc == 0 && bs_output_commit(side) < 0)
			bs_die(2, "%s: %s", sidecar, strerror(errno));
		if (rc < 0)
			bs_output_abort(side);
	} else
		bs_out_close(out, output, rc == 0);
	if (rc < 0)
		bs_die(bs_err_status(rc), "%s", e.msg);
	if (st.dropped)
		bs_warn("%s: dropped %llu parity frames of the input (they describe other bytes)",
		    bs_reader_name(r), (unsigned long long)st.dropped);
	bs_info("%s: %llu bytes in %llu member%s, %llu group%s: %llu parity bytes (%.2f%%)",
	    bs_reader_name(r), (unsigned long long)st.data_bytes, (unsigned long long)st.sessions,
	    st.sessions == 1 ? "" : "s", (unsigned long long)st.groups, st.groups == 1 ? "" : "s",
	    (unsigned long long)st.parity_bytes,
	    st.data_bytes ? 100.0 * st.parity_bytes / st.data_bytes : 0.0);
	bs_reader_close(r);
	return 0;
}

static int
examine(const char *in)
{
	struct input data, side = { 0 };
	struct bs_err e = { 0, "" };
	struct bs_output *out = NULL;
	struct bs_ecc *x;
	const char *name = strcmp(in, "-") ? in : "<stdin>";
	int fd = -1, rc, state;

	if (repair)
		fd = bs_out_open(output, force, &out);
	slurp(in, &data);
	if (sidecar)
		slurp(sidecar, &side);
	rc = bs_ecc_analyse(data.p, data.len, sidecar ? side.p : NULL, side.len, repair, &x, &e);
	if (rc < 0) {
		if (repair)
			bs_out_close(out, output, 0);
		bs_die(bs_err_status(rc), "%s: %s", name, e.msg);
	}
	state = bs_ecc_state(x);
	if (list) {
		if (bs_ecc_list(x, stdout) < 0)
			bs_die(2, "<stdout>: write error");
	} else if (check) {
		printf("%s: %s: %zu member%s, %llu bytes\n", name,
		    state == 0 ? "clean" : state == 1 ? "damaged, repairable" : "damaged beyond repair",
		    bs_ecc_members(x), bs_ecc_members(x) == 1 ? "" : "s", (unsigned long long)bs_ecc_length(x));
		for (size_t i = 0; i < bs_ecc_nlines(x); i++)
			printf("%s: %s\n", name, bs_ecc_line(x, i));
	} else {
		for (size_t i = 0; i < bs_ecc_nlines(x); i++)
			if (state > 1)
				fprintf(stderr, "%s: %s: %s\n", bs_progname, name, bs_ecc_line(x, i));
			else
				bs_warn("%s: %s", name, bs_ecc_line(x, i));
		if (state > 1) {
			bs_out_close(out, output, 0);
			bs_die(1, "%s: damage beyond repair: nothing written", name);
		}
		rc = bs_ecc_write(x, fd, &e);
		bs_out_close(out, output, rc == 0);
		if (rc < 0)
			bs_die(2, "%s: %s", output ? output : "<stdout>", e.msg);
		if (state == 1)
			bs_warn("%s: repaired", name);
	}
	bs_ecc_free(x);
	unslurp(&data);
	if (sidecar)
		unslurp(&side);
	return repair ? 0 : state ? 1 : 0;
}

int
main(int argc, char *argv[])
{
	struct bs_ecc_params p = { 0 };
	struct bs_err e = { 0, "" };
	const char *in;
	int rc;

	bs_proginit(argc, argv, "bs-ecc");
	bs_parse_args(&prog, &argc, &argv);
	operands = argv;
	in = argc ? operands[0] : "-";
	if (repair + check + list > 1)
		bs_die(2, "--repair, --check and --list exclude one another");
	if ((check || list) && output)
		bs_die(2, "-o: --check and --list write no stream");
	if (repair || check || list)
		return bs_finish(examine(in));
	if (sidecar && output)
		bs_die(2, "-o: with --sidecar the stream is left as it is; the parity goes to the sidecar");
	if (k < 1 || k > 31)
		bs_die(2, "-k: K must be between 1 and 31");
	if (m < 1 || m > 31)
		bs_die(2, "-m: M must be between 1 and 31");
	if (block < 0) {	/* 1 MiB, less for a member shorter than K MiB */
		block = BS_ECC_DEFAULT_BLOCK;
		p.auto_block = 1;
	}
	if (block < BS_ECC_MIN_BLOCK || block > BS_ECC_MAX_BLOCK || block % 64)
		bs_die(2, "--block: must be a multiple of 64 bytes from %u to %u", BS_ECC_MIN_BLOCK, BS_ECC_MAX_BLOCK);
	p.k = (unsigned)k;
	p.m = (unsigned)m;
	p.block = (uint32_t)block;
	if (backend) {
		if (!(p.backend = bs_ecc_backend_by_name(backend)))
			bs_die(2, "--backend: unknown backend '%s' (isa_l_rs_cauchy or liberasurecode_rs_vand)", backend);
		if (!bs_ecc_backend_available(p.backend))
			bs_die(2, "--backend: %s is not available here", backend);
	} else
		p.backend = bs_ecc_backend_default();
	if ((rc = bs_ecc_params_check(&p, &e)) < 0)
		bs_die(2, "%s", e.msg);
	return bs_finish(protect(in, &p));
}
