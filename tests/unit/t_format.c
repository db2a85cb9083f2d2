/*
 * t_format.c - known-answer tests of the frame layer, the reader's checks,
 * the safetensors rules, dtype sizes, the index and the ordered pool.
 */
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "bs.h"
#include "internal.h"
#include "tap.h"

/* ---------------------------------------------------------- frames */

static void
test_header(void)
{
	uint8_t h[BS_FRAME_HEADER], meta[3] = { 1, 2, 3 };
	uint8_t type, flags;
	uint32_t ml;
	uint64_t pl;
	const char *why;
	int bad = 0;

	bs_frame_header_build(h, BS_F_CHUNK, BS_FF_SKIPPABLE, meta, 3, 12345);
	ok(memcmp(h, "\xb5" "BS\x1a", 4) == 0, "header starts with the sync marker");
	ok(bs_frame_header_parse(h, &type, &flags, &ml, &pl, &why) == 0 &&
	    type == BS_F_CHUNK && flags == BS_FF_SKIPPABLE && ml == 3 && pl == 12345,
	    "header round-trips its fields");
	ok(get32(h + 20) == bs_xxh32(meta, 3), "meta check is XXH3-64 low bits of the meta");
	/* every single-bit flip is caught */
	for (int bit = 0; bit < BS_FRAME_HEADER * 8; bit++) {
		h[bit / 8] ^= (uint8_t)(1 << (bit % 8));
		if (bs_frame_header_parse(h, &type, &flags, &ml, &pl, &why) == 0)
			bad++;
		h[bit / 8] ^= (uint8_t)(1 << (bit % 8));
	}
	ok(bad == 0, "every one-bit flip in a header is detected (%d missed)", bad);
	/* known answer: the XXH3-64 of the empty input */
	ok(bs_xxh64("", 0) == 0x2D06800538D394C2ull, "XXH3-64 known answer");
}

static void
test_dtypes(void)
{
	uint64_t b, shape[3] = { 3, 5, 7 };
	uint64_t big[2] = { 1ull << 40, 1ull << 40 };
	uint64_t odd[1] = { 3 };
	const char *why;

	ok(bs_dtype_from_name("BF16", 4) == BS_DT_BF16 && bs_dtype_bits(BS_DT_BF16) == 16, "BF16 is 16 bits");
	ok(bs_dtype_from_name("BYTES", 5) == BS_DT_UNKNOWN, "BYTES is not a safetensors dtype");
	ok(bs_dtype_from_name("F8_E4M3", 7) == BS_DT_F8_E4M3, "F8_E4M3 known");
	ok(bs_tensor_bytes(BS_DT_F32, shape, 3, &b, &why) == 0 && b == 420, "F32 [3,5,7] is 420 bytes");
	ok(bs_tensor_bytes(BS_DT_F32, shape, 0, &b, &why) == 0 && b == 4, "a rank-0 scalar is one element");
	ok(bs_tensor_bytes(BS_DT_F64, big, 2, &b, &why) < 0, "size overflow is caught");
	ok(bs_tensor_bytes(BS_DT_F4, odd, 1, &b, &why) < 0, "three F4 values are not whole bytes");
	odd[0] = 4;
	ok(bs_tensor_bytes(BS_DT_F6_E2M3, odd, 1, &b, &why) == 0 && b == 3, "four F6 values are three bytes");
	ok(bs_parse_size("4M") == 4 << 20 && bs_parse_size("2G") == 2ll << 30 &&
	    bs_parse_size("10") == 10 && bs_parse_size("x") < 0 && bs_parse_size("-1") < 0,
	    "sizes parse");
}

/* ---------------------------------------------------------- safetensors */

static int
st(const char *json, uint64_t data, struct bs_st *s, struct bs_err *e)
{
	return bs_st_parse((const uint8_t *)json, strlen(json), 8 + strlen(json) + data, s, e);
}

static void
test_safetensors(void)
{
	struct bs_st s;
	struct bs_err e;
	static const struct {
		const char *json, *word;
		uint64_t data;
	} bad[] = {
		{ "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}", "duplicate", 4 },
		{ "[1,2]", "object", 0 },
		{ "{\"a\":", "JSON", 0 },
		{ "{\"a\":{\"dtype\":\"U8\",\"shape\":[2.0],\"data_offsets\":[0,2]}}", "shape", 2 },
		{ "{\"a\":{\"dtype\":\"U8\",\"shape\":[-2],\"data_offsets\":[0,2]}}", "shape", 2 },
		{ "{\"a\":{\"dtype\":\"X9\",\"shape\":[2],\"data_offsets\":[0,2]}}", "dtype", 2 },
		{ "{\"a\":{\"dtype\":\"U8\",\"shape\":[2]}}", "data_offsets", 0 },
		{ "{\"a\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,2]}}", "need", 2 },
		{ "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[1,3]}}", "hole", 3 },
		{ "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[1,3]}}", "overlap", 3 },
		{ "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", "belong to no tensor", 5 },
		{ "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", "past the end", 1 },
		{ "{\"a\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", "overflow", 0 },
		{ "{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,1]}}", "whole", 1 },
		{ "{\"__metadata__\":{\"k\":1}}", "metadata", 0 },
		{ "{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2],\"x\":1}}", "unknown field", 2 },
		{ "{\"a\":{\"dtype\":\"U8\",\"shape\":[18446744073709551616],\"data_offsets\":[0,2]}}", "JSON", 2 },
	};

	ok(st("{}", 0, &s, &e) == 0 && s.n == 0, "empty header: no tensors");
	bs_st_free(&s);
	ok(st("{\"__metadata__\":{\"format\":\"pt\"},\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[4,8]},"
	    "\"z\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[4,4]},"
	    "\"a\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}   ", 8, &s, &e) == 0 &&
	    s.n == 3 && s.has_metadata && strcmp(s.t[0].name, "a") == 0 &&
	    strcmp(s.t[1].name, "z") == 0 && strcmp(s.t[2].name, "b") == 0,
	    "tensors sorted by offset, zero-size first at a shared offset: %s", e.msg);
	bs_st_free(&s);
	ok(st("{\"a\\u0000b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, &s, &e) == 0 && s.n == 1 && s.t[0].name_len == 3 && s.t[0].name[1] == 0,
	    "a name with a NUL byte keeps its length");
	bs_st_free(&s);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		memset(&e, 0, sizeof e);
		int rc = st(bad[i].json, bad[i].data, &s, &e);
		ok(rc < 0 && strstr(e.msg, bad[i].word), "rejects: %s (%s)", bad[i].word, e.msg);
	}
	/* 300 tensors listed in a scrambled order (and two of them empty,
	 * sharing an offset): parsed in data order, ties in header order */
	{
		char *js = malloc(300 * 80 + 16), *o = js;
		int good = 1;
		o += sprintf(o, "{");
		for (unsigned i = 0; i < 300; i++) {
			unsigned k = (i * 7919u) % 300;	/* tensor k at bytes [4k, 4k + 4) */
			unsigned len = k == 100 || k == 101 ? 0 : 4;
			unsigned at = k <= 101 ? (k < 100 ? 4 * k : 400) : 4 * k - 8;
			o += sprintf(o, "%s\"t%03u\":{\"dtype\":\"U8\",\"shape\":[%u],\"data_offsets\":[%u,%u]}",
			    i ? "," : "", k, len, at, at + len);
		}
		sprintf(o, "}");
		if (st(js, 4 * 298, &s, &e) == 0 && s.n == 300) {
			for (unsigned i = 0; i + 1 < 300; i++)
				good &= s.t[i].begin < s.t[i + 1].begin ||
				    (s.t[i].begin == s.t[i + 1].begin && s.t[i].end <= s.t[i + 1].end);
			/* t100 and t101 are both empty at 400: header order, and
			 * t101 is listed 79th, t100 200th */
			good &= !strncmp(s.t[100].name, "t101", 4) && !strncmp(s.t[101].name, "t100", 4);
			good &= !strncmp(s.t[0].name, "t000", 4) && !strncmp(s.t[299].name, "t299", 4);
			bs_st_free(&s);
		} else
			good = 0;
		ok(good, "a scrambled header of 300 tensors comes out in data order, ties in header order%s%s",
		    good ? "" : ": ", good ? "" : e.msg);
		free(js);
	}
	ok(bs_st_parse((const uint8_t *)"{}", 2, 5, &s, &e) < 0, "header longer than the file");
	ok(bs_st_parse((const uint8_t *)"{}", 100000001, BS_SIZE_UNKNOWN, &s, &e) < 0 &&
	    strstr(e.msg, "limit"), "header over 100,000,000 bytes");
}

/* ---------------------------------------------------------- stream */

/* Write a small stream into a pipe-less temp file and read it back. */
static void
test_stream(void)
{
	char path[] = "/tmp/t_format.XXXXXX";
	int fd = mkstemp(path);
	struct bs_writer *w = bs_writer_open_fd(fd, "tmp");
	struct bs_tensor_info ti;
	struct bs_chunk_info ci = { BS_C_NONE, 0, 4, 0 };
	struct bs_tend_info te;
	struct bs_reader *r;
	struct bs_frame *f;
	struct bs_index ix;
	struct bs_err e;
	uint64_t start = 99;
	int n = 0, rc, types[16];

	memset(&ti, 0, sizeof ti);
	ti.dtype = BS_DT_F32;
	ti.rank = 1;
	ti.shape[0] = 2;
	ti.size = 8;
	ti.name = "w";
	ti.name_len = 1;
	memset(&te, 0, sizeof te);
	te.size = 8;
	te.chunks = 2;
	te.hash = bs_xxh128("abcdefgh", 8);
	ok(bs_writer_stream(w, 4) == 0 && bs_writer_tensor(w, &ti) == 0 &&
	    bs_writer_chunk(w, &ci, "abcd", 4) == 0 &&
	    (ci.offset = 4, bs_writer_chunk(w, &ci, "efgh", 4)) == 0 &&
	    bs_writer_tend(w, &te) == 0 && bs_writer_end(w) == 0, "writer writes a member");
	bs_writer_free(w);
	lseek(fd, 0, SEEK_SET);
	r = bs_reader_open_fd(fd, "tmp");
	while ((rc = bs_reader_next(r, &f)) == 0) {
		if (n < 16)
			types[n] = f->type;
		n++;
		bs_frame_free(f);
	}
	ok(rc == BS_EOF && n == 7 && types[0] == BS_F_STREAM && types[1] == BS_F_TENSOR &&
	    types[2] == BS_F_CHUNK && types[4] == BS_F_TEND && types[5] == BS_F_INDEX &&
	    types[6] == BS_F_END, "reader reads it back in order (%s)", bs_reader_errmsg(r));
	bs_reader_close(r);
	fd = open(path, O_RDONLY);
	ok(bs_index_read_fd(fd, &ix, &start, &e) == 0 && start == 0 && ix.n == 1 &&
	    strcmp(ix.e[0].name, "w") == 0 && ix.e[0].size == 8 && ix.e[0].type == BS_F_TENSOR,
	    "the index is found through the footer");
	/* the tensor's frames as the index says: TENSOR first, TEND last */
	if (ix.n == 1) {
		uint8_t h[BS_FRAME_HEADER];
		pread(fd, h, sizeof h, (off_t)ix.e[0].offset);
		ok(h[4] == BS_F_TENSOR, "index entry points at the TENSOR frame");
		pread(fd, h, sizeof h, (off_t)(ix.e[0].offset + ix.e[0].length - 68));
		ok(h[4] == BS_F_TEND, "index entry length ends after the TEND frame");
	}
	bs_index_free(&ix);
	close(fd);
	unlink(path);
}

/* ---------------------------------------------------------- pool */

static void
work(void *job)
{
	long *v = job;

	usleep((useconds_t)((*v * 7919) % 5) * 200);
	*v = *v * 2 + 1;
}

static void
test_pool(void)
{
	long vals[600];

	for (int threads = 1; threads <= 4; threads += 3) {
		/* weights of 1 to 1000 bytes (a few of them heavier than the
		 * whole budget) against a budget of 3000: the bytes in flight
		 * stay under the budget plus the last job's, and the job
		 * count under the ring's */
		const uint64_t budget = 3000;
		uint64_t w[600], held = 0, worst = 0;
		size_t inflight = 0, most = 0;
		struct bs_pool *p = bs_pool_new(threads, budget, work);
		long expect = 0;
		int in_order = 1, bounded = 1;
		for (long i = 0; i < 600; i++) {
			vals[i] = i;
			w[i] = i % 97 == 3 ? 5000 : (uint64_t)(i * 7919 % 1000) + 1;
			while (bs_pool_full(p)) {
				long *v = bs_pool_take(p);
				in_order &= (*v == 2 * expect + 1);
				held -= w[expect];
				inflight--;
				expect++;
			}
			bounded &= held < budget || inflight == 0;
			bs_pool_submit(p, &vals[i], i % 7 != 0, w[i]);
			if (i % 7 == 0)
				vals[i] = 2 * i + 1;	/* passes through */
			held += w[i];
			inflight++;
			worst = held > worst ? held : worst;
			most = inflight > most ? inflight : most;
		}
		while (!bs_pool_empty(p)) {
			long *v = bs_pool_take(p);
			in_order &= (*v == 2 * expect + 1);
			expect++;
		}
		ok(in_order && expect == 600, "pool with %d threads returns jobs in order", threads);
		ok(bounded && worst < budget + 5000 &&
		    most <= (size_t)BS_POOL_JOBS * (size_t)threads,
		    "pool with %d threads: %llu bytes in flight at most (budget %llu), %zu jobs",
		    threads, (unsigned long long)worst, (unsigned long long)budget, most);
		bs_pool_free(p);
	}
	ok(bs_pool_budget(1) == 1 && bs_pool_budget(2) == 24ull << 20 &&
	    bs_pool_budget(8) == 48ull << 20 && bs_pool_budget(32) == 96ull << 20,
	    "pool budgets: 12 MiB a thread, 48 MiB in all, 3 MiB a thread beyond 16");
}

int
main(void)
{
	test_header();
	test_dtypes();
	test_safetensors();
	test_stream();
	test_pool();
	return tap_done();
}
