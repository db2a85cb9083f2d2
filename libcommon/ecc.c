/*
 * ecc.c - Reed-Solomon parity over the bytes of a stream (bs-ecc(1)), and
 * its repair.  Layout in bs-stream(5), "PARITY"; design in bs-ecc(1).
 *
 * A stream is protected member by member: a "session" is the bytes from
 * the end of the previous member (or the start) through the END frame of
 * a member.  Its bytes are cut into blocks of B bytes, every K blocks make
 * a group (the last group padded with zero blocks) and each group gets M
 * parity blocks from liberasurecode.  After the member's END comes its
 * parity region R:
 *
 *   DIR copy 0 | parity (j=0, g=0..n-1) | ... | (j=M-1, g=0..n-1) | DIR copy 1
 *
 * every piece a PARITY frame (type 0x20, skippable) of fixed size, so the
 * place of every frame in R follows from its fields, and every intact
 * frame tells where R, and so the member's bytes, begin.  The directory
 * holds the XXH3-64 of every data and parity block; each parity frame
 * holds those of its own group too.  Repair finds the intact frames by
 * their sync marker and checksums, finds each data block by its hash at
 * the few places the anchors allow, rebuilds what is missing and checks
 * the rebuilt bytes against their hashes.
 */
#include <erasurecode.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bs.h"
#include "internal.h"

#define EC_HDR 80			/* liberasurecode's fragment header */
#define META_FIXED 48
#define K_DIR 1
#define K_PAR 2
#define FL_SIDECAR 0x01

/* ------------------------------------------------------------ backends */

static const struct {
	const char *name;
	int id, w;
} backends[] = {
	{ "liberasurecode_rs_vand", EC_BACKEND_LIBERASURECODE_RS_VAND, 16 },
	{ "isa_l_rs_cauchy", EC_BACKEND_ISA_L_RS_CAUCHY, 8 },
};
#define NBACKENDS (sizeof backends / sizeof backends[0])

const char *
bs_ecc_backend_name(int id)
{
	for (size_t i = 0; i < NBACKENDS; i++)
		if (backends[i].id == id)
			return backends[i].name;
	return "unknown";
}

int
bs_ecc_backend_by_name(const char *name)
{
	for (size_t i = 0; i < NBACKENDS; i++)
		if (strcmp(backends[i].name, name) == 0)
			return backends[i].id;
	return 0;
}

int
bs_ecc_backend_available(int id)
{
	if (!strcmp(bs_ecc_backend_name(id), "unknown"))
		return 0;
	return liberasurecode_backend_available((ec_backend_id_t)id) == 1;
}

int
bs_ecc_backend_default(void)
{
	if (bs_ecc_backend_available(EC_BACKEND_ISA_L_RS_CAUCHY))
		return EC_BACKEND_ISA_L_RS_CAUCHY;
	return EC_BACKEND_LIBERASURECODE_RS_VAND;
}

/* A liberasurecode instance for p, and the fragment headers of every index
 * (from coding K*B zero bytes: with no fragment checksum the header does
 * not depend on the bytes).  Returns the descriptor, or < 0 with e set. */
static int
ec_open(const struct bs_ecc_params *p, uint8_t **templ, struct bs_err *e)
{
	struct ec_args a;
	char **d = NULL, **q = NULL;
	uint64_t fl;
	uint8_t *zero, *t;
	int desc, w = 8, rc;

	for (size_t i = 0; i < NBACKENDS; i++)
		if (backends[i].id == p->backend)
			w = backends[i].w;
	if (!bs_ecc_backend_available(p->backend))
		return bs_err_set(e, BS_EUNSUPPORTED, "erasure code backend %s (%d) is not available here",
		    bs_ecc_backend_name(p->backend), p->backend);
	memset(&a, 0, sizeof a);
	a.k = (int)p->k;
	a.m = (int)p->m;
	a.hd = (int)p->m;
	a.w = w;
	a.ct = CHKSUM_NONE;
	desc = liberasurecode_instance_create((ec_backend_id_t)p->backend, &a);
	if (desc <= 0)
		return bs_err_set(e, BS_EUSAGE, "%s does not support K=%u M=%u (error %d)",
		    bs_ecc_backend_name(p->backend), p->k, p->m, -desc);
	zero = calloc(p->k, p->block);
	t = malloc((size_t)(p->k + p->m) * EC_HDR);
	if (!zero || !t) {
		free(zero);
		free(t);
		liberasurecode_instance_destroy(desc);
		return bs_err_set(e, BS_ENOMEM, "out of memory");
	}
	rc = liberasurecode_encode(desc, (char *)zero, (uint64_t)p->k * p->block, &d, &q, &fl);
	free(zero);
	if (rc != 0 || fl != (uint64_t)p->block + EC_HDR) {
		if (rc == 0)
			liberasurecode_encode_cleanup(desc, d, q);
		free(t);
		liberasurecode_instance_destroy(desc);
		return bs_err_set(e, BS_EUSAGE, "%s cannot code blocks of %u bytes with K=%u M=%u",
		    bs_ecc_backend_name(p->backend), p->block, p->k, p->m);
	}
	for (unsigned i = 0; i < p->k; i++)
		memcpy(t + (size_t)i * EC_HDR, d[i], EC_HDR);
	for (unsigned j = 0; j < p->m; j++)
		memcpy(t + (size_t)(p->k + j) * EC_HDR, q[j], EC_HDR);
	liberasurecode_encode_cleanup(desc, d, q);
	*templ = t;
	return desc;
}

int
bs_ecc_params_check(const struct bs_ecc_params *p, struct bs_err *e)
{
	uint8_t *t;
	int desc;

	if (p->k < 1 || p->k > 31)
		return bs_err_set(e, BS_EUSAGE, "-k: K must be between 1 and 31");
	if (p->m < 1 || p->m > 31)
		return bs_err_set(e, BS_EUSAGE, "-m: M must be between 1 and 31");
	if (p->k + p->m > EC_MAX_FRAGMENTS)
		return bs_err_set(e, BS_EUSAGE, "K+M = %u: at most %d blocks per group", p->k + p->m, EC_MAX_FRAGMENTS);
	if (p->block < BS_ECC_MIN_BLOCK || p->block > BS_ECC_MAX_BLOCK || p->block % 64)
		return bs_err_set(e, BS_EUSAGE, "--block: a multiple of 64 bytes from %u to %u",
		    BS_ECC_MIN_BLOCK, BS_ECC_MAX_BLOCK);
	if ((desc = ec_open(p, &t, e)) < 0)
		return desc;
	free(t);
	liberasurecode_instance_destroy(desc);
	return 0;
}

/* ------------------------------------------------------------- layout */

static uint64_t
ngroups(uint64_t L, unsigned k, uint32_t b)
{
	uint64_t gb = (uint64_t)k * b;
	return (L + gb - 1) / gb;
}

static uint64_t
frag_size(unsigned k, unsigned m, uint32_t b)
{
	return BS_FRAME_HEADER + META_FIXED + 8ull * (k + m) + b + BS_FRAME_TRAILER;
}

static uint64_t
dir_size(unsigned k, unsigned m, uint64_t n)
{
	return BS_FRAME_HEADER + META_FIXED + n * 8 * (k + m) + BS_FRAME_TRAILER;
}

/* Ordinal of a frame in R: DIR 0, parity frames, DIR 1. */
static uint64_t
ordinal(int kind, unsigned j, uint64_t g, unsigned m, uint64_t n)
{
	if (kind == K_DIR)
		return j ? 1 + (uint64_t)m * n : 0;
	return 1 + (uint64_t)j * n + g;
}

static uint64_t
r_offset(int kind, unsigned j, uint64_t g, unsigned k, unsigned m, uint32_t b, uint64_t n)
{
	uint64_t o = ordinal(kind, j, g, m, n);

	return o ? dir_size(k, m, n) + (o - 1) * frag_size(k, m, b) : 0;
}

static uint64_t
r_size(unsigned k, unsigned m, uint32_t b, uint64_t n)
{
	return 2 * dir_size(k, m, n) + (uint64_t)m * n * frag_size(k, m, b);
}

static void
meta_fixed(uint8_t *mt, int kind, const struct bs_ecc_params *p, int flags,
    unsigned j, uint64_t id, uint64_t L, uint64_t g)
{
	memset(mt, 0, META_FIXED);
	mt[0] = 1;
	mt[1] = (uint8_t)kind;
	mt[2] = (uint8_t)p->backend;
	mt[3] = (uint8_t)flags;
	put16(mt + 4, (uint16_t)p->k);
	put16(mt + 6, (uint16_t)p->m);
	put32(mt + 8, p->block);
	put32(mt + 12, j);
	put64(mt + 16, id);
	put64(mt + 24, L);
	put64(mt + 32, g);
}

/* ------------------------------------------------------------ protect */

struct prot {
	struct bs_ecc_params p;
	int desc, sidecar, out_fd;
	const char *out_name;		/* of out_fd, or of the sidecar */
	struct bs_writer *side;
	uint8_t *group;			/* K*B bytes */
	size_t fill;
	uint64_t L, n;			/* session bytes, groups done */
	uint64_t *rec;			/* n * (K+M) hashes */
	size_t rec_cap;
	FILE *spool;			/* parity blocks, group by group */
	uint8_t *fbuf;			/* one frame */
	struct bs_ecc_stats *st;
	struct bs_err *e;
};

static int
code_group(struct prot *c)
{
	unsigned k = c->p.k, m = c->p.m;
	uint32_t b = c->p.block;
	char **d, **q;
	uint64_t fl, *h;
	int rc;

	if (c->fill == 0)
		return 0;
	memset(c->group + c->fill, 0, (size_t)k * b - c->fill);
	if ((c->n + 1) * (k + m) > c->rec_cap) {
		size_t ncap = c->rec_cap ? 2 * c->rec_cap : 64 * (k + m);
		uint64_t *nr = realloc(c->rec, ncap * sizeof *nr);
		if (!nr)
			return bs_err_set(c->e, BS_ENOMEM, "out of memory");
		c->rec = nr;
		c->rec_cap = ncap;
	}
	h = c->rec + c->n * (k + m);
	for (unsigned i = 0; i < k; i++)
		h[i] = bs_xxh64(c->group + (size_t)i * b, b);
	rc = liberasurecode_encode(c->desc, (char *)c->group, (uint64_t)k * b, &d, &q, &fl);
	if (rc != 0 || fl != (uint64_t)b + EC_HDR) {
		if (rc == 0)
			liberasurecode_encode_cleanup(c->desc, d, q);
		return bs_err_set(c->e, BS_EIO, "erasure coding failed (error %d)", rc);
	}
	for (unsigned j = 0; j < m; j++) {
		h[k + j] = bs_xxh64(q[j] + EC_HDR, b);
		if (fwrite(q[j] + EC_HDR, 1, b, c->spool) != b) {
			liberasurecode_encode_cleanup(c->desc, d, q);
			return bs_err_set(c->e, BS_EIO, "temporary file: %s", strerror(errno));
		}
	}
	liberasurecode_encode_cleanup(c->desc, d, q);
	c->n++;
	c->fill = 0;
	return 0;
}

static int
emit(struct prot *c, const uint8_t *meta, uint32_t mlen, const uint8_t *pl, uint64_t plen)
{
	uint64_t tot = BS_FRAME_HEADER + mlen + plen + BS_FRAME_TRAILER;
	uint8_t trailer[8];

	c->st->parity_frames++;
	c->st->parity_bytes += tot;
	if (c->sidecar) {
		if (bs_writer_frame(c->side, BS_F_PARITY, BS_FF_SKIPPABLE, meta, mlen, pl, plen) < 0)
			return bs_err_set(c->e, BS_EIO, "%s", bs_writer_errmsg(c->side));
		return 0;
	}
	bs_frame_header_build(c->fbuf, BS_F_PARITY, BS_FF_SKIPPABLE, meta, mlen, plen);
	memcpy(c->fbuf + BS_FRAME_HEADER, meta, mlen);
	if (tot <= frag_size(c->p.k, c->p.m, c->p.block)) {	/* one write */
		memcpy(c->fbuf + BS_FRAME_HEADER + mlen, pl, plen);
		put64(c->fbuf + BS_FRAME_HEADER + mlen + plen, bs_xxh64(pl, plen));
		if (bs_write_all(c->out_fd, c->fbuf, tot) < 0)
			return bs_err_set(c->e, BS_EIO, "%s: write error: %s", c->out_name, strerror(errno));
		return 0;
	}
	put64(trailer, bs_xxh64(pl, plen));
	if (bs_write_all(c->out_fd, c->fbuf, BS_FRAME_HEADER + mlen) < 0 ||
	    bs_write_all(c->out_fd, pl, plen) < 0 || bs_write_all(c->out_fd, trailer, 8) < 0)
		return bs_err_set(c->e, BS_EIO, "%s: write error: %s", c->out_name, strerror(errno));
	return 0;
}

static int end_session_blocks(struct prot *c);

/* Close the session: code the last group, write R.  With auto_block, a
 * member that fits in one group of full blocks is coded in K blocks of
 * its size over K (64 KiB steps): its parity is M such blocks. */
static int
end_session(struct prot *c)
{
	uint32_t full = c->p.block;
	int rc;

	if (c->p.auto_block && c->n == 0 && c->fill > 0) {
		uint64_t b = ((c->fill + c->p.k - 1) / c->p.k + 65535) / 65536 * 65536;
		if (b < full)
			c->p.block = (uint32_t)b;
	}
	rc = end_session_blocks(c);
	c->p.block = full;
	return rc;
}

static int
end_session_blocks(struct prot *c)
{
	unsigned k = c->p.k, m = c->p.m, km = k + m;
	uint32_t b = c->p.block;
	uint8_t meta[META_FIXED + 8 * EC_MAX_FRAGMENTS], *blk = NULL;
	uint64_t id, dirlen;
	int rc, flags = c->sidecar ? FL_SIDECAR : 0;

	if (c->L == 0)
		return 0;
	if ((rc = code_group(c)) < 0)
		return rc;
	dirlen = c->n * 8 * km;
	if (dirlen > (256u << 20))
		return bs_err_set(c->e, BS_EUSAGE, "member of %llu bytes: too many groups for blocks of %u bytes",
		    (unsigned long long)c->L, b);
	/* the session id: the hashes of everything, with the parameters */
	meta_fixed(meta, K_DIR, &c->p, flags, 0, 0, c->L, 0);
	id = bs_xxh64(c->rec, dirlen) ^ bs_xxh64(meta, META_FIXED);
	for (unsigned copy = 0; copy < 2; copy++) {
		if (copy == 1) {
			if (!(blk = malloc(b)))
				return bs_err_set(c->e, BS_ENOMEM, "out of memory");
			for (unsigned j = 0; j < m; j++)
				for (uint64_t g = 0; g < c->n; g++) {
					meta_fixed(meta, K_PAR, &c->p, flags, j, id, c->L, g);
					memcpy(meta + META_FIXED, c->rec + g * km, 8 * km);
					if (fseeko(c->spool, (off_t)((g * m + j) * b), SEEK_SET) != 0 ||
					    fread(blk, 1, b, c->spool) != b) {
						free(blk);
						return bs_err_set(c->e, BS_EIO, "temporary file: read error");
					}
					if ((rc = emit(c, meta, META_FIXED + 8 * km, blk, b)) < 0) {
						free(blk);
						return rc;
					}
				}
			free(blk);
		}
		meta_fixed(meta, K_DIR, &c->p, flags, copy, id, c->L, 0);
		if ((rc = emit(c, meta, META_FIXED, (const uint8_t *)c->rec, dirlen)) < 0)
			return rc;
	}
	c->st->sessions++;
	c->st->groups += c->n;
	c->L = 0;
	c->n = 0;
	rewind(c->spool);
	return 0;
}

static int
feed(struct prot *c, const uint8_t *p, size_t len)
{
	size_t gb = (size_t)c->p.k * c->p.block;
	int rc;

	if (!c->sidecar && bs_write_all(c->out_fd, p, len) < 0)
		return bs_err_set(c->e, BS_EIO, "%s: write error: %s", c->out_name, strerror(errno));
	c->st->data_bytes += len;
	c->L += len;
	while (len) {
		size_t step = gb - c->fill < len ? gb - c->fill : len;
		memcpy(c->group + c->fill, p, step);
		c->fill += step;
		p += step;
		len -= step;
		if (c->fill == gb && (rc = code_group(c)) < 0)
			return rc;
	}
	return 0;
}

int
bs_ecc_protect(struct bs_reader *r, int out_fd, int side_fd,
    const char *out_name, const struct bs_ecc_params *p,
    struct bs_ecc_stats *st, struct bs_err *e)
{
	struct prot c;
	struct bs_frame *f;
	uint8_t *templ = NULL;
	int rc, inside = 0;

	memset(&c, 0, sizeof c);
	memset(st, 0, sizeof *st);
	c.p = *p;
	c.st = st;
	c.e = e;
	c.out_fd = out_fd;
	c.out_name = out_name;
	c.sidecar = side_fd >= 0;
	if ((c.desc = ec_open(p, &templ, e)) < 0)
		return c.desc;
	free(templ);
	c.group = malloc((size_t)p->k * p->block);
	c.fbuf = malloc(frag_size(p->k, p->m, p->block));
	c.spool = tmpfile();
	if (!c.group || !c.fbuf) {
		rc = bs_err_set(e, BS_ENOMEM, "out of memory");
		goto out;
	}
	if (!c.spool) {
		rc = bs_err_set(e, BS_EIO, "cannot create a temporary file: %s", strerror(errno));
		goto out;
	}
	if (c.sidecar) {
		if (!(c.side = bs_writer_open_fd(side_fd, out_name)) ||
		    bs_writer_stream(c.side, p->block) < 0) {
			rc = bs_err_set(e, BS_EIO, "sidecar: %s", c.side ? bs_writer_errmsg(c.side) : "out of memory");
			goto out;
		}
	}
	for (;;) {
		rc = bs_reader_next(r, &f);
		if (rc == BS_EOF)
			break;
		if (rc < 0) {
			rc = bs_err_set(e, rc, "%s: %s", bs_reader_name(r), bs_reader_errmsg(r));
			goto out;
		}
		if (f->type == BS_F_STREAM)
			inside = 1;
		if (!inside && f->type == BS_F_PARITY && !c.sidecar) {
			st->dropped++;		/* old parity: it describes other bytes */
			bs_frame_free(f);
			continue;
		}
		rc = feed(&c, f->bytes, f->size);
		if (rc == 0 && f->type == BS_F_END) {
			inside = 0;
			rc = end_session(&c);
		}
		bs_frame_free(f);
		if (rc < 0)
			goto out;
	}
	if ((rc = end_session(&c)) < 0)
		goto out;
	if (c.sidecar && bs_writer_end(c.side) < 0)
		rc = bs_err_set(e, BS_EIO, "sidecar: %s", bs_writer_errmsg(c.side));
out:
	if (c.side)
		bs_writer_free(c.side);
	if (c.spool)
		fclose(c.spool);
	free(c.group);
	free(c.fbuf);
	free(c.rec);
	liberasurecode_instance_destroy(c.desc);
	return rc;
}

/* ------------------------------------------------------------- repair */

struct pf {			/* an intact PARITY frame */
	uint64_t pos, rstart, ord;
	const uint8_t *meta, *payload;
	uint64_t plen;
	int kind, flags;
	unsigned j;
	uint64_t g;
};

struct session {
	struct bs_ecc_params p;
	int flags;
	uint64_t id, L, n, orig_off;
	uint64_t *rec;			/* n*(K+M) */
	uint8_t *have_rec;		/* n */
	const uint8_t **par;		/* n*M parity blocks found, or NULL */
	uint64_t *anchor;		/* distinct R starts */
	size_t nanchor;
	uint64_t last_rstart;		/* of the frame furthest in the input */
	int64_t *at;			/* n*K: where each data block lies, -1 lost */
	uint8_t **rebuilt;		/* n*K */
	int64_t *bases;			/* where the member's bytes began, as found */
	size_t nbases;
	size_t nframes;
	int dir_ok;			/* intact copies of the directory found */
};

struct bs_ecc {
	const uint8_t *data;
	uint64_t dlen;
	int sidecar;
	struct session *s;
	size_t ns;
	char **line;
	size_t nline, line_cap;
	int state;
	uint64_t rebuilt_blocks, lost_parity;
	uint64_t ua, uz, ug1, ug2;	/* pending unrecoverable range */
	size_t us;
	int upending;
};

__attribute__((format(printf, 2, 3)))
static void
say(struct bs_ecc *x, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (!s)
		return;
	if (x->nline == x->line_cap) {
		size_t nc = x->line_cap ? 2 * x->line_cap : 16;
		char **nl = realloc(x->line, nc * sizeof *nl);
		if (!nl) {
			free(s);
			return;
		}
		x->line = nl;
		x->line_cap = nc;
	}
	x->line[x->nline++] = s;
}

/* Parse and check an intact-looking PARITY frame at p; 0 and *f, or -1. */
static int
parse_frame(const uint8_t *buf, uint64_t len, uint64_t pos, struct pf *f, struct bs_ecc_params *pp,
    uint64_t *id, uint64_t *L, uint64_t *fsize)
{
	uint8_t type, flags;
	uint32_t mlen;
	uint64_t plen, tot, n;
	const uint8_t *m;
	const char *why;
	unsigned k, mm;

	if (len - pos < BS_FRAME_HEADER + BS_FRAME_TRAILER)
		return -1;
	if (bs_frame_header_parse(buf + pos, &type, &flags, &mlen, &plen, &why) < 0)
		return -1;
	if (type != BS_F_PARITY || !(flags & BS_FF_SKIPPABLE) || mlen < META_FIXED || mlen > BS_MAX_META ||
	    plen > (256u << 20))
		return -1;
	tot = BS_FRAME_HEADER + mlen + plen + BS_FRAME_TRAILER;
	if (tot > len - pos)
		return -1;
	m = buf + pos + BS_FRAME_HEADER;
	if (get32(buf + pos + 20) != bs_xxh32(m, mlen) ||
	    get64(m + mlen + plen) != bs_xxh64(m + mlen, plen))
		return -1;
	if (m[0] != 1 || (m[1] != K_DIR && m[1] != K_PAR) || m[3] & ~FL_SIDECAR || get64(m + 40))
		return -1;
	k = get16(m + 4);
	mm = get16(m + 6);
	memset(pp, 0, sizeof *pp);
	pp->k = k;
	pp->m = mm;
	pp->block = get32(m + 8);
	pp->backend = m[2];
	if (k < 1 || mm < 1 || k + mm > EC_MAX_FRAGMENTS || pp->block < BS_ECC_MIN_BLOCK ||
	    pp->block > BS_ECC_MAX_BLOCK || pp->block % 64)
		return -1;
	*id = get64(m + 16);
	*L = get64(m + 24);
	if (*L == 0)
		return -1;
	n = ngroups(*L, k, pp->block);
	f->pos = pos;
	f->meta = m;
	f->payload = m + mlen;
	f->plen = plen;
	f->kind = m[1];
	f->flags = m[3];
	f->j = get32(m + 12);
	f->g = get64(m + 32);
	if (f->kind == K_DIR) {
		if (f->j > 1 || f->g || mlen != META_FIXED || plen != n * 8 * (k + mm))
			return -1;
	} else if (f->j >= mm || f->g >= n || mlen != META_FIXED + 8 * (k + mm) || plen != pp->block)
		return -1;
	f->ord = ordinal(f->kind, f->j, f->g, mm, n);
	f->rstart = pos - r_offset(f->kind, f->j, f->g, k, mm, pp->block, n);
	if (r_offset(f->kind, f->j, f->g, k, mm, pp->block, n) > pos)
		f->rstart = UINT64_MAX;		/* cannot stand where it is in inline layout */
	*fsize = tot;
	return 0;
}

static int
session_add_anchor(struct session *s, uint64_t a)
{
	for (size_t i = 0; i < s->nanchor; i++)
		if (s->anchor[i] == a)
			return 0;
	uint64_t *na = realloc(s->anchor, (s->nanchor + 1) * sizeof *na);
	if (!na)
		return BS_ENOMEM;
	s->anchor = na;
	s->anchor[s->nanchor++] = a;
	return 0;
}

static int
session_new(struct bs_ecc *x, const struct bs_ecc_params *pp, uint64_t id, uint64_t L, int flags)
{
	struct session *ns = realloc(x->s, (x->ns + 1) * sizeof *ns), *s;
	unsigned km = pp->k + pp->m;

	if (!ns)
		return BS_ENOMEM;
	x->s = ns;
	s = &x->s[x->ns++];
	memset(s, 0, sizeof *s);
	s->p = *pp;
	s->id = id;
	s->L = L;
	s->flags = flags;
	s->n = ngroups(L, pp->k, pp->block);
	if (s->n > ((uint64_t)1 << 40) / km)
		return BS_ENOMEM;
	s->rec = calloc(s->n * km, 8);
	s->have_rec = calloc(s->n, 1);
	s->par = calloc(s->n * pp->m, sizeof *s->par);
	s->at = malloc(s->n * pp->k * sizeof *s->at);
	s->rebuilt = calloc(s->n * pp->k, sizeof *s->rebuilt);
	if (!s->rec || !s->have_rec || !s->par || !s->at || !s->rebuilt)
		return BS_ENOMEM;
	return 0;
}

/* Scan buf for intact PARITY frames and gather them into sessions. */
static int
scan(struct bs_ecc *x, const uint8_t *buf, uint64_t len, int want_sidecar, struct bs_err *e)
{
	struct session *s = NULL;
	uint64_t pos = 0, last_ord = 0;
	int rc;

	while (pos + 4 <= len) {
		const uint8_t *q = memmem(buf + pos, len - pos, bs_sync, 4);
		struct bs_ecc_params pp;
		struct pf f;
		uint64_t id, L, fsize;
		unsigned km;

		if (!q)
			break;
		pos = (uint64_t)(q - buf);
		if (parse_frame(buf, len, pos, &f, &pp, &id, &L, &fsize) < 0) {
			pos++;
			continue;
		}
		if ((f.flags & FL_SIDECAR) != (want_sidecar ? FL_SIDECAR : 0)) {
			if (!want_sidecar)
				return bs_err_set(e, BS_ECORRUPT, "the parity frames are those of a sidecar file: give it with --sidecar");
			return bs_err_set(e, BS_ECORRUPT, "the sidecar holds parity frames of a protected stream, not of a sidecar");
		}
		if (!s || s->id != id || s->L != L || memcmp(&s->p, &pp, sizeof pp) || f.ord <= last_ord) {
			if ((rc = session_new(x, &pp, id, L, f.flags)) < 0)
				return bs_err_set(e, rc, "out of memory");
			s = &x->s[x->ns - 1];
		}
		last_ord = f.ord;
		km = pp.k + pp.m;
		s->nframes++;
		if (f.kind == K_DIR) {
			memcpy(s->rec, f.payload, f.plen);
			memset(s->have_rec, 1, s->n);
			s->dir_ok++;
		} else {
			if (!s->have_rec[f.g]) {
				memcpy(s->rec + f.g * km, f.meta + META_FIXED, 8 * km);
				s->have_rec[f.g] = 1;
			}
			s->par[f.g * pp.m + f.j] = f.payload;
		}
		if (!want_sidecar && f.rstart != UINT64_MAX) {
			if (session_add_anchor(s, f.rstart) < 0)
				return bs_err_set(e, BS_ENOMEM, "out of memory");
			s->last_rstart = f.rstart;
		}
		pos += fsize;
	}
	return 0;
}

static int
block_at(const struct bs_ecc *x, const struct session *s, uint64_t t, int64_t base, uint8_t *scratch)
{
	uint32_t b = s->p.block;
	uint64_t off = t * b, len = s->L - off < b ? s->L - off : b;
	uint64_t want = s->rec[(t / s->p.k) * (s->p.k + s->p.m) + t % s->p.k];

	int64_t pos = base + (int64_t)off;

	if (pos < 0 || (uint64_t)pos > x->dlen || len > x->dlen - (uint64_t)pos)
		return 0;
	if (len == b)
		return bs_xxh64(x->data + pos, b) == want;
	memcpy(scratch, x->data + pos, len);
	memset(scratch + len, 0, b - len);
	return bs_xxh64(scratch, b) == want;
}

static void
note_base(struct session *s, int64_t base)
{
	for (size_t i = 0; i < s->nbases; i++)
		if (s->bases[i] == base)
			return;
	int64_t *nb = realloc(s->bases, (s->nbases + 1) * sizeof *nb);
	if (nb) {
		s->bases = nb;
		s->bases[s->nbases++] = base;
	}
}

/* Find each data block of session si, trying the bases the anchors allow. */
static void
locate(struct bs_ecc *x, size_t si, uint8_t *scratch)
{
	struct session *s = &x->s[si];
	int64_t cand[64];
	uint64_t rs = r_size(s->p.k, s->p.m, s->p.block, s->n), nreal;
	size_t nc = 0, last = 0;

	/* where the previous member ends */
	if (x->sidecar) {
		uint64_t before = 0, after = 0;
		for (size_t i = 0; i < x->ns; i++) {
			if (i < si)
				before += x->s[i].L;
			else
				after += x->s[i].L;
		}
		cand[nc++] = (int64_t)before;
		cand[nc++] = (int64_t)x->dlen - (int64_t)after;
	} else {
		if (si == 0)
			cand[nc++] = 0;
		else if (x->s[si - 1].nanchor)
			cand[nc++] = (int64_t)x->s[si - 1].last_rstart + (int64_t)
			    r_size(x->s[si - 1].p.k, x->s[si - 1].p.m, x->s[si - 1].p.block, x->s[si - 1].n);
		for (size_t i = 0; i < s->nanchor && nc < 60; i++)
			cand[nc++] = (int64_t)s->anchor[i] - (int64_t)s->L;
		if (si == x->ns - 1)
			cand[nc++] = (int64_t)x->dlen - (int64_t)(rs + s->L);
	}
	nreal = (s->L + s->p.block - 1) / s->p.block;
	for (uint64_t t = 0; t < s->n * s->p.k; t++) {
		s->at[t] = -1;
		if (t >= nreal || !s->have_rec[t / s->p.k])
			continue;
		for (size_t c = 0; c < nc; c++) {
			size_t ci = (last + c) % nc;
			if (block_at(x, s, t, cand[ci], scratch)) {
				s->at[t] = cand[ci] + (int64_t)(t * s->p.block);
				note_base(s, cand[ci]);
				last = ci;
				break;
			}
		}
	}
	if (!s->nbases && nc)
		note_base(s, cand[0]);
}

/* Rebuild the lost data blocks of group g of s; 0, or -1 when it cannot. */
static int
rebuild_group(struct bs_ecc *x, struct session *s, uint64_t g, int desc, const uint8_t *templ)
{
	unsigned k = s->p.k, m = s->p.m, km = k + m;
	uint32_t b = s->p.block;
	uint64_t fl = (uint64_t)b + EC_HDR, nreal = (s->L + b - 1) / b;
	char *frag[EC_MAX_FRAGMENTS], *out = NULL;
	uint8_t *mem;
	int nf = 0, rc = 0;

	if (!(mem = malloc(km * fl)) || !(out = malloc(fl))) {
		free(mem);
		return -1;
	}
	for (unsigned i = 0; i < km; i++) {
		uint8_t *fr = mem + i * fl;
		const uint8_t *src = NULL;
		uint64_t len = b;
		if (i < k) {
			uint64_t t = g * k + i;
			if (t >= nreal)
				len = 0;		/* a padding block: zeros */
			else if (s->at[t] < 0)
				continue;
			else {
				src = x->data + s->at[t];
				len = s->L - t * b < b ? s->L - t * b : b;
			}
		} else if (!(src = s->par[g * m + (i - k)]))
			continue;
		memcpy(fr, templ + (size_t)i * EC_HDR, EC_HDR);
		if (len)
			memcpy(fr + EC_HDR, src, len);
		memset(fr + EC_HDR + len, 0, b - len);
		frag[nf++] = (char *)fr;
	}
	for (unsigned i = 0; i < k && rc == 0; i++) {
		uint64_t t = g * k + i;
		if (t >= nreal || s->at[t] >= 0)
			continue;
		if (liberasurecode_reconstruct_fragment(desc, frag, nf, fl, (int)i, out) != 0 ||
		    bs_xxh64(out + EC_HDR, b) != s->rec[g * km + i] ||
		    !(s->rebuilt[t] = malloc(b))) {
			rc = -1;
			break;
		}
		memcpy(s->rebuilt[t], out + EC_HDR, b);
	}
	free(mem);
	free(out);
	return rc;
}

static void flush_lost(struct bs_ecc *x);

/* Note bytes a..a+len-1 of group g of member si as lost for good. */
static void
lost(struct bs_ecc *x, size_t si, uint64_t g, uint64_t a, uint64_t len)
{
	if (x->upending && (x->us != si || x->uz != a))
		flush_lost(x);
	if (!x->upending) {
		x->upending = 1;
		x->us = si;
		x->ua = a;
		x->ug1 = g;
	}
	x->uz = a + len;
	x->ug2 = g;
	x->state = 2;
}

static void
range(char *buf, size_t n, uint64_t a, uint64_t len)
{
	snprintf(buf, n, "bytes %llu-%llu", (unsigned long long)a, (unsigned long long)(a + len - 1));
}

/* Decide, group by group, what is lost and rebuild it (when rebuild). */
static int
assess(struct bs_ecc *x, size_t si, int rebuild, struct bs_err *e)
{
	struct session *s = &x->s[si];
	unsigned k = s->p.k, m = s->p.m, km = k + m;
	uint32_t b = s->p.block;
	uint64_t nreal = (s->L + b - 1) / b, lostpar = 0;
	uint8_t *templ = NULL;
	int desc = -1;
	char r[80];

	for (uint64_t g = 0; g < s->n; g++) {
		unsigned nlost = 0, lostd = 0;
		uint64_t first = g * k * (uint64_t)b, glen;
		glen = s->L - first < (uint64_t)k * b ? s->L - first : (uint64_t)k * b;
		if (!s->have_rec[g]) {
			flush_lost(x);
			range(r, sizeof r, s->orig_off + first, glen);
			say(x, "%s cannot be recovered (member %zu, group %llu: its checksums are lost)", r, si + 1,
			    (unsigned long long)g);
			x->state = 2;
			continue;
		}
		for (unsigned j = 0; j < m; j++) {
			const uint8_t *p = s->par[g * m + j];
			if (p && bs_xxh64(p, b) != s->rec[g * km + k + j])
				s->par[g * m + j] = p = NULL;
			if (!p)
				nlost++, lostpar++;
		}
		for (unsigned i = 0; i < k; i++) {
			uint64_t t = g * k + i;
			if (t < nreal && s->at[t] < 0)
				nlost++, lostd++;
		}
		if (!lostd)
			continue;
		if (x->state < 1)
			x->state = 1;
		if (nlost > m) {
			for (unsigned i = 0; i < k; i++) {
				uint64_t t = g * k + i, len;
				if (t >= nreal || s->at[t] >= 0)
					continue;
				len = s->L - t * b < b ? s->L - t * b : b;
				lost(x, si, g, s->orig_off + t * b, len);
			}
			continue;
		}
		if (!rebuild) {	/* each lost block, as a repair would name it */
			for (unsigned i = 0; i < k; i++) {
				uint64_t t = g * k + i, len;
				if (t >= nreal || s->at[t] >= 0)
					continue;
				len = s->L - t * b < b ? s->L - t * b : b;
				range(r, sizeof r, s->orig_off + t * b, len);
				say(x, "%s damaged (member %zu, group %llu, block %u), repairable",
				    r, si + 1, (unsigned long long)g, i);
			}
			continue;
		}
		if (desc < 0 && (desc = ec_open(&s->p, &templ, e)) < 0)
			return desc;
		if (rebuild_group(x, s, g, desc, templ) < 0) {
			range(r, sizeof r, s->orig_off + first, glen);
			say(x, "%s cannot be recovered (member %zu, group %llu: the rebuilt blocks do not match their checksums)",
			    r, si + 1, (unsigned long long)g);
			x->state = 2;
			continue;
		}
		for (unsigned i = 0; i < k; i++) {
			uint64_t t = g * k + i, len;
			if (t >= nreal || !s->rebuilt[t])
				continue;
			len = s->L - t * b < b ? s->L - t * b : b;
			range(r, sizeof r, s->orig_off + t * b, len);
			say(x, "rebuilt %s (member %zu, group %llu, block %u)", r, si + 1, (unsigned long long)g, i);
			x->rebuilt_blocks++;
		}
	}
	flush_lost(x);
	if (lostpar) {
		say(x, "member %zu: %llu of %llu parity blocks lost or damaged", si + 1,
		    (unsigned long long)lostpar, (unsigned long long)(s->n * m));
		x->lost_parity += lostpar;
		if (x->state < 1)
			x->state = 1;
	}
	if (s->dir_ok < 2) {
		say(x, "member %zu: %s of the parity directory lost or damaged", si + 1,
		    s->dir_ok ? "one copy" : "both copies");
		if (x->state < 1)
			x->state = 1;
	}
	if (desc >= 0) {
		liberasurecode_instance_destroy(desc);
		free(templ);
	}
	return 0;
}

static void
flush_lost(struct bs_ecc *x)
{
	char r[80];

	if (!x->upending)
		return;
	range(r, sizeof r, x->ua, x->uz - x->ua);
	if (x->ug1 == x->ug2)
		say(x, "%s cannot be recovered (member %zu, group %llu: more than %u of its blocks lost)", r,
		    x->us + 1, (unsigned long long)x->ug1, x->s[x->us].p.m);
	else
		say(x, "%s cannot be recovered (member %zu, groups %llu-%llu: more than %u blocks lost in each)", r,
		    x->us + 1, (unsigned long long)x->ug1, (unsigned long long)x->ug2, x->s[x->us].p.m);
	x->upending = 0;
}

struct iv {
	uint64_t a, z;
};

static int
iv_cmp(const void *p, const void *q)
{
	const struct iv *a = p, *b = q;

	return a->a < b->a ? -1 : a->a > b->a;
}

/* Bytes of the input that no member and no parity explain. */
static void
coverage(struct bs_ecc *x)
{
	struct iv *v;
	size_t n = 0, cap = 0;
	uint64_t end = 0;
	char r[80];

	for (size_t i = 0; i < x->ns; i++)
		cap += x->s[i].nbases + x->s[i].nanchor;
	if (!(v = malloc((cap + 1) * sizeof *v)))
		return;
	for (size_t i = 0; i < x->ns; i++) {
		struct session *s = &x->s[i];
		uint64_t rs = r_size(s->p.k, s->p.m, s->p.block, s->n);
		for (size_t j = 0; j < s->nbases; j++)
			if (s->bases[j] + (int64_t)s->L > 0)
				v[n++] = (struct iv){ s->bases[j] > 0 ? (uint64_t)s->bases[j] : 0,
				    (uint64_t)(s->bases[j] + (int64_t)s->L) };
		for (size_t j = 0; j < s->nanchor; j++)
			v[n++] = (struct iv){ s->anchor[j], s->anchor[j] + rs };
	}
	qsort(v, n, sizeof *v, iv_cmp);
	for (size_t i = 0; i <= n; i++) {
		uint64_t a = i < n ? v[i].a : x->dlen;
		if (a > end && end < x->dlen) {
			uint64_t z = a < x->dlen ? a : x->dlen;
			range(r, sizeof r, end, z - end);
			say(x, "%s of the input belong to no protected member (unprotected data appended, or bytes inserted)", r);
			x->state = 2;
		}
		if (i < n && v[i].z > end)
			end = v[i].z;
	}
	free(v);
}

int
bs_ecc_analyse(const uint8_t *data, uint64_t dlen, const uint8_t *side, uint64_t slen,
    int rebuild, struct bs_ecc **out, struct bs_err *e)
{
	struct bs_ecc *x = calloc(1, sizeof *x);
	uint64_t off = 0;
	uint8_t *scratch = NULL;
	int rc;

	*out = x;
	if (!x)
		return bs_err_set(e, BS_ENOMEM, "out of memory");
	x->data = data;
	x->dlen = dlen;
	x->sidecar = side != NULL;
	if ((rc = scan(x, side ? side : data, side ? slen : dlen, side != NULL, e)) < 0)
		return rc;
	if (x->ns == 0)
		return bs_err_set(e, BS_ECORRUPT, side ? "the sidecar holds no intact parity frame" :
		    "no intact parity frame found (not protected by bs-ecc, or damaged beyond repair)");
	for (size_t i = 0; i < x->ns; i++) {
		struct session *s = &x->s[i];
		if (!bs_ecc_backend_available(s->p.backend))
			return bs_err_set(e, BS_EUNSUPPORTED, "the parity was made with backend %s (%d), which is not available here",
			    bs_ecc_backend_name(s->p.backend), s->p.backend);
		s->orig_off = off;
		off += s->L;
		free(scratch);
		if (!(scratch = malloc(s->p.block)))
			return bs_err_set(e, BS_ENOMEM, "out of memory");
		locate(x, i, scratch);
		if ((rc = assess(x, i, rebuild, e)) < 0) {
			free(scratch);
			return rc;
		}
		if (s->nbases > 1)
			say(x, "member %zu: its bytes were found at %zu different places (bytes lost or inserted)", i + 1, s->nbases);
	}
	free(scratch);
	coverage(x);
	return 0;
}

int
bs_ecc_state(const struct bs_ecc *x)
{
	return x->state;
}

size_t
bs_ecc_nlines(const struct bs_ecc *x)
{
	return x->nline;
}

const char *
bs_ecc_line(const struct bs_ecc *x, size_t i)
{
	return i < x->nline ? x->line[i] : NULL;
}

uint64_t
bs_ecc_length(const struct bs_ecc *x)
{
	uint64_t n = 0;

	for (size_t i = 0; i < x->ns; i++)
		n += x->s[i].L;
	return n;
}

size_t
bs_ecc_members(const struct bs_ecc *x)
{
	return x->ns;
}

int
bs_ecc_write(const struct bs_ecc *x, int fd, struct bs_err *e)
{
	if (x->state > 1)
		return bs_err_set(e, BS_EUSAGE, "damage beyond repair: nothing to write");
	for (size_t i = 0; i < x->ns; i++) {
		const struct session *s = &x->s[i];
		uint32_t b = s->p.block;
		uint64_t nreal = (s->L + b - 1) / b;
		for (uint64_t t = 0; t < nreal; t++) {
			uint64_t len = s->L - t * b < b ? s->L - t * b : b;
			const uint8_t *p = s->rebuilt[t] ? s->rebuilt[t] : x->data + s->at[t];
			if (bs_write_all(fd, p, len) < 0)
				return bs_err_set(e, BS_EIO, "write error: %s", strerror(errno));
		}
	}
	return 0;
}

int
bs_ecc_list(const struct bs_ecc *x, FILE *f)
{
	for (size_t i = 0; i < x->ns; i++) {
		const struct session *s = &x->s[i];
		unsigned k = s->p.k, m = s->p.m;
		uint32_t b = s->p.block;
		uint64_t nreal = (s->L + b - 1) / b, rs = s->nanchor ? s->last_rstart : 0;
		uint64_t fs = frag_size(k, m, b), ds = dir_size(k, m, s->n);
		fprintf(f, "member %zu id %016llx length %llu groups %llu k %u m %u block %u backend %s\n",
		    i + 1, (unsigned long long)s->id, (unsigned long long)s->L, (unsigned long long)s->n,
		    k, m, b, bs_ecc_backend_name(s->p.backend));
		for (uint64_t t = 0; t < nreal; t++) {
			uint64_t len = s->L - t * b < b ? s->L - t * b : b;
			if (s->at[t] >= 0)
				fprintf(f, "data %zu %llu %llu %llu %llu\n", i + 1, (unsigned long long)(t / k),
				    (unsigned long long)(t % k), (unsigned long long)s->at[t],
				    (unsigned long long)len);
			else
				fprintf(f, "data %zu %llu %llu lost %llu\n", i + 1, (unsigned long long)(t / k),
				    (unsigned long long)(t % k), (unsigned long long)len);
		}
		if (x->sidecar)
			continue;
		for (unsigned c = 0; c < 2; c++)
			fprintf(f, "dir %zu %u %llu %llu\n", i + 1, c,
			    (unsigned long long)(rs + r_offset(K_DIR, c, 0, k, m, b, s->n)), (unsigned long long)ds);
		for (uint64_t g = 0; g < s->n; g++)
			for (unsigned j = 0; j < m; j++)
				fprintf(f, "parity %zu %llu %u %llu %llu\n", i + 1, (unsigned long long)g, j,
				    (unsigned long long)(rs + r_offset(K_PAR, j, g, k, m, b, s->n)),
				    (unsigned long long)fs);
	}
	return ferror(f) ? BS_EIO : 0;
}

void
bs_ecc_free(struct bs_ecc *x)
{
	if (!x)
		return;
	for (size_t i = 0; i < x->ns; i++) {
		struct session *s = &x->s[i];
		if (s->rebuilt)
			for (uint64_t t = 0; t < s->n * s->p.k; t++)
				free(s->rebuilt[t]);
		free(s->rebuilt);
		free(s->rec);
		free(s->have_rec);
		free(s->par);
		free(s->anchor);
		free(s->at);
		free(s->bases);
	}
	free(x->s);
	for (size_t i = 0; i < x->nline; i++)
		free(x->line[i]);
	free(x->line);
	free(x);
}

const char *
bs_ecc_version(void)
{
	static char v[64];
	uint32_t n = liberasurecode_get_version();

	snprintf(v, sizeof v, "liberasurecode %u.%u.%u", n >> 16, (n >> 8) & 0xff, n & 0xff);
	return v;
}
