/*
 * stwrite.c - the canonical safetensors header: the layout bs-reshard
 * writes for new shards.  Tensors in the order given, data offsets from 0
 * without gaps, JSON without white space, __metadata__ first when there is
 * any, padded with spaces to a multiple of 8 (with the 8-byte length), so
 * that every tensor's data starts 8-aligned when the data before it is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bs.h"

struct sbuf {
	char *p;
	size_t n, cap;
	int oom;
};

static void
put(struct sbuf *b, const void *p, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n > b->cap) {
		size_t nc = b->cap ? b->cap : 256;
		char *np;
		while (nc < b->n + n)
			nc *= 2;
		if (!(np = realloc(b->p, nc))) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
}

static void
puts_(struct sbuf *b, const char *s)
{
	put(b, s, strlen(s));
}

int
bs_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		unsigned c = p[i], need, min;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, min = 0x80, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, min = 0x800, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, min = 0x10000, cp = c & 0x07;
		else
			return 0;
		if (n - i <= need)
			return 0;
		for (unsigned k = 1; k <= need; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

static void
quote(struct sbuf *b, const char *s, size_t n)
{
	put(b, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\', esc[1] = (char)c;
			put(b, esc, 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof esc, "\\u%04x", c);
			put(b, esc, 6);
		} else
			put(b, &s[i], 1);
	}
	put(b, "\"", 1);
}

char *
bs_json_quote(const char *s, size_t n, size_t *len)
{
	struct sbuf b = { NULL, 0, 0, 0 };

	quote(&b, s, n);
	put(&b, "", 1);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	*len = b.n - 1;
	return b.p;
}

int
bs_st_header_build(struct bs_st_tensor *t, size_t n, const struct bs_st_kv *meta,
    size_t nmeta, uint8_t **out, size_t *out_len, struct bs_err *e)
{
	struct sbuf b = { NULL, 0, 0, 0 };
	uint64_t off = 0, json_len;
	char num[64];

	put(&b, "\0\0\0\0\0\0\0\0", 8);	/* the length, filled in below */
	put(&b, "{", 1);
	if (nmeta) {
		puts_(&b, "\"__metadata__\":{");
		for (size_t i = 0; i < nmeta; i++) {
			if (!bs_utf8_valid(meta[i].key, meta[i].key_len) ||
			    !bs_utf8_valid(meta[i].val, meta[i].val_len)) {
				free(b.p);
				return bs_err_set(e, BS_ECORRUPT, "metadata that is not UTF-8");
			}
			if (i)
				put(&b, ",", 1);
			quote(&b, meta[i].key, meta[i].key_len);
			put(&b, ":", 1);
			quote(&b, meta[i].val, meta[i].val_len);
		}
		put(&b, "}", 1);
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t bytes;
		const char *why;
		if (!bs_utf8_valid(t[i].name, t[i].name_len)) {
			free(b.p);
			return bs_err_set(e, BS_ECORRUPT, "tensor name '%.*s' is not UTF-8",
			    (int)(t[i].name_len > 80 ? 80 : t[i].name_len), t[i].name);
		}
		if (bs_tensor_bytes(t[i].dtype, t[i].shape, t[i].rank, &bytes, &why) < 0) {
			free(b.p);
			return bs_err_set(e, BS_ECORRUPT, "tensor '%.*s': %s",
			    (int)(t[i].name_len > 80 ? 80 : t[i].name_len), t[i].name, why);
		}
		if (i || nmeta)
			put(&b, ",", 1);
		quote(&b, t[i].name, t[i].name_len);
		puts_(&b, ":{\"dtype\":\"");
		puts_(&b, bs_dtype_name(t[i].dtype));
		puts_(&b, "\",\"shape\":[");
		for (unsigned k = 0; k < t[i].rank; k++) {
			snprintf(num, sizeof num, "%s%llu", k ? "," : "", (unsigned long long)t[i].shape[k]);
			puts_(&b, num);
		}
		t[i].begin = off;
		t[i].end = off + bytes;
		off += bytes;
		snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}",
		    (unsigned long long)t[i].begin, (unsigned long long)t[i].end);
		puts_(&b, num);
	}
	put(&b, "}", 1);
	while (!b.oom && b.n % 8)
		put(&b, " ", 1);
	if (b.oom) {
		free(b.p);
		return bs_err_set(e, BS_ENOMEM, "out of memory");
	}
	json_len = b.n - 8;
	for (int i = 0; i < 8; i++)
		b.p[i] = (char)(json_len >> (8 * i));
	*out = (uint8_t *)b.p;
	*out_len = b.n;
	return 0;
}
