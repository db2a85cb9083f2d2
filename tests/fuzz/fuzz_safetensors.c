/*
 * fuzz_safetensors.c - libFuzzer target: the safetensors header parser
 * (bs_st_parse) and its checks.  Input: one byte of options (bit 0: the
 * file size is known, and then it is the header length + 8 + the next 4
 * bytes as a data length), then the JSON header.
 */
#include <stdlib.h>

#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bs_st st;
	struct bs_err e = { 0, "" };
	uint64_t fsize = BS_SIZE_UNKNOWN;
	uint8_t *json;

	if (size < 5)
		return 0;
	if (data[0] & 1) {
		uint32_t dl;
		memcpy(&dl, data + 1, 4);
		fsize = 8 + (size - 5) + dl;
	}
	/* a copy of exactly the header's bytes, so that reading past it shows */
	json = malloc(size - 5 ? size - 5 : 1);
	memcpy(json, data + 5, size - 5);
	memset(&st, 0, sizeof st);
	if (bs_st_parse(json, size - 5, fsize, &st, &e) == 0) {
		uint64_t at = 0;
		for (size_t i = 0; i < st.n; i++) {
			/* what the parser promises: sorted, tiled, sizes agree */
			uint64_t bytes;
			const char *why;
			if (st.t[i].begin != at || st.t[i].end < st.t[i].begin)
				abort();
			if (bs_tensor_bytes(st.t[i].dtype, st.t[i].shape, st.t[i].rank, &bytes, &why) < 0 ||
			    bytes != st.t[i].end - st.t[i].begin)
				abort();
			at = st.t[i].end;
		}
		if (at != st.data_len)
			abort();
		bs_st_free(&st);
	} else if (!e.msg[0])
		abort();	/* a refusal always says why */
	free(json);
	return 0;
}
