/*
 * safetensors.c - a strict reader of safetensors headers.
 *
 * The rules (bs-split(1), SAFETENSORS RULES): the header is at most
 * 100,000,000 bytes and fits in the file; it is UTF-8 JSON, an object,
 * without duplicate keys; __metadata__ maps strings to strings; every other
 * entry has exactly dtype, shape (non-negative integers) and data_offsets
 * [begin, end]; sizes are computed in bits with checked arithmetic and are
 * whole bytes; sorted by begin, the tensors tile the data from 0 to its end
 * with no hole and no overlap.  Names are length-counted (NUL allowed).
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdio.h>

#include "bs.h"

void
bs_st_free(struct bs_st *st)
{
	for (size_t i = 0; i < st->n; i++)
		free(st->t[i].name);
	free(st->t);
	memset(st, 0, sizeof *st);
}

static int
by_begin(const void *a, const void *b)
{
	const struct bs_st_tensor *x = a, *y = b;

	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	if (x->end != y->end)		/* zero-size first at a shared offset */
		return x->end < y->end ? -1 : 1;
	return 0;
}

/* Case-insensitive search for the 4 hex digits h in s[len]. */
static int
strcasestr_n(const char *s, size_t len, const char *h)
{
	for (size_t i = 0; i + 4 <= len; i++)
		if (strncasecmp(s + i, h, 4) == 0)
			return 1;
	return 0;
}

/* A printable, shortened tensor name for messages. */
static const char *
pname(const char *name, size_t len, char *buf, size_t n)
{
	size_t j = 0;

	for (size_t i = 0; i < len && j + 4 < n; i++)
		buf[j++] = (name[i] >= 32 && name[i] < 127) ? name[i] : '?';
	if (len > 0 && j + 4 >= n) {
		buf[j++] = '.', buf[j++] = '.', buf[j++] = '.';
	}
	buf[j] = 0;
	return buf;
}

static int
get_u64(json_t *v, uint64_t *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return -1;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int
parse_entry(const char *key, size_t klen, json_t *v, struct bs_st_tensor *t,
    struct bs_err *e)
{
	char nb[96];
	const char *k, *why;
	json_t *val, *dtype = NULL, *shape = NULL, *offs = NULL;
	size_t i;
	uint64_t bytes;

	pname(key, klen, nb, sizeof nb);
	if (!json_is_object(v))
		return bs_err_set(e, BS_ECORRUPT, "tensor '%s': entry is not an object", nb);
	json_object_foreach(v, k, val) {
		if (strcmp(k, "dtype") == 0)
			dtype = val;
		else if (strcmp(k, "shape") == 0)
			shape = val;
		else if (strcmp(k, "data_offsets") == 0)
			offs = val;
		else
			return bs_err_set(e, BS_ECORRUPT, "tensor '%s': unknown field '%.40s'", nb, k);
	}
	if (!dtype || !shape || !offs)
		return bs_err_set(e, BS_ECORRUPT, "tensor '%s': needs dtype, shape and data_offsets", nb);
	if (!json_is_string(dtype))
		return bs_err_set(e, BS_ECORRUPT, "tensor '%s': dtype is not a string", nb);
	t->dtype = (uint8_t)bs_dtype_from_name(json_string_value(dtype), json_string_length(dtype));
	if (t->dtype == BS_DT_UNKNOWN)
		return bs_err_set(e, BS_EUNSUPPORTED, "tensor '%s': unknown dtype '%.20s'", nb,
		    json_string_value(dtype));
	if (!json_is_array(shape))
		return bs_err_set(e, BS_ECORRUPT, "tensor '%s': shape is not an array", nb);
	if (json_array_size(shape) > BS_MAX_RANK)
		return bs_err_set(e, BS_ECORRUPT, "tensor '%s': rank above %d", nb, BS_MAX_RANK);
	t->rank = (uint8_t)json_array_size(shape);
	json_array_foreach(shape, i, val)
		if (get_u64(val, &t->shape[i]) < 0)
			return bs_err_set(e, BS_ECORRUPT, "tensor '%s': shape holds something other than a non-negative integer", nb);
	if (!json_is_array(offs) || json_array_size(offs) != 2 ||
	    get_u64(json_array_get(offs, 0), &t->begin) < 0 ||
	    get_u64(json_array_get(offs, 1), &t->end) < 0)
		return bs_err_set(e, BS_ECORRUPT, "tensor '%s': data_offsets is not [begin, end] of non-negative integers", nb);
	if (t->end < t->begin)
		return bs_err_set(e, BS_ECORRUPT, "tensor '%s': data_offsets end before they begin", nb);
	if (bs_tensor_bytes(t->dtype, t->shape, t->rank, &bytes, &why) < 0)
		return bs_err_set(e, BS_ECORRUPT, "tensor '%s': %s", nb, why);
	if (bytes != t->end - t->begin)
		return bs_err_set(e, BS_ECORRUPT, "tensor '%s': data_offsets span %llu bytes but shape and dtype need %llu",
		    nb, (unsigned long long)(t->end - t->begin), (unsigned long long)bytes);
	if (!(t->name = malloc(klen + 1)))
		return bs_err_set(e, BS_ENOMEM, "out of memory");
	memcpy(t->name, key, klen);
	t->name[klen] = 0;
	t->name_len = (uint32_t)klen;
	return 0;
}

/*
 * jansson cannot hold a NUL byte in an object key, but a tensor name may
 * contain one (JSON "\u0000").  Such headers are parsed with every \u0000
 * escape replaced by a private-use code point that the header does not
 * use, which is turned back into a NUL byte in the names.  Returns the
 * rewritten text (malloc'd) and sets *mark to the code point's UTF-8, or
 * returns NULL when there is nothing to rewrite.
 */
static char *
hide_nul(const char *js, size_t len, char mark[4], size_t *outlen)
{
	char *out, esc[7];
	size_t o = 0;
	int found = 0;

	for (size_t i = 0; i + 6 <= len && !found; i++)
		if (memcmp(js + i, "\\u0000", 6) == 0)
			found = 1;
	if (!found)
		return NULL;
	for (unsigned cp = 0xE000; cp < 0xF900; cp++) {
		mark[0] = (char)(0xE0 | (cp >> 12));
		mark[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		mark[2] = (char)(0x80 | (cp & 0x3F));
		mark[3] = 0;
		snprintf(esc, sizeof esc, "%04x", cp);
		if (!memmem(js, len, mark, 3) && !strcasestr_n(js, len, esc))
			break;
	}
	if (!(out = malloc(len + 1)))
		return NULL;
	for (size_t i = 0; i < len;) {
		if (js[i] == '\\' && i + 1 < len) {
			if (i + 6 <= len && memcmp(js + i, "\\u0000", 6) == 0) {
				memcpy(out + o, mark, 3);	/* raw UTF-8 is valid JSON */
				o += 3;
				i += 6;
				continue;
			}
			out[o++] = js[i++];	/* an escape: copy both bytes */
		}
		out[o++] = js[i++];
	}
	*outlen = o;
	return out;
}

/* Turn the mark back into NUL bytes in a key; returns the new length. */
static size_t
unhide_nul(char *s, size_t n, const char mark[4])
{
	size_t o = 0;

	for (size_t i = 0; i < n;) {
		if (i + 3 <= n && memcmp(s + i, mark, 3) == 0) {
			s[o++] = 0;
			i += 3;
		} else
			s[o++] = s[i++];
	}
	return o;
}

int
bs_st_parse(const uint8_t *js, uint64_t len, uint64_t file_size,
    struct bs_st *st, struct bs_err *e)
{
	json_error_t jerr;
	json_t *root, *v;
	const char *key;
	size_t klen, n = 0;
	uint64_t at = 0;
	char nb[96], mark[4], *hidden;
	size_t hlen = 0;
	int rc = 0, had_nul;

	memset(st, 0, sizeof *st);
	if (len > BS_MAX_ST_HEADER)
		return bs_err_set(e, BS_ECORRUPT, "header length %llu is above the limit of 100000000",
		    (unsigned long long)len);
	if (file_size != BS_SIZE_UNKNOWN && (file_size < 8 || len > file_size - 8))
		return bs_err_set(e, BS_ECORRUPT, "header length %llu runs past the end of the file",
		    (unsigned long long)len);
	hidden = hide_nul((const char *)js, (size_t)len, mark, &hlen);
	root = json_loadb(hidden ? hidden : (const char *)js, hidden ? hlen : (size_t)len,
	    JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	had_nul = hidden != NULL;
	free(hidden);
	if (!root)
		return bs_err_set(e, BS_ECORRUPT, "header is not valid JSON: %s (at byte %d)",
		    jerr.text, jerr.position);
	if (!json_is_object(root)) {
		json_decref(root);
		return bs_err_set(e, BS_ECORRUPT, "header is not a JSON object");
	}
	st->header_len = len;
	if (!(st->t = calloc(json_object_size(root) + 1, sizeof *st->t))) {
		json_decref(root);
		return bs_err_set(e, BS_ENOMEM, "out of memory");
	}
	json_object_keylen_foreach(root, key, klen, v) {
		if (klen == 12 && memcmp(key, "__metadata__", 12) == 0) {
			const char *mk;
			json_t *mv;
			if (!json_is_object(v)) {
				rc = bs_err_set(e, BS_ECORRUPT, "__metadata__ is not an object");
				goto out;
			}
			json_object_foreach(v, mk, mv)
				if (!json_is_string(mv)) {
					rc = bs_err_set(e, BS_ECORRUPT, "__metadata__ value of '%.40s' is not a string", mk);
					goto out;
				}
			st->has_metadata = 1;
			continue;
		}
		if ((rc = parse_entry(key, klen, v, &st->t[n], e)) < 0)
			goto out;
		if (had_nul)
			st->t[n].name_len = (uint32_t)unhide_nul(st->t[n].name, klen, mark);
		n++;
		st->n = n;
	}
	/* sort by (begin, end), stable: ties keep header order.  The indices
	 * are merge-sorted, then the entries moved into place along the
	 * cycles of the permutation: an entry is some 540 bytes, and a second
	 * array of them copied at every pass cost more than the rest of the
	 * parse on a header of many tensors */
	{
		uint32_t *mem = malloc(2 * n * sizeof *mem + 1), *ix = mem, *tx = mem + n;
		if (!mem) {
			rc = bs_err_set(e, BS_ENOMEM, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			ix[i] = (uint32_t)i;
		for (size_t w = 1; w < n; w *= 2) {
			for (size_t lo = 0; lo < n; lo += 2 * w) {
				size_t mid = lo + w < n ? lo + w : n;
				size_t hi = lo + 2 * w < n ? lo + 2 * w : n;
				size_t a = lo, b = mid, k = lo;
				while (a < mid && b < hi)
					tx[k++] = by_begin(&st->t[ix[b]], &st->t[ix[a]]) < 0 ?
					    ix[b++] : ix[a++];
				while (a < mid)
					tx[k++] = ix[a++];
				while (b < hi)
					tx[k++] = ix[b++];
			}
			uint32_t *sw = ix;
			ix = tx;
			tx = sw;
		}
		/* entry j becomes the old entry ix[j]; a placed one is marked
		 * ix[j] = j */
		for (size_t i = 0; i < n; i++) {
			if (ix[i] == i)
				continue;
			struct bs_st_tensor hold = st->t[i];
			size_t j = i;
			while (ix[j] != i) {
				size_t k = ix[j];
				st->t[j] = st->t[k];
				ix[j] = (uint32_t)j;
				j = k;
			}
			st->t[j] = hold;
			ix[j] = (uint32_t)j;
		}
		free(mem);
	}
	for (size_t i = 0; i < n; i++) {
		const struct bs_st_tensor *t = &st->t[i];
		if (t->begin > at) {
			rc = bs_err_set(e, BS_ECORRUPT, "tensor '%s': data_offsets leave a hole of %llu bytes before it",
			    pname(t->name, t->name_len, nb, sizeof nb), (unsigned long long)(t->begin - at));
			goto out;
		}
		if (t->begin < at) {
			rc = bs_err_set(e, BS_ECORRUPT, "tensor '%s': data_offsets overlap the tensor before it",
			    pname(t->name, t->name_len, nb, sizeof nb));
			goto out;
		}
		at = t->end;
	}
	if (file_size != BS_SIZE_UNKNOWN) {
		uint64_t data = file_size - 8 - len;
		if (at < data) {
			rc = bs_err_set(e, BS_ECORRUPT, "%llu bytes after the last tensor belong to no tensor",
			    (unsigned long long)(data - at));
			goto out;
		}
		if (at > data) {
			rc = bs_err_set(e, BS_ECORRUPT, "tensor data runs %llu bytes past the end of the file (file cut short?)",
			    (unsigned long long)(at - data));
			goto out;
		}
	}
	st->data_len = at;
out:
	json_decref(root);
	if (rc < 0)
		bs_st_free(st);
	return rc;
}
