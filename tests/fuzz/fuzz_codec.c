/*
 * fuzz_codec.c - libFuzzer target: every codec's decoder (bs_chunk_decode)
 * on any payload, for any codec id and dtype.  Input: codec (1 byte), dtype
 * (1 byte), raw length (3 bytes, little-endian, at most 16 MiB), then the
 * payload.  A decoder must produce exactly raw length bytes or refuse,
 * never touching memory outside its buffers (ASan watches the output
 * buffer, allocated to the byte).
 */
#include <stdlib.h>

#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint32_t raw_len;
	uint8_t *in, *out;
	int rc;

	if (size < 5)
		return 0;
	raw_len = data[2] | (uint32_t)data[3] << 8 | (uint32_t)data[4] << 16;
	if (raw_len == 0)
		return 0;
	in = malloc(size - 5 ? size - 5 : 1);
	memcpy(in, data + 5, size - 5);
	out = malloc(raw_len);
	rc = bs_chunk_decode(data[0], data[1], in, size - 5, out, raw_len);
	if (rc > 0 || (rc < 0 && rc != BS_ECORRUPT && rc != BS_EUNSUPPORTED && rc != BS_ENOMEM))
		abort();	/* only the documented answers */
	free(in);
	free(out);
	return 0;
}
