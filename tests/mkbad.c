/*
 * mkbad.c - write the bad-input corpus of tests/cli/81-bad-corpus.t.
 *
 *   mkbad DIR                 write DIR/good.bs and one DIR/NAME.bs per way a
 *                             stream can be wrong, and DIR/MANIFEST: one line
 *                             "NAME LEVEL what is wrong" per file, LEVEL being
 *                             frame (every reader must refuse it), decode (a
 *                             decoder must: bs-decode, bs-reshard, bs-verify)
 *                             or file (only what rebuilds files: bs-reshard,
 *                             bs-verify).
 *   mkbad --wrap ST OUT       a stream carrying the header of the safetensors
 *                             file ST in a FILE frame whose checks all hold.
 *   mkbad --parity IN OUT     the one-member stream IN with a PARITY frame
 *                             after its STREAM frame and a skippable frame of
 *                             unknown type 0x41 after its first TEND, its
 *                             index rebuilt: a good stream that readers must
 *                             pass through.
 *
 * Every frame is written with valid checks unless the case is about a check:
 * the damage is in the field named, so the reader must catch it there.  Built
 * against build/libcommon.a (it uses the library's header and meta builders).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bs.h"
#include "internal.h"

struct fr {
	uint8_t type, flags;
	uint8_t meta[1024];
	uint32_t mlen;
	uint8_t *pay;
	uint64_t plen;
	int fake;		/* header says fake_mlen / fake_plen instead */
	uint32_t fake_mlen;
	uint64_t fake_plen;
};
struct strm {
	struct fr f[4096];
	int n;
};

static const char *dir;
static FILE *manifest;
static int ncases;

static void
die(const char *what)
{
	fprintf(stderr, "mkbad: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die("malloc");
	return p;
}

/* ---------------------------------------------------------- the good stream */

static uint8_t w_data[6000], b_data[64];
static const char cfg[] = "{\"model_type\": \"tiny\"}\n";
static uint8_t prefix[256];
static size_t prefix_len;

static void
make_data(void)
{
	uint32_t x = 12345;
	const char *json = "{\"w\":{\"dtype\":\"BF16\",\"shape\":[3000],\"data_offsets\":[0,6000]},"
	    "\"b\":{\"dtype\":\"F32\",\"shape\":[16],\"data_offsets\":[6000,6064]}}";
	size_t n = strlen(json), padded = (n + 7) & ~(size_t)7;

	for (size_t i = 0; i < sizeof w_data; i += 2) {
		/* small weights: an exponent around 120, random mantissa */
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		uint16_t v = (uint16_t)(((x >> 31) << 15) | ((118 + (x >> 8) % 5) << 7) | (x & 0x7f));
		memcpy(w_data + i, &v, 2);
	}
	for (size_t i = 0; i < sizeof b_data; i++)
		b_data[i] = (uint8_t)(i * 7);
	put64(prefix, padded);
	memcpy(prefix + 8, json, n);
	memset(prefix + 8 + n, ' ', padded - n);
	prefix_len = 8 + padded;
}

static void
chunk(struct bs_writer *w, int dtype, const uint8_t *raw, size_t n, uint64_t off,
    const char *force)
{
	uint8_t *out = xmalloc(n);
	struct bs_chunk_info ci = { 0, 0, (uint32_t)n, off };
	long len = bs_chunk_encode(dtype, BS_X_NONE, raw, n, out, 3, force, &ci.codec);

	if (len <= 0)
		die("bs_chunk_encode");
	if (bs_writer_chunk(w, &ci, out, (size_t)len) < 0)
		die("bs_writer_chunk");
	free(out);
}

static void
tensor(struct bs_writer *w, int kind, int dtype, const char *name, uint64_t dim,
    const uint8_t *raw, size_t n, size_t cs, const char *force)
{
	struct bs_tensor_info ti;
	struct bs_tend_info te;

	memset(&ti, 0, sizeof ti);
	ti.kind = (uint8_t)kind;
	ti.dtype = (uint8_t)dtype;
	ti.rank = kind == BS_T_BLOB ? 0 : 1;
	ti.shape[0] = dim;
	ti.size = n;
	ti.name = name;
	ti.name_len = (uint32_t)strlen(name);
	if (bs_writer_tensor(w, &ti) < 0)
		die("bs_writer_tensor");
	memset(&te, 0, sizeof te);
	for (size_t off = 0; off < n; off += cs) {
		size_t k = n - off < cs ? n - off : cs;
		chunk(w, dtype, raw + off, k, off, force);
		te.chunks++;
	}
	te.size = n;
	te.hash = bs_xxh128(raw, n);
	if (bs_writer_tend(w, &te) < 0)
		die("bs_writer_tend");
}

/* The good stream: a safetensors file (a BF16 tensor in a zstd and a bf16
 * chunk, an F32 tensor raw) and a blob, with its index. */
static uint8_t *
good_bytes(size_t *len)
{
	int fd = memfd_create("good", 0);
	struct bs_writer *w;
	struct bs_file_info fi;
	struct bs_fend_info fe;
	struct bs_sha256 *sha = bs_sha256_new();
	uint8_t *buf;
	off_t size;

	if (fd < 0 || !(w = bs_writer_open_fd(fd, "good")) || !sha)
		die("memfd");
	bs_writer_stream(w, 4096);
	memset(&fi, 0, sizeof fi);
	fi.kind = BS_FILE_SAFETENSORS;
	fi.size = prefix_len + sizeof w_data + sizeof b_data;
	fi.path = "a.safetensors";
	fi.path_len = (uint32_t)strlen(fi.path);
	bs_writer_file(w, &fi, prefix, prefix_len);
	tensor(w, BS_T_TENSOR, BS_DT_BF16, "w", 3000, w_data, sizeof w_data, 4096, "zstd");
	tensor(w, BS_T_TENSOR, BS_DT_F32, "b", 16, b_data, sizeof b_data, 4096, "none");
	bs_sha256_update(sha, prefix, prefix_len);
	bs_sha256_update(sha, w_data, sizeof w_data);
	bs_sha256_update(sha, b_data, sizeof b_data);
	fe.size = fi.size;
	bs_sha256_final(sha, fe.sha256);
	bs_writer_fend(w, &fe);
	fi.kind = BS_FILE_BLOB;
	fi.size = sizeof cfg - 1;
	fi.path = "config.json";
	fi.path_len = (uint32_t)strlen(fi.path);
	bs_writer_file(w, &fi, NULL, 0);
	tensor(w, BS_T_BLOB, BS_DT_BYTES, "config.json", 0, (const uint8_t *)cfg, sizeof cfg - 1, 4096, "none");
	bs_sha256_update(sha, cfg, sizeof cfg - 1);
	bs_sha256_final(sha, fe.sha256);
	fe.size = sizeof cfg - 1;
	bs_writer_fend(w, &fe);
	if (bs_writer_end(w) < 0)
		die(bs_writer_errmsg(w));
	bs_writer_free(w);
	bs_sha256_free(sha);
	size = lseek(fd, 0, SEEK_END);
	buf = xmalloc((size_t)size);
	if (pread(fd, buf, (size_t)size, 0) != size)
		die("pread");
	close(fd);
	*len = (size_t)size;
	return buf;
}

static void
parse(const uint8_t *p, size_t len, struct strm *s)
{
	size_t at = 0;

	memset(s, 0, sizeof *s);
	while (at < len) {
		struct fr *f = &s->f[s->n++];
		f->type = p[at + 4];
		f->flags = p[at + 5];
		f->mlen = get32(p + at + 8);
		f->plen = get64(p + at + 12);
		memcpy(f->meta, p + at + 28, f->mlen);
		f->pay = xmalloc(f->plen);
		memcpy(f->pay, p + at + 28 + f->mlen, f->plen);
		at += 28 + f->mlen + f->plen + 8;
	}
}

/* The k-th frame (from 0) of type t. */
static int
nth(const struct strm *s, int t, int k)
{
	for (int i = 0; i < s->n; i++)
		if (s->f[i].type == t && k-- == 0)
			return i;
	fprintf(stderr, "mkbad: no frame %d of type %d\n", k, t);
	exit(2);
}

static uint64_t
fsize(const struct fr *f)
{
	return 28 + f->mlen + f->plen + 8;
}

/* Point the entries of the (one) INDEX at the records as they now lie. */
static void
fix_index(struct strm *s)
{
	uint64_t at = 0, start = 0, open_f = 0, open_t = 0;
	int ix = -1, e = 0;
	uint8_t *p = NULL;

	for (int i = 0; i < s->n; i++)
		if (s->f[i].type == BS_F_INDEX)
			ix = i;
	if (ix < 0)
		return;
	p = xmalloc(s->f[ix].plen);
	memcpy(p, s->f[ix].pay, s->f[ix].plen);
	s->f[ix].pay = p;
	p += 8;
	for (int i = 0; i < s->n; i++) {
		struct fr *f = &s->f[i];
		uint8_t *q = p;
		if (f->type == BS_F_STREAM)
			start = at;
		if ((f->type == BS_F_FILE || f->type == BS_F_TENSOR) && e < (int)get32(p - 8)) {
			for (int k = 0; k < e; k++)
				q += 32 + get32(q + 4);
			if (q + 32 > p - 8 + s->f[ix].plen)
				return;
			put64(q + 8, at - start);
			if (f->type == BS_F_FILE)
				open_f = (uint64_t)(q - p) + 1;
			else
				open_t = (uint64_t)(q - p) + 1;
			e++;
		}
		if ((f->type == BS_F_FEND && open_f) || (f->type == BS_F_TEND && open_t)) {
			q = p + (f->type == BS_F_FEND ? open_f : open_t) - 1;
			put64(q + 16, at + fsize(f) - start - get64(q + 8));
		}
		at += fsize(f);
	}
}

/* Serialise; with fix, END's member length and index position follow the
 * frames as they now are (so that only the damage made is wrong). */
static uint8_t *
serialise(struct strm *s, int fix, size_t *len)
{
	uint64_t total = 0, at = 0, start = 0, ix = 0, ixlen = 0;
	uint8_t *out, *p;

	for (int i = 0; i < s->n; i++) {
		struct fr *f = &s->f[i];
		if (f->type == BS_F_STREAM)
			start = at, ix = 0;
		if (f->type == BS_F_INDEX)
			ix = at - start, ixlen = fsize(f);
		if (f->type == BS_F_END && fix && f->mlen == 48) {
			put64(f->meta, at + fsize(f) - start);
			put64(f->meta + 8, ix);
			put64(f->meta + 16, ix ? ixlen : 0);
		}
		at += fsize(f);
	}
	total = at;
	p = out = xmalloc(total);
	for (int i = 0; i < s->n; i++) {
		struct fr *f = &s->f[i];
		bs_frame_header_build(p, f->type, f->flags, f->meta, f->mlen, f->plen);
		if (f->fake) {
			put32(p + 8, f->fake_mlen);
			put64(p + 12, f->fake_plen);
			put32(p + 24, bs_xxh32(p, 24));
		}
		p += 28;
		memcpy(p, f->meta, f->mlen), p += f->mlen;
		if (f->plen)
			memcpy(p, f->pay, f->plen);
		p += f->plen;
		put64(p, bs_xxh64(f->pay, f->plen)), p += 8;
	}
	*len = total;
	return out;
}

static void
emit(const char *name, const char *level, const char *what, const uint8_t *p, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s.bs", dir, name);
	if (!(f = fopen(path, "wb")) || fwrite(p, 1, len, f) != len || fclose(f) != 0)
		die(path);
	fprintf(manifest, "%s %s %s\n", name, level, what);
	ncases++;
}

static struct strm good;
static uint8_t *goodb;
static size_t goodlen;

/* A copy of the good stream to damage. */
static struct strm *
copy(void)
{
	static struct strm s;

	s = good;
	return &s;
}

static void
out(struct strm *s, const char *name, const char *level, const char *what)
{
	size_t len;
	uint8_t *p;

	if (strncmp(name, "index-", 6) != 0)
		fix_index(s);	/* only the damage made is wrong */
	p = serialise(s, 1, &len);
	emit(name, level, what, p, len);
	free(p);
}

static uint64_t
offset_of(const struct strm *s, int idx)
{
	uint64_t at = 0;

	for (int i = 0; i < idx; i++)
		at += fsize(&s->f[i]);
	return at;
}

/* The good bytes cut at n. */
static void
cut(const char *name, uint64_t n, const char *what)
{
	emit(name, "frame", what, goodb, (size_t)n);
}

/* The good bytes with bit `bit` of byte `at` flipped. */
static void
flip(const char *name, uint64_t at, int bit, const char *what)
{
	uint8_t *p = xmalloc(goodlen);

	memcpy(p, goodb, goodlen);
	p[at] ^= (uint8_t)(1 << bit);
	emit(name, "frame", what, p, goodlen);
	free(p);
}

/* Insert frame f before index i. */
static void
insert(struct strm *s, int i, const struct fr *f)
{
	struct fr copy_of = *f;		/* f may point into s */

	memmove(&s->f[i + 1], &s->f[i], (size_t)(s->n - i) * sizeof *f);
	s->f[i] = copy_of;
	s->n++;
}

/* Give frame i its own payload, to change. */
static void
own(struct strm *s, int i)
{
	uint8_t *p = xmalloc(s->f[i].plen);

	memcpy(p, s->f[i].pay, s->f[i].plen);
	s->f[i].pay = p;
}

static void
drop(struct strm *s, int i)
{
	memmove(&s->f[i], &s->f[i + 1], (size_t)(s->n - i - 1) * sizeof s->f[0]);
	s->n--;
}

/* ---------------------------------------------------------- the cases */

static void
cases(void)
{
	struct strm *s;
	int iS = nth(&good, BS_F_STREAM, 0), iF = nth(&good, BS_F_FILE, 0);
	int iT = nth(&good, BS_F_TENSOR, 0), iC = nth(&good, BS_F_CHUNK, 0);
	int iC2 = nth(&good, BS_F_CHUNK, 1), iE = nth(&good, BS_F_TEND, 0);
	int iFE = nth(&good, BS_F_FEND, 0), iI = nth(&good, BS_F_INDEX, 0);
	int iEnd = nth(&good, BS_F_END, 0), iTf = nth(&good, BS_F_TENSOR, 1);
	int iTb = nth(&good, BS_F_TENSOR, 2), iCbl = nth(&good, BS_F_CHUNK, 3);
	int iCb = nth(&good, BS_F_CHUNK, 2), iFb = nth(&good, BS_F_FILE, 1);
	struct fr blob[3];
	uint64_t oC = offset_of(&good, iC), oEnd = offset_of(&good, iEnd);
	uint64_t oI = offset_of(&good, iI), oF = offset_of(&good, iF);
	struct fr extra;

	/* streams cut at every kind of place */
	cut("cut-empty", 0, "an empty input");
	cut("cut-in-first-header", 10, "cut inside the first frame header");
	cut("cut-in-stream-meta", 28 + 30, "cut inside the STREAM meta block");
	cut("cut-after-stream", fsize(&good.f[iS]), "cut right after the STREAM frame");
	cut("cut-in-file-meta", oF + 28 + 5, "cut inside a FILE meta block");
	cut("cut-in-file-payload", oF + 28 + good.f[iF].mlen + 40, "cut inside a FILE payload (the safetensors header)");
	cut("cut-in-chunk-header", oC + 20, "cut inside a CHUNK header");
	cut("cut-in-chunk-payload", oC + 28 + 16 + good.f[iC].plen / 2, "cut inside a CHUNK payload");
	cut("cut-in-chunk-trailer", oC + fsize(&good.f[iC]) - 3, "cut inside a CHUNK trailer");
	cut("cut-between-chunks", oC + fsize(&good.f[iC]), "cut between two chunks of a tensor");
	cut("cut-after-tend", offset_of(&good, iE + 1), "cut between two tensors");
	cut("cut-after-fend", offset_of(&good, iFE + 1), "cut between two files");
	cut("cut-before-index", oI, "cut before the INDEX frame");
	cut("cut-in-index", oI + 28 + 20, "cut inside the INDEX payload");
	cut("cut-before-end", oEnd, "cut right before the END frame");
	cut("cut-in-end", oEnd + 50, "cut inside the END frame");
	cut("cut-end-last-byte", goodlen - 1, "the last byte of the END frame missing");

	/* a bit flipped in each field of a frame header (a CHUNK) */
	flip("hdr-sync", oC + 1, 2, "a bit flipped in a sync marker");
	flip("hdr-type", oC + 4, 0, "a bit flipped in a frame type");
	flip("hdr-flags", oC + 5, 1, "a bit flipped in the flags");
	flip("hdr-reserved", oC + 6, 3, "a bit flipped in the reserved header bytes");
	flip("hdr-meta-len", oC + 8, 2, "a bit flipped in a meta length");
	flip("hdr-payload-len", oC + 12, 4, "a bit flipped in a payload length");
	flip("hdr-payload-len-high", oC + 19, 7, "the top bit of a payload length flipped");
	flip("hdr-meta-check", oC + 20, 5, "a bit flipped in a meta check");
	flip("hdr-header-check", oC + 26, 6, "a bit flipped in a header check");
	flip("meta-chunk-bit", oC + 28 + 5, 0, "a bit flipped in a CHUNK meta block (raw length)");
	flip("payload-bit", oC + 28 + 16 + 7, 3, "a bit flipped in a CHUNK payload");
	flip("trailer-bit", oC + fsize(&good.f[iC]) - 1, 0, "a bit flipped in a payload checksum");
	flip("end-meta-bit", oEnd + 28 + 25, 0, "a bit flipped in the END meta block (file count)");

	/* headers whose check holds, with fields no reader may accept */
	s = copy();
	s->f[iC].fake = 1, s->f[iC].fake_mlen = s->f[iC].mlen, s->f[iC].fake_plen = 1ull << 60;
	out(s, "size-chunk-2e60", "frame", "a CHUNK claiming a payload of 2^60 bytes, header check valid");
	s = copy();
	s->f[iF].fake = 1, s->f[iF].fake_mlen = s->f[iF].mlen, s->f[iF].fake_plen = 1ull << 32;
	out(s, "size-file-payload-4g", "frame", "a FILE claiming a 4 GiB payload, header check valid");
	s = copy();
	s->f[iC].fake = 1, s->f[iC].fake_mlen = (1u << 20) + 1, s->f[iC].fake_plen = s->f[iC].plen;
	out(s, "size-meta-over-limit", "frame", "a meta length over 1 MiB, header check valid");
	s = copy();
	s->f[iC].fake = 1, s->f[iC].fake_mlen = s->f[iC].mlen + 4, s->f[iC].fake_plen = s->f[iC].plen;
	out(s, "size-meta-len-lies", "frame", "a meta length 4 bytes too long, header check valid");
	s = copy();
	s->f[iI].fake = 1, s->f[iI].fake_mlen = 0, s->f[iI].fake_plen = 1ull << 40;
	out(s, "size-index-1t", "frame", "an INDEX claiming 1 TiB, header check valid");
	s = copy();
	s->f[iS].pay = (uint8_t *)"12345678", s->f[iS].plen = 8;
	out(s, "stream-with-payload", "frame", "a STREAM frame with a payload");

	/* meta fields of each frame type */
	s = copy(); put16(s->f[iS].meta, 2);
	out(s, "stream-version-2", "frame", "a STREAM of version 2");
	s = copy(); put16(s->f[iS].meta + 2, 1);
	out(s, "stream-reserved", "frame", "a STREAM reserved field not 0");
	s = copy(); s->f[iS].mlen = 70;
	out(s, "stream-meta-short", "frame", "a STREAM meta block 2 bytes short");
	s = copy(); s->f[iF].meta[0] = 4;
	out(s, "file-kind-4", "frame", "a FILE of unknown kind 4");
	s = copy(); s->f[iF].meta[0] = 3;
	out(s, "file-ref-payload", "frame", "a file reference (FILE kind 3) with a payload");
	s = copy(); s->f[iFb].meta[0] = 3;
	out(s, "file-ref-entry", "frame", "a file reference (FILE kind 3) holding a blob's entry");
	s = copy(); s->f[iF].meta[2] = 1;
	out(s, "file-reserved", "frame", "a FILE reserved field not 0");
	s = copy(); put32(s->f[iF].meta + 4, 0); s->f[iF].mlen = 16;
	out(s, "file-path-empty", "frame", "a FILE with an empty path");
	s = copy(); put32(s->f[iF].meta + 4, 0xffffffffu);
	out(s, "file-path-len-4g", "frame", "a FILE path length of 2^32-1");
	s = copy(); s->f[iF].meta[16 + 3] = 0;
	out(s, "file-path-nul", "frame", "a FILE path holding a NUL byte");
	s = copy(); put64(s->f[iF].meta + 8, get64(s->f[iF].meta + 8) + 1);
	out(s, "file-size-wrong", "frame", "a FILE size one more than its contents");
	s = copy(); own(s, iF); put64(s->f[iF].pay, get64(s->f[iF].pay) - 8);
	out(s, "file-prefix-len", "frame", "a safetensors FILE whose header length is not its payload's");
	s = copy(); s->f[iF].plen = 4;
	out(s, "file-prefix-short", "frame", "a safetensors FILE payload shorter than 8 bytes");
	s = copy(); s->f[iFb].pay = (uint8_t *)"xx", s->f[iFb].plen = 2;
	out(s, "blob-file-payload", "frame", "a blob FILE with a payload");
	s = copy(); s->f[iT].meta[0] = 9;
	out(s, "tensor-kind-9", "frame", "a TENSOR of unknown kind 9");
	s = copy(); s->f[iT].meta[1] = 0;
	out(s, "tensor-dtype-0", "frame", "a TENSOR of dtype 0");
	s = copy(); s->f[iT].meta[1] = 99;
	out(s, "tensor-dtype-99", "frame", "a TENSOR of unknown dtype 99");
	s = copy(); s->f[iT].meta[1] = BS_DT_BYTES;
	out(s, "tensor-dtype-bytes", "frame", "a tensor of dtype BYTES");
	s = copy(); s->f[iT].meta[1] = BS_DT_F32;
	out(s, "tensor-dtype-other", "frame", "a TENSOR whose dtype is not its header's");
	s = copy(); s->f[iT].meta[2] = 65;
	out(s, "tensor-rank-65", "frame", "a TENSOR of rank 65");
	s = copy(); s->f[iT].meta[3] = 1;
	out(s, "tensor-reserved", "frame", "a TENSOR reserved field not 0");
	s = copy(); put32(s->f[iT].meta + 4, 0xffffffffu);
	out(s, "tensor-name-len-4g", "frame", "a TENSOR name length of 2^32-1");
	s = copy(); put64(s->f[iT].meta + 8, 6002);
	out(s, "tensor-size-shape", "frame", "a TENSOR size that is not its shape's");
	s = copy(); put64(s->f[iT].meta + 16, 2999);
	out(s, "tensor-shape-other", "frame", "a TENSOR whose shape is not its header's");
	s = copy(); s->f[iT].meta[s->f[iT].mlen - 1] = 'v';
	out(s, "tensor-name-other", "frame", "a TENSOR whose name is not the next of its header");
	s = copy(); put64(s->f[iT].meta + 8, 1ull << 60); put64(s->f[iT].meta + 16, 1ull << 59);
	out(s, "tensor-size-2e60", "frame", "a TENSOR of 2^60 bytes (shape and size agree, header does not)");
	s = copy(); s->f[iC].meta[0] = 200;
	out(s, "chunk-codec-200", "decode", "a CHUNK of unknown codec 200");
	s = copy(); s->f[iC].meta[1] = 3;
	out(s, "chunk-transform-3", "frame", "a CHUNK of unknown transform 3");
	s = copy(); s->f[iC].meta[1] = BS_X_XOR;
	out(s, "chunk-xor-plain", "frame", "a CHUNK with transform XOR in a plain tensor (a delta without its base)");
	s = copy(); s->f[iC].meta[2] = 1;
	out(s, "chunk-reserved", "frame", "a CHUNK reserved field not 0");
	s = copy(); put32(s->f[iC].meta + 4, 0);
	out(s, "chunk-raw-len-0", "frame", "a CHUNK of raw length 0");
	s = copy(); put32(s->f[iC].meta + 4, (64u << 20) + 1);
	out(s, "chunk-raw-len-over", "frame", "a CHUNK of raw length 64 MiB + 1");
	s = copy(); put64(s->f[iC2].meta + 8, 4000);
	out(s, "chunk-offset-gap", "frame", "a CHUNK whose offset does not follow the previous one");
	s = copy(); put32(s->f[iC2].meta + 4, 4000);
	out(s, "chunk-past-end", "frame", "a CHUNK running past the end of its tensor");
	s = copy(); s->f[iCb].plen = 60;
	out(s, "chunk-none-len", "frame", "a raw CHUNK whose payload is shorter than its raw length");
	s = copy(); s->f[iC].pay = xmalloc(4096 + 100); s->f[iC].plen = 4096 + 100;
	memset(s->f[iC].pay, 7, 4196);
	out(s, "chunk-coded-larger", "frame", "a coded CHUNK larger than its raw length + 64");
	{
		/* a zstd payload with valid checksums that decodes to fewer bytes */
		uint8_t *z = xmalloc(8192);
		struct bs_chunk_info ci;
		long n = bs_chunk_encode(BS_DT_BF16, BS_X_NONE, w_data, 4000, z, 3, "zstd", &ci.codec);
		s = copy();
		s->f[iC].pay = z;
		s->f[iC].plen = (uint64_t)n;
		out(s, "zstd-short", "decode", "a zstd CHUNK that decodes to 96 bytes fewer than its raw length");
		n = bs_chunk_encode(BS_DT_BF16, BS_X_NONE, w_data, 4096, z, 3, "zstd", &ci.codec);
		s = copy();
		s->f[iC].pay = xmalloc((size_t)n);
		memcpy(s->f[iC].pay, z, (size_t)n);
		s->f[iC].pay[n / 2] ^= 0x55;
		out(s, "zstd-damaged", "decode", "a zstd CHUNK payload damaged, checksum rebuilt");
		s = copy();
		s->f[iC].pay = (uint8_t *)"not zstd at all, not at all";
		s->f[iC].plen = 27;
		out(s, "zstd-garbage", "decode", "a zstd CHUNK whose payload is not zstd");
		s = copy();
		s->f[iC].meta[0] = BS_C_BF16;
		out(s, "bf16-garbage", "decode", "a bf16 CHUNK whose payload is a zstd frame");
		s = copy();
		s->f[iCb].meta[0] = BS_C_BF16;
		out(s, "codec-bf16-in-f32", "decode", "a bf16 CHUNK in an F32 tensor");
	}
	s = copy(); put64(s->f[iE].meta, 6001);
	out(s, "tend-size", "frame", "a TEND size that is not the sum of its chunks");
	s = copy(); put32(s->f[iE].meta + 8, 1);
	out(s, "tend-chunks", "frame", "a TEND chunk count that is not its chunks'");
	s = copy(); put32(s->f[iE].meta + 12, 1);
	out(s, "tend-reserved", "frame", "a TEND reserved field not 0");
	s = copy(); s->f[iE].meta[20] ^= 1;
	out(s, "tend-hash", "decode", "a TEND whose XXH3-128 is wrong");
	s = copy(); put64(s->f[iFE].meta, get64(s->f[iFE].meta) - 1);
	out(s, "fend-size", "frame", "a FEND size that is not the file's");
	s = copy(); s->f[iFE].meta[8 + 5] ^= 1;
	out(s, "fend-sha256", "file", "a FEND whose SHA-256 is wrong");
	s = copy(); put64(s->f[iEnd].meta + 24, 3);
	out(s, "end-files", "frame", "an END file count that does not match");
	s = copy(); put64(s->f[iEnd].meta + 32, 2);
	out(s, "end-tensors", "frame", "an END tensor count that does not match");
	s = copy(); put64(s->f[iEnd].meta + 40, 1);
	out(s, "end-raw-bytes", "frame", "an END raw byte count that does not match");
	{
		size_t len;
		uint8_t *p;
		s = copy();
		p = serialise(s, 1, &len);
		s->f[iEnd].meta[0] ^= 0x10;	/* after the fix: not fixed again */
		free(p);
		p = serialise(s, 0, &len);
		emit("end-member-len", "frame", "an END member length that does not match", p, len);
		free(p);
		s = copy();
		p = serialise(s, 1, &len);
		put64(s->f[iEnd].meta + 8, 1ull << 40);
		free(p);
		p = serialise(s, 0, &len);
		emit("end-index-outside", "frame", "an END whose index offset points outside the file", p, len);
		free(p);
		s = copy();
		p = serialise(s, 1, &len);
		put64(s->f[iEnd].meta + 16, get64(s->f[iEnd].meta + 16) + 8);
		free(p);
		p = serialise(s, 0, &len);
		emit("end-index-len", "frame", "an END index length that does not match", p, len);
		free(p);
	}
	s = copy(); s->f[iEnd].mlen = 56;
	out(s, "end-size", "frame", "an END frame of 92 bytes");
	/* the index */
	s = copy(); own(s, iI); put64(s->f[iI].pay + 8 + 8, 1ull << 50);
	out(s, "index-entry-outside", "frame", "an INDEX entry pointing outside the file");
	s = copy(); own(s, iI); put32(s->f[iI].pay, 0x7fffffff);
	out(s, "index-count-huge", "frame", "an INDEX claiming 2^31 entries");
	s = copy(); own(s, iI); put32(s->f[iI].pay + 4, 1);
	out(s, "index-reserved", "frame", "an INDEX reserved field not 0");
	s = copy(); own(s, iI); put32(s->f[iI].pay + 8 + 4, 0xffffffffu);
	out(s, "index-name-len-4g", "frame", "an INDEX entry with a name of 2^32-1 bytes");
	s = copy(); insert(s, iI, &s->f[iI]);
	out(s, "index-twice", "frame", "two INDEX frames");
	s = copy(); insert(s, iE, &s->f[iI]);
	out(s, "index-in-tensor", "frame", "an INDEX inside a tensor");
	/* grammar */
	memset(&extra, 0, sizeof extra);
	extra.type = 0x40;
	s = copy(); insert(s, iC, &extra);
	out(s, "unknown-required", "frame", "an unknown frame type 0x40 without the skippable flag");
	extra.flags = BS_FF_SKIPPABLE;
	s = copy(); insert(s, 0, &extra);
	out(s, "unknown-before-stream", "frame", "a skippable frame of unknown type before the STREAM");
	extra.type = BS_F_PARITY;
	extra.flags = 0;
	s = copy(); insert(s, iC, &extra);
	out(s, "parity-not-skippable", "frame", "a PARITY frame without the skippable flag");
	s = copy(); insert(s, iT, &s->f[iS]);
	out(s, "stream-in-member", "frame", "a second STREAM inside a member");
	s = copy(); insert(s, iC, &s->f[iT]);
	out(s, "tensor-in-tensor", "frame", "a TENSOR inside a tensor");
	s = copy(); insert(s, iT, &s->f[iC]);
	out(s, "chunk-outside-tensor", "frame", "a CHUNK outside a tensor");
	s = copy(); drop(s, iC2);
	out(s, "chunk-missing", "frame", "a tensor missing its last chunk");
	s = copy(); drop(s, iTb);
	drop(s, iTb);
	drop(s, iTb);
	out(s, "blob-data-missing", "frame", "a blob FILE without its data");
	s = copy(); s->f[iTb].meta[16] ^= 1;
	out(s, "blob-name-not-path", "frame", "a blob's data named otherwise than its FILE's path");
	s = copy(); drop(s, iE + 1); drop(s, iE + 1); drop(s, iE + 1);
	out(s, "tensor-missing", "frame", "a file that ends before all the tensors its header lists");
	s = copy(); insert(s, iFE, &s->f[iE + 1]); insert(s, iFE + 1, &s->f[iE + 2]); insert(s, iFE + 2, &s->f[iE + 3]);
	out(s, "tensor-extra", "frame", "a file with a tensor more than its header lists");
	s = copy(); drop(s, iF);
	out(s, "file-frame-missing", "frame", "tensors of a file without its FILE frame, then its FEND");
	s = copy(); s->f[iTf].meta[0] = BS_T_REF;
	memset(s->f[iTf].meta + s->f[iTf].mlen, 0, 20);
	s->f[iTf].mlen += 20;
	out(s, "ref-with-chunk", "frame", "a REF tensor with a chunk");
	s = copy();
	blob[0] = s->f[iTb], blob[1] = s->f[iCbl], blob[2] = s->f[iCbl + 1];
	insert(s, iFE + 1, &blob[0]); insert(s, iFE + 2, &blob[1]); insert(s, iFE + 3, &blob[2]);
	out(s, "blob-outside-file", "frame", "blob data outside a file");
	s = copy(); drop(s, iFE);
	out(s, "fend-missing", "frame", "a file without its FEND");
	s = copy(); insert(s, iFE, &s->f[iFE]);
	out(s, "fend-twice", "frame", "a file with two FENDs");
	s = copy(); drop(s, iS);
	out(s, "stream-missing", "frame", "a member without its STREAM frame");
	{
		size_t len;
		uint8_t *p = xmalloc(goodlen + fsize(&good.f[iF]) + 16);
		memcpy(p, goodb, goodlen);
		memcpy(p + goodlen, goodb + oF, fsize(&good.f[iF]));
		emit("frame-after-end", "frame", "a FILE frame after the END frame", p, goodlen + fsize(&good.f[iF]));
		memcpy(p + goodlen, "garbage", 7);
		emit("trailing-garbage", "frame", "7 bytes of garbage after the END frame", p, goodlen + 7);
		memset(p + goodlen, 0, 16);
		emit("trailing-zeros", "frame", "16 zero bytes after the END frame", p, goodlen + 16);
		len = goodlen;
		memcpy(p + len, goodb, 200);
		emit("second-member-cut", "frame", "a whole member, then 200 bytes of another", p, len + 200);
		free(p);
	}
}

/* ---------------------------------------------------------- --wrap */

static int
wrap(const char *st, const char *outpath)
{
	FILE *f = fopen(st, "rb");
	uint8_t *buf;
	long size;
	uint64_t n;
	struct strm s;
	struct bs_stream_info si;
	uint8_t meta[1024];
	size_t len;
	uint8_t *p;
	FILE *o;

	if (!f || fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0)
		die(st);
	rewind(f);
	buf = xmalloc((size_t)size + 8);
	memset(buf, 0, (size_t)size + 8);
	if (fread(buf, 1, (size_t)size, f) != (size_t)size)
		die(st);
	fclose(f);
	n = get64(buf);
	if (size < 8 || n > (uint64_t)size - 8)
		n = size >= 8 ? (uint64_t)size - 8 : 0;	/* the header as far as it goes */
	memset(&s, 0, sizeof s);
	memset(&si, 0, sizeof si);
	si.version = BS_STREAM_VERSION;
	si.chunk_size = 4096;
	strcpy(si.writer, "mkbad");
	s.f[0].type = BS_F_STREAM;
	s.f[0].mlen = (uint32_t)bs_meta_build(s.f[0].meta, BS_F_STREAM, &si);
	{
		struct bs_file_info fi = { BS_FILE_SAFETENSORS, (uint64_t)size, 16, "bad.safetensors" };
		s.f[1].type = BS_F_FILE;
		s.f[1].mlen = (uint32_t)bs_meta_build(meta, BS_F_FILE, &fi);
		memcpy(s.f[1].meta, meta, s.f[1].mlen);
		s.f[1].pay = buf;
		s.f[1].plen = 8 + n;
		put64(buf, n);
	}
	{
		struct bs_end_info en;
		memset(&en, 0, sizeof en);
		en.files = 1;
		s.f[2].type = BS_F_END;
		s.f[2].mlen = (uint32_t)bs_meta_build(s.f[2].meta, BS_F_END, &en);
	}
	s.n = 3;
	p = serialise(&s, 1, &len);
	if (!(o = fopen(outpath, "wb")) || fwrite(p, 1, len, o) != len || fclose(o) != 0)
		die(outpath);
	free(p);
	free(buf);
	return 0;
}

static int
parity(const char *in, const char *outpath)
{
	FILE *f = fopen(in, "rb");
	struct strm *s = &good;
	struct fr x;
	uint8_t *buf, *p;
	long size;
	size_t len;

	if (!f || fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0)
		die(in);
	rewind(f);
	buf = xmalloc((size_t)size);
	if (fread(buf, 1, (size_t)size, f) != (size_t)size)
		die(in);
	fclose(f);
	parse(buf, (size_t)size, s);
	memset(&x, 0, sizeof x);
	x.type = BS_F_PARITY;
	x.flags = BS_FF_SKIPPABLE;
	x.pay = (uint8_t *)"parity bytes";
	x.plen = 12;
	insert(s, 1, &x);
	x.type = 0x41;
	insert(s, nth(s, BS_F_TEND, 0) + 1, &x);
	fix_index(s);
	p = serialise(s, 1, &len);
	if (!(f = fopen(outpath, "wb")) || fwrite(p, 1, len, f) != len || fclose(f) != 0)
		die(outpath);
	return 0;
}

int
main(int argc, char *argv[])
{
	char path[4096];

	if (argc == 4 && strcmp(argv[1], "--parity") == 0)
		return parity(argv[2], argv[3]);
	if (argc == 4 && strcmp(argv[1], "--wrap") == 0)
		return wrap(argv[2], argv[3]);
	if (argc != 2) {
		fprintf(stderr, "usage: mkbad DIR | mkbad --wrap ST OUT\n");
		return 2;
	}
	dir = argv[1];
	make_data();
	goodb = good_bytes(&goodlen);
	parse(goodb, goodlen, &good);
	snprintf(path, sizeof path, "%s/good.bs", dir);
	{
		FILE *f = fopen(path, "wb");
		if (!f || fwrite(goodb, 1, goodlen, f) != goodlen || fclose(f) != 0)
			die(path);
	}
	snprintf(path, sizeof path, "%s/MANIFEST", dir);
	if (!(manifest = fopen(path, "w")))
		die(path);
	cases();
	if (fclose(manifest) != 0)
		die(path);
	fprintf(stderr, "mkbad: %d bad streams in %s\n", ncases, dir);
	return 0;
}
