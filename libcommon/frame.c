/*
 * frame.c - the bytes of a frame: the 28-byte header with its sync marker
 * and checksums, and the meta block of each known frame type.  Layouts are
 * in bs-stream(5); all integers are little-endian.
 *
 *   0  4  sync "\xb5BS\x1a"
 *   4  1  type           5  1  flags        6  2  reserved (0)
 *   8  4  meta length   12  8  payload length
 *  20  4  meta check (low 32 bits of XXH3-64 of the meta block)
 *  24  4  header check (low 32 bits of XXH3-64 of bytes 0..23)
 *  then meta, payload, and 8 bytes of XXH3-64 of the payload.
 */
#include <string.h>

#include "bs.h"
#include "internal.h"

const uint8_t bs_sync[4] = { 0xb5, 'B', 'S', 0x1a };

const char *
bs_ftype_name(int t)
{
	switch (t) {
	case BS_F_STREAM: return "STREAM";
	case BS_F_FILE: return "FILE";
	case BS_F_TENSOR: return "TENSOR";
	case BS_F_CHUNK: return "CHUNK";
	case BS_F_TEND: return "TEND";
	case BS_F_FEND: return "FEND";
	case BS_F_INDEX: return "INDEX";
	case BS_F_END: return "END";
	case BS_F_PARITY: return "PARITY";
	default: return "unknown";
	}
}

void
bs_frame_header_build(uint8_t *p, uint8_t type, uint8_t flags,
    const void *meta, uint32_t meta_len, uint64_t payload_len)
{
	memcpy(p, bs_sync, 4);
	p[4] = type;
	p[5] = flags;
	p[6] = p[7] = 0;
	put32(p + 8, meta_len);
	put64(p + 12, payload_len);
	put32(p + 20, bs_xxh32(meta, meta_len));
	put32(p + 24, bs_xxh32(p, 24));
}

int
bs_frame_header_parse(const uint8_t *p, uint8_t *type, uint8_t *flags,
    uint32_t *meta_len, uint64_t *payload_len, const char **why)
{
	if (memcmp(p, bs_sync, 4) != 0) {
		*why = "no frame sync marker (not a bigsmall stream, or damaged)";
		return BS_ECORRUPT;
	}
	if (get32(p + 24) != bs_xxh32(p, 24)) {
		*why = "frame header checksum mismatch";
		return BS_ECHECKSUM;
	}
	if (p[6] || p[7]) {
		*why = "reserved header bytes are not zero";
		return BS_ECORRUPT;
	}
	*type = p[4];
	*flags = p[5];
	*meta_len = get32(p + 8);
	*payload_len = get64(p + 12);
	return 0;
}

/* A bounds-checked cursor over a meta block. */
struct cur {
	const uint8_t *p, *end;
	int bad;
};

static uint64_t
take(struct cur *c, unsigned n)
{
	uint64_t v = 0;

	if ((size_t)(c->end - c->p) < n) {
		c->bad = 1;
		return 0;
	}
	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)c->p[i] << (8 * i);
	c->p += n;
	return v;
}

static const char *
take_bytes(struct cur *c, uint64_t n)
{
	const char *s = (const char *)c->p;

	if ((uint64_t)(c->end - c->p) < n) {
		c->bad = 1;
		return NULL;
	}
	c->p += n;
	return s;
}

int
bs_frame_meta_parse(struct bs_frame *f, const char **why)
{
	struct cur c = { f->meta, f->meta + f->meta_len, 0 };
	unsigned rsv = 0;

	switch (f->type) {
	case BS_F_STREAM: {
		struct bs_stream_info *s = &f->u.stream;
		const char *w;
		s->version = (uint16_t)take(&c, 2);
		rsv |= take(&c, 2);
		s->chunk_size = (uint32_t)take(&c, 4);
		if ((w = take_bytes(&c, 64))) {
			memcpy(s->writer, w, 64);
			s->writer[63] = 0;
		}
		break;
	}
	case BS_F_FILE: {
		struct bs_file_info *fi = &f->u.file;
		fi->kind = (uint8_t)take(&c, 1);
		rsv |= take(&c, 3);
		fi->path_len = (uint32_t)take(&c, 4);
		fi->size = take(&c, 8);
		fi->path = take_bytes(&c, fi->path_len);
		if (!c.bad && (fi->kind != BS_FILE_SAFETENSORS && fi->kind != BS_FILE_BLOB &&
		    fi->kind != BS_FILE_REF)) {
			*why = "unknown file kind";
			return BS_ECORRUPT;
		}
		if (!c.bad && (fi->path_len == 0 || fi->path_len > BS_MAX_NAME)) {
			*why = "file path length out of range";
			return BS_ECORRUPT;
		}
		break;
	}
	case BS_F_TENSOR: {
		struct bs_tensor_info *t = &f->u.tensor;
		t->kind = (uint8_t)take(&c, 1);
		t->dtype = (uint8_t)take(&c, 1);
		t->rank = (uint8_t)take(&c, 1);
		rsv |= take(&c, 1);
		t->name_len = (uint32_t)take(&c, 4);
		t->size = take(&c, 8);
		if (t->rank > BS_MAX_RANK) {
			*why = "tensor rank out of range";
			return BS_ECORRUPT;
		}
		for (unsigned i = 0; i < t->rank; i++)
			t->shape[i] = take(&c, 8);
		if (t->name_len > BS_MAX_NAME) {
			*why = "tensor name too long";
			return BS_ECORRUPT;
		}
		t->name = take_bytes(&c, t->name_len);
		t->base_name_len = 0;
		t->base_name = NULL;
		memset(&t->base_hash, 0, sizeof t->base_hash);
		if (t->kind == BS_T_DELTA || t->kind == BS_T_REF) {
			t->base_hash.lo = take(&c, 8);
			t->base_hash.hi = take(&c, 8);
			t->base_name_len = (uint32_t)take(&c, 4);
			if (t->base_name_len > BS_MAX_NAME) {
				*why = "base tensor name too long";
				return BS_ECORRUPT;
			}
			t->base_name = take_bytes(&c, t->base_name_len);
		} else if (t->kind > BS_T_REF && !c.bad) {
			*why = "unknown tensor kind";
			return BS_ECORRUPT;
		}
		if (!c.bad && (t->dtype == BS_DT_UNKNOWN || t->dtype >= BS_DT_COUNT)) {
			*why = "unknown dtype";
			return BS_EUNSUPPORTED;
		}
		break;
	}
	case BS_F_CHUNK: {
		struct bs_chunk_info *ch = &f->u.chunk;
		ch->codec = (uint8_t)take(&c, 1);
		ch->transform = (uint8_t)take(&c, 1);
		rsv |= take(&c, 2);
		ch->raw_len = (uint32_t)take(&c, 4);
		ch->offset = take(&c, 8);
		break;
	}
	case BS_F_TEND: {
		struct bs_tend_info *te = &f->u.tend;
		te->size = take(&c, 8);
		te->chunks = (uint32_t)take(&c, 4);
		rsv |= take(&c, 4);
		te->hash.lo = take(&c, 8);
		te->hash.hi = take(&c, 8);
		break;
	}
	case BS_F_FEND: {
		struct bs_fend_info *fe = &f->u.fend;
		const char *h;
		fe->size = take(&c, 8);
		if ((h = take_bytes(&c, 32)))
			memcpy(fe->sha256, h, 32);
		break;
	}
	case BS_F_END: {
		struct bs_end_info *en = &f->u.end;
		en->member_len = take(&c, 8);
		en->index_offset = take(&c, 8);
		en->index_len = take(&c, 8);
		en->files = take(&c, 8);
		en->tensors = take(&c, 8);
		en->raw_bytes = take(&c, 8);
		break;
	}
	case BS_F_INDEX:
		break;
	default:
		return 0;	/* unknown types are not parsed */
	}
	if (c.bad) {
		*why = "meta block too short for its frame type";
		return BS_ECORRUPT;
	}
	if (c.p != c.end) {
		*why = "meta block longer than its fields";
		return BS_ECORRUPT;
	}
	if (rsv) {
		*why = "reserved meta field is not zero";
		return BS_ECORRUPT;
	}
	return 0;
}

/* ------------------------------------------------------------ builders */

size_t
bs_meta_build(uint8_t *m, uint8_t type, const void *info)
{
	uint8_t *p = m;

	switch (type) {
	case BS_F_STREAM: {
		const struct bs_stream_info *s = info;
		put16(p, s->version), p += 2;
		put16(p, 0), p += 2;
		put32(p, s->chunk_size), p += 4;
		memset(p, 0, 64);
		memcpy(p, s->writer, strnlen(s->writer, 63)), p += 64;
		break;
	}
	case BS_F_FILE: {
		const struct bs_file_info *fi = info;
		*p++ = fi->kind;
		*p++ = 0, *p++ = 0, *p++ = 0;
		put32(p, fi->path_len), p += 4;
		put64(p, fi->size), p += 8;
		memcpy(p, fi->path, fi->path_len), p += fi->path_len;
		break;
	}
	case BS_F_TENSOR: {
		const struct bs_tensor_info *t = info;
		*p++ = t->kind;
		*p++ = t->dtype;
		*p++ = t->rank;
		*p++ = 0;
		put32(p, t->name_len), p += 4;
		put64(p, t->size), p += 8;
		for (unsigned i = 0; i < t->rank; i++)
			put64(p, t->shape[i]), p += 8;
		memcpy(p, t->name, t->name_len), p += t->name_len;
		if (t->kind == BS_T_DELTA || t->kind == BS_T_REF) {
			put64(p, t->base_hash.lo), p += 8;
			put64(p, t->base_hash.hi), p += 8;
			put32(p, t->base_name_len), p += 4;
			memcpy(p, t->base_name, t->base_name_len), p += t->base_name_len;
		}
		break;
	}
	case BS_F_CHUNK: {
		const struct bs_chunk_info *ch = info;
		*p++ = ch->codec;
		*p++ = ch->transform;
		put16(p, 0), p += 2;
		put32(p, ch->raw_len), p += 4;
		put64(p, ch->offset), p += 8;
		break;
	}
	case BS_F_TEND: {
		const struct bs_tend_info *te = info;
		put64(p, te->size), p += 8;
		put32(p, te->chunks), p += 4;
		put32(p, 0), p += 4;
		put64(p, te->hash.lo), p += 8;
		put64(p, te->hash.hi), p += 8;
		break;
	}
	case BS_F_FEND: {
		const struct bs_fend_info *fe = info;
		put64(p, fe->size), p += 8;
		memcpy(p, fe->sha256, 32), p += 32;
		break;
	}
	case BS_F_END: {
		const struct bs_end_info *en = info;
		put64(p, en->member_len), p += 8;
		put64(p, en->index_offset), p += 8;
		put64(p, en->index_len), p += 8;
		put64(p, en->files), p += 8;
		put64(p, en->tensors), p += 8;
		put64(p, en->raw_bytes), p += 8;
		break;
	}
	}
	return (size_t)(p - m);
}
