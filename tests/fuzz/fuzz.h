/*
 * fuzz.h - helpers shared by the libFuzzer targets of tests/fuzz: an input
 * as a file descriptor, and frames whose checks are made to hold so that
 * the fuzzer reaches the parsers behind them.
 */
#ifndef BS_FUZZ_H
#define BS_FUZZ_H

#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bs.h"

/* A memfd holding data[size], positioned at 0; -1 on failure. */
static inline int
fuzz_memfd(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (size && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return -1;
	}
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* Walk p[n] as frames and make each whole frame's sync marker, meta check,
 * header check and payload checksum hold; a frame that does not fit is left
 * as it is (a truncation).  Lengths, types, flags and fields stay the
 * fuzzer's. */
static inline void
fuzz_fix_frames(uint8_t *p, size_t n)
{
	static const uint8_t sync[4] = { 0xb5, 'B', 'S', 0x1a };
	size_t at = 0;

	while (n - at >= BS_FRAME_HEADER) {
		uint32_t ml, c;
		uint64_t pl, h;
		memcpy(&ml, p + at + 8, 4);
		memcpy(&pl, p + at + 12, 8);
		if (ml > n - at || pl > n - at ||
		    (uint64_t)BS_FRAME_HEADER + ml + pl + BS_FRAME_TRAILER > n - at)
			return;
		memcpy(p + at, sync, 4);
		c = bs_xxh32(p + at + BS_FRAME_HEADER, ml);
		memcpy(p + at + 20, &c, 4);
		c = bs_xxh32(p + at, 24);
		memcpy(p + at + 24, &c, 4);
		h = bs_xxh64(p + at + BS_FRAME_HEADER + ml, (size_t)pl);
		memcpy(p + at + BS_FRAME_HEADER + ml + pl, &h, 8);
		at += BS_FRAME_HEADER + ml + pl + BS_FRAME_TRAILER;
	}
}

#endif
