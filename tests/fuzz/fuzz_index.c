/*
 * fuzz_index.c - libFuzzer target: the index parser (bs_index_parse) on any
 * payload, and the footer and index reader (bs_index_read_fd) on any file.
 * Input: the member length (8 bytes), then the bytes; the same bytes, with
 * their frames' checks made to hold, are read as a file through its footer.
 */
#include <stdlib.h>

#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bs_index ix;
	struct bs_err e = { 0, "" };
	const char *why = "";
	uint64_t member_len, start;
	uint8_t *p;
	int fd;

	if (size < 8)
		return 0;
	memcpy(&member_len, data, 8);
	p = malloc(size - 8 ? size - 8 : 1);
	memcpy(p, data + 8, size - 8);
	if (bs_index_parse(p, size - 8, member_len, &ix, &why) == 0) {
		for (size_t i = 0; i < ix.n; i++)
			if (ix.e[i].offset >= member_len || ix.e[i].length > member_len - ix.e[i].offset ||
			    strlen(ix.e[i].name) > ix.e[i].name_len)
				abort();
		bs_index_free(&ix);
	}
	fuzz_fix_frames(p, size - 8);
	if ((fd = fuzz_memfd(p, size - 8)) >= 0) {
		if (bs_index_read_fd(fd, &ix, &start, &e) == 0) {
			if (start > size - 8)
				abort();
			bs_index_free(&ix);
		}
		close(fd);
	}
	free(p);
	return 0;
}
