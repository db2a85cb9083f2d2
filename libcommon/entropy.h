/*
 * entropy.h - internal API of the entropy coder under the float codecs.
 *
 * The coder is a static (two-pass) rANS coder with S interleaved 32-bit
 * states and 16-bit renormalisation (states live in [2^15, 2^31)): S = 8
 * for messages of fewer than BS_ENT_MID_N symbols, 16 below BS_ENT_WIDE_N,
 * 32 below BS_ENT_WIDER_N, 64 from there on (the decoder derives S from the
 * symbol count it is given; more states let a SIMD decoder overlap more
 * dependency chains: decoding is bound by their latency, a gather and a
 * multiply a step; at 4 bytes a state).  A coded section
 * is self-delimiting only through its length, which the caller stores; its
 * layout is:
 *
 *   table   a bit-packed (LSB first) frequency table, padded to a byte:
 *             4 bits   scale - 1 (the frequencies sum to 2^scale, 1..15)
 *             1 bit    mirror mode (only with an even alphabet size nsym)
 *             3 bits   kd, in mirror mode only
 *             gamma    number of present symbols m (>= 1)
 *             m times: gamma(gap) where gap = sym - previous sym (first:
 *                      sym + 1); then, except for the last symbol, its
 *                      frequency f.  The last frequency is 2^scale minus
 *                      the others.
 *           A frequency f is coded, in mirror mode for a symbol s >=
 *           nsym / 2 whose mirror s - nsym / 2 is present with frequency
 *           p: as z = 2 (f - p) when f >= p, else 2 (p - f) - 1, Rice-
 *           coded with k = (bitlen(p) - kd) / 2 (0 when bitlen(p) <= kd):
 *           z >> k in unary (that many 0 bits, then a 1), then the low k
 *           bits of z.  Otherwise by its bit length L = bitlen(f),
 *           against the last L so coded (P, 0 at first): a 0 bit when L =
 *           P; bits 1, 0, u for L = P + 1 (u = 1) or P - 1 (u = 0); else
 *           bits 1, 1 and 4 bits L - 1; then the L - 1 bits of f under its
 *           leading 1.  (The sign bit is the top bit of the float codecs'
 *           symbols: a value and its negation are about as frequent.)
 *   states  S x 32-bit little-endian final encoder states, state 0 first
 *   words   the 16-bit little-endian renormalisation words, in the order
 *           the decoder consumes them
 *
 * Symbol i of the message is coded by state i mod S; decoding symbol i
 * renormalises state i mod S (taking the next word) right after it, so
 * the words of each group of S symbols are consumed in state order.  A
 * decoder that ends with every state back at 2^15 and every word consumed
 * has checked the section; anything else is reported as corrupt.
 *
 * The split-float helpers at the end implement the common body of the BF16,
 * F16 and F32 codecs: each value's top bits (sign, exponent and a few
 * mantissa bits) form one rANS symbol, its remaining low bits are stored
 * bit-packed.
 *
 * Everything here is reentrant: no global mutable state but the SIMD level,
 * found once.  Scratch memory is malloc'd per call and freed before
 * returning.  On x86-64 the coders use AVX2 loops when the CPU has AVX2 and
 * BMI2, and the decoder AVX-512 ones (F, BW, VL, VBMI) for 16 to 64
 * states, checked at run time and capped by BS_SIMD=none|avx2 in the
 * environment; they stop and hand over to the portable code at group
 * boundaries, and every path produces the same output from the same input.
 */
#ifndef BS_ENTROPY_H
#define BS_ENTROPY_H

#include <stddef.h>
#include <stdint.h>

#define BS_ENT_MAX_SYM 16384	/* alphabet limit: symbols are 0..16383 */
#define BS_ENT_MAX_SCALE 15	/* frequencies sum to at most 2^15 */
#ifndef BS_ENT_DEF_SCALE
#define BS_ENT_DEF_SCALE 12	/* default: decode table of 32 KiB */
#endif
#define BS_ENT_STATES 8		/* interleaved states, short messages */
#define BS_ENT_STATES_MAX 64	/* at most */
#define BS_ENT_MID_N 4096	/* 16 states from this many symbols */
#define BS_ENT_WIDE_N 16384	/* 32 states from this many */
#define BS_ENT_WIDER_N 65536	/* 64 states from this many */

/*
 * Normalise the histogram cnt[0..nsym) to frequencies freq[0..nsym) that
 * sum to exactly 2^scale, every present symbol (cnt > 0) getting at least 1
 * and absent ones 0.  Rounding error is distributed greedily where it costs
 * least.  Returns the number of present symbols, 0 when cnt is all zero, or
 * -1 when more than 2^scale symbols are present.  The caller owns both
 * arrays.
 */
int bs_ent_normalize(const uint32_t *cnt, unsigned nsym, unsigned scale,
    uint32_t *freq);

/*
 * Estimated size in bits of coding the histogram cnt[0..nsym) with this
 * coder: the order-0 entropy plus an estimate of the table and the state
 * flush.  Used to choose between symbol definitions.  Never fails.  When
 * cnt counts a sample of 1/scale of the message (scale >= 1), the entropy
 * is scaled up, the table and flush are not.
 */
double bs_ent_estimate(const uint32_t *cnt, unsigned nsym, double scale);

/* Fast approximate log2 of x > 0 (error < 1e-6), for estimates. */
double bs_ent_log2(double x);

/*
 * Code a message of n symbols into out[0..cap).  For the 16-bit variant
 * symbol i is (host-order uint16 at val + 2 i) >> shift, for the 32-bit one
 * (uint32 at val + 4 i) >> shift, for the 8-bit one sym[i]; every symbol
 * must be < nsym <= BS_ENT_MAX_SYM (256 for the 8-bit variant).  cnt is the
 * message's histogram over nsym entries (the caller has usually computed it
 * already); it must be exact.  scale is the wanted precision (raised
 * automatically when the alphabet needs more, at most 15).  Returns the
 * section length (> 0), 0 when it does not fit in cap, or a negative BS_E*
 * code (BS_EUSAGE for bad arguments or n = 0, BS_ENOMEM).  The caller owns
 * every buffer; out must not overlap the input.
 */
long bs_ent_encode16(const uint8_t *val, size_t n, unsigned shift,
    const uint32_t *cnt, unsigned nsym, unsigned scale, uint8_t *out,
    size_t cap);
long bs_ent_encode32(const uint8_t *val, size_t n, unsigned shift,
    const uint32_t *cnt, unsigned nsym, unsigned scale, uint8_t *out,
    size_t cap);
long bs_ent_encode8(const uint8_t *sym, size_t n, const uint32_t *cnt,
    unsigned scale, uint8_t *out, size_t cap);

/*
 * Decode a section of exactly in_len bytes holding n symbols.  Each symbol s
 * must be < nsym; the 16-bit variant writes (s << shift) as a host-order
 * uint16 at out + 2 i (out need not be aligned; it must hold 2 n bytes), the
 * 8-bit variant writes s at out[i] (nsym <= 256).  Returns 0, or BS_ECORRUPT
 * when the section is malformed, a symbol is out of range, or the states do
 * not end where the encoder started; never reads or writes out of bounds.
 * BS_ENOMEM when scratch cannot be allocated.
 */
int bs_ent_decode16(const uint8_t *in, size_t in_len, unsigned nsym,
    unsigned shift, uint8_t *out, size_t n);
int bs_ent_decode8(const uint8_t *in, size_t in_len, unsigned nsym,
    uint8_t *out, size_t n);

/* ------------------------------------------------------- split floats */

/*
 * A split-float section codes n values of width bytes (2 or 4, host order =
 * little endian) as:
 *
 *   1 byte   b: the number of top bits forming the symbol (bmin..bmax)
 *   R bytes  the low r = 8 width - b bits of every value, packed LSB first,
 *            R = ceil(n r / 8)
 *   rest     rANS section (to the end) of the symbols v >> r
 *
 * bs_split_encode chooses b in [bmin, bmax] (bmax <= 14) from an estimate
 * (level >= 7: by coding the two best candidates and keeping the smaller).
 *
 * Context mode (16-bit values only; offered when ctx, the width of the
 * exponent field under the sign bit, is 1..5, and chosen when the estimate
 * says it pays): the first byte is b | 0x80 (b <= 10), the low bits are
 * packed as above, and the rest is
 *   T bytes  the symbols of the last n mod S values as 16-bit words, S =
 *            the number of states for n
 *   tables   bit-packed: gamma(m), the number of contexts with a table,
 *            then for each in increasing order gamma(c + 1 - previous
 *            c + 1) and a frequency table as above (scale <= 12); padded
 *            to a byte
 *   states   S x 32-bit final states
 *   words    the renormalisation words
 * The other S L values (L = n / S) are cut into S lanes of L consecutive
 * values; lane k is coded by state k, and step t decodes value t of every
 * lane in state order.  The context of a value is the exponent field of
 * the value before it in its lane (0 for a lane's first value), and its
 * symbol is coded with that context's table.  ctx = 0 never codes (and
 * refuses to decode) context mode.
 * Returns the length written to out (<= cap), 0 when it does not fit or n
 * is too small to gain, or a negative BS_E* code.  bs_split_decode requires
 * the section to span exactly in_len bytes and writes n values to out;
 * returns 0 or BS_ECORRUPT (bad b outside [bmin, bmax] too) / BS_ENOMEM.
 */
long bs_split_encode(const uint8_t *raw, size_t n, unsigned width,
    unsigned bmin, unsigned bmax, unsigned ctx, uint8_t *out, size_t cap,
    int level);
int bs_split_decode(const uint8_t *in, size_t in_len, size_t n,
    unsigned width, unsigned bmin, unsigned bmax, unsigned ctx,
    uint8_t *out);

/* Estimated bits of the section bs_split_encode would write at its best b
 * (plain mode), from the histogram alone; for n / scale values when raw is
 * a sample of 1/scale of them (see bs_ent_estimate). */
double bs_split_estimate(const uint8_t *raw, size_t n, unsigned width,
    unsigned bmin, unsigned bmax, double scale);

/*
 * The body of the 16-bit codecs (BF16, F16): a chunk of raw_len bytes is
 * raw_len / 2 values through bs_split_encode, then its odd last byte, if
 * any, stored as it is.  Chunks under 16 values are not coded (0).  Same
 * returns as bs_split_encode / bs_split_decode.
 */
long bs_split16_encode(const uint8_t *raw, size_t raw_len, unsigned bmin,
    unsigned bmax, unsigned ctx, uint8_t *out, size_t cap, int level);
int bs_split16_decode(const uint8_t *in, size_t in_len, size_t raw_len,
    unsigned bmin, unsigned bmax, unsigned ctx, uint8_t *out);
/* Bytes bs_split16_encode would write, estimated (see bs_split_estimate). */
double bs_split16_estimate(const uint8_t *raw, size_t raw_len, unsigned bmin,
    unsigned bmax, double scale);

/* LEB128 helpers.  put returns bytes written (<= 10) or 0 if cap is too
 * small; get returns bytes read or 0 on truncation/overlong (> 9 bytes). */
size_t bs_ent_varint_put(uint8_t *p, size_t cap, uint64_t v);
size_t bs_ent_varint_get(const uint8_t *p, size_t len, uint64_t *v);

#endif
