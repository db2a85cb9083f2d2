/*
 * internal.h - helpers shared by libcommon's own files; not for cmd/.
 */
#ifndef BS_INTERNAL_H
#define BS_INTERNAL_H

#include <stdint.h>
#include <string.h>

static inline void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static inline uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* x86-64 builds carry AVX2 and AVX-512 loops, chosen at run time by
 * bs_simd_level (entropy.c): 0 none, 1 AVX2 (BMI2, POPCNT), 2 AVX-512
 * (F, CD, BW, VL, VBMI) as well; BS_SIMD=none|avx2 caps it. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(BS_ENT_NO_SIMD)
#define BS_X86_SIMD 1
int bs_simd_level(void);
#endif

/* Build a frame header at p (BS_FRAME_HEADER bytes). */
void bs_frame_header_build(uint8_t *p, uint8_t type, uint8_t flags,
    const void *meta, uint32_t meta_len, uint64_t payload_len);
/* Build the meta block of a known frame type from its info struct into m
 * (large enough: 80 + rank*8 + name lengths); returns its length. */
size_t bs_meta_build(uint8_t *m, uint8_t type, const void *info);

/* XXH3 compiled for AVX2 (hash_avx2.c); hash.c dispatches to them. */
uint64_t bs_xxh64_avx2(const void *p, size_t n);
void bs_xxh128_avx2(const void *p, size_t n, uint64_t *lo, uint64_t *hi);
void bs_xxh128_update_avx2(void *state, const void *p, size_t n);

#endif
