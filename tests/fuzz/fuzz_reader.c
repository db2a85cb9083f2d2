/*
 * fuzz_reader.c - libFuzzer target: the stream reader (bs_reader_next and
 * bs_reader_resync) reading every frame of the input through a memfd, and
 * decoding every chunk as bs-decode would.  Input: one byte of options
 * (bit 0: make the frames' checks hold first; bit 1: decode chunks), then
 * the stream.
 */
#include <stdlib.h>

#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bs_reader *r;
	struct bs_frame *f;
	struct bs_resync_info ri;
	uint8_t *buf, *out = NULL;
	int fd, rc, opt;
	unsigned rounds = 0;

	if (size < 1)
		return 0;
	opt = data[0];
	buf = malloc(size);
	memcpy(buf, data + 1, size - 1);
	if (opt & 1)
		fuzz_fix_frames(buf, size - 1);
	fd = fuzz_memfd(buf, size - 1);
	free(buf);
	if (fd < 0)
		return 0;
	r = bs_reader_open_fd(fd, "fuzz");
	for (;;) {
		rc = bs_reader_next(r, &f);
		if (rc < 0 && rc != BS_EIO && rc != BS_ENOMEM && ++rounds < 1000)
			rc = bs_reader_resync(r, &f, &ri);
		if (rc != 0)
			break;
		if (f->type == BS_F_CHUNK && (opt & 2)) {
			const struct bs_tensor_info *t = bs_reader_tensor(r);
			if (t && (out = malloc(f->u.chunk.raw_len))) {
				bs_chunk_decode(f->u.chunk.codec, t->dtype, f->payload,
				    f->payload_len, out, f->u.chunk.raw_len);
				free(out);
			}
			out = NULL;
		}
		if (f->type == BS_F_TENSOR && !bs_reader_tensor(r))
			abort();	/* the reader must know the tensor it returned */
		bs_frame_free(f);
	}
	(void)bs_reader_errmsg(r);
	free(out);
	bs_reader_close(r);
	close(fd);
	return 0;
}
