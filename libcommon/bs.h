/*
 * bs.h - the public face of libcommon, the library under every bs-* program.
 *
 * It holds the stream format (frames, their metadata, the reader and the
 * writer), the safetensors reader, the codecs, checksums, the ordered thread
 * pool, option parsing and error reporting.  The byte layout is documented in
 * bs-stream(5); the names below follow it.
 *
 * Conventions: functions return 0 on success, BS_EOF (positive) at a clean
 * end, and a negative BS_E* code on error, with the detail on the handle
 * (bs_reader_errmsg() and friends).  The library never prints and never
 * exits; only the program-support functions at the end of this file do.
 */
#ifndef BS_H
#define BS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define BS_VERSION_STRING "0.1.0"

/* ---------------------------------------------------------------- errors */

enum {
	BS_OK = 0,
	BS_EOF = 1,		/* clean end of input */
	BS_ETRUNC = -1,		/* input ended inside a frame or member */
	BS_ECORRUPT = -2,	/* malformed structure or field */
	BS_ECHECKSUM = -3,	/* a checksum does not match */
	BS_EIO = -4,		/* read or write failed (errno kept) */
	BS_ENOMEM = -5,		/* allocation failed */
	BS_EUSAGE = -6,		/* caller asked for something meaningless */
	BS_EUNSUPPORTED = -7,	/* newer version, unknown required frame, dtype */
};

/* The exit status a program should use for error code e: 1 for bad data,
 * 2 for usage, I/O and memory trouble. */
int bs_err_status(int e);

/* A fixed buffer for an error message, embedded in every handle. */
struct bs_err {
	int code;
	char msg[512];
};
/* Set the message (printf-style) and return code. */
int bs_err_set(struct bs_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* ---------------------------------------------------------------- dtypes */

enum bs_dtype {
	BS_DT_UNKNOWN = 0,
	BS_DT_BOOL, BS_DT_U8, BS_DT_I8, BS_DT_U16, BS_DT_I16, BS_DT_U32,
	BS_DT_I32, BS_DT_U64, BS_DT_I64, BS_DT_F16, BS_DT_BF16, BS_DT_F32,
	BS_DT_F64, BS_DT_C64, BS_DT_F8_E4M3, BS_DT_F8_E5M2, BS_DT_F8_E8M0,
	BS_DT_F4, BS_DT_F6_E2M3, BS_DT_F6_E3M2,
	BS_DT_BYTES,		/* opaque bytes of a blob (not a safetensors dtype) */
	BS_DT_COUNT
};
/* Safetensors name of dtype d ("BF16"), or "?" */
const char *bs_dtype_name(int d);
/* dtype for a name of len bytes; BS_DT_UNKNOWN if none */
int bs_dtype_from_name(const char *name, size_t len);
/* Width of one element in bits (1..128), 0 for unknown */
unsigned bs_dtype_bits(int d);

/* Byte size of a tensor with shape[rank] of dtype d, in checked 64-bit
 * arithmetic on bits.  Returns 0 and sets *bytes, or BS_ECORRUPT when the
 * size overflows or is not a whole number of bytes (the message in *why). */
int bs_tensor_bytes(int d, const uint64_t *shape, unsigned rank,
    uint64_t *bytes, const char **why);

/* ------------------------------------------------------------- checksums */

struct bs_hash128 {
	uint64_t lo, hi;
};
uint64_t bs_xxh64(const void *p, size_t n);	/* XXH3-64, seed 0 */
uint32_t bs_xxh32(const void *p, size_t n);	/* low 32 bits of XXH3-64 */
struct bs_hash128 bs_xxh128(const void *p, size_t n);	/* XXH3-128 */

/* Streaming XXH3-128 over a tensor's raw bytes. */
struct bs_xxh128_state;
struct bs_xxh128_state *bs_xxh128_new(void);
void bs_xxh128_reset(struct bs_xxh128_state *);
void bs_xxh128_update(struct bs_xxh128_state *, const void *p, size_t n);
struct bs_hash128 bs_xxh128_digest(const struct bs_xxh128_state *);
void bs_xxh128_free(struct bs_xxh128_state *);

/* Streaming SHA-256 over a whole file (Hugging Face names LFS files by it). */
struct bs_sha256;
struct bs_sha256 *bs_sha256_new(void);
void bs_sha256_update(struct bs_sha256 *, const void *p, size_t n);
void bs_sha256_final(struct bs_sha256 *, uint8_t out[32]);	/* and resets */
void bs_sha256_free(struct bs_sha256 *);
/* Lower-case hex of n bytes into out (2n+1 bytes). */
void bs_hex(const uint8_t *p, size_t n, char *out);

/* ---------------------------------------------------------------- frames */

/* Frame types (bs-stream(5), "Frame types"). */
enum bs_ftype {
	BS_F_STREAM = 0x01,	/* starts a member */
	BS_F_FILE = 0x02,	/* starts a source file */
	BS_F_TENSOR = 0x03,	/* starts a tensor (or a blob's bytes) */
	BS_F_CHUNK = 0x04,	/* a piece of the current tensor */
	BS_F_TEND = 0x05,	/* ends a tensor: its XXH3-128 */
	BS_F_FEND = 0x06,	/* ends a file: its size and SHA-256 */
	BS_F_INDEX = 0x07,	/* random-access index of the member */
	BS_F_END = 0x08,	/* ends a member; the fixed-size footer */
	BS_F_PARITY = 0x20,	/* Reed-Solomon parity (skippable) */
};
#define BS_FF_SKIPPABLE 0x01	/* readers that do not know the type skip it */

#define BS_FRAME_HEADER 28	/* fixed header bytes */
#define BS_FRAME_TRAILER 8	/* XXH3-64 of the payload */
#define BS_END_META 48		/* meta bytes of an END frame */
#define BS_FOOTER_SIZE (BS_FRAME_HEADER + BS_END_META + BS_FRAME_TRAILER)
#define BS_STREAM_VERSION 1
#define BS_MAX_META (1u << 20)		/* no meta block is larger */
#define BS_MAX_CHUNK (64u << 20)	/* no chunk's raw size is larger */
#define BS_MAX_NAME ((1u << 20) - 4096)	/* tensor names and paths, bytes */
#define BS_MAX_RANK 64
#define BS_MAX_ST_HEADER 100000000u	/* safetensors header limit */
#define BS_DEFAULT_CHUNK (1u << 20)

/* Kinds of a file record. */
enum { BS_FILE_SAFETENSORS = 1, BS_FILE_BLOB = 2, BS_FILE_REF = 3 };
/* Kinds of a tensor record. */
enum {
	BS_T_TENSOR = 0,	/* a tensor; chunks carry its bytes */
	BS_T_BLOB = 1,		/* a blob file's bytes (dtype BYTES) */
	BS_T_DELTA = 2,		/* chunks carry a residual against a base */
	BS_T_REF = 3,		/* identical to a base tensor; no chunks */
};
/* Chunk transforms (applied before the codec; undone after it). */
enum {
	BS_X_NONE = 0,
	BS_X_XOR = 1,		/* residual = value XOR base, per element */
	BS_X_SUB = 2,		/* residual = value - base, per element, mod 2^bits */
};
#define BS_SIZE_UNKNOWN UINT64_MAX	/* blob size not known in advance */

struct bs_stream_info {		/* STREAM */
	uint16_t version;		/* BS_STREAM_VERSION */
	uint32_t chunk_size;		/* nominal chunk size of the writer */
	char writer[64];		/* program and version, NUL-terminated */
};
struct bs_file_info {		/* FILE; payload = safetensors prefix */
	uint8_t kind;			/* BS_FILE_* */
	uint64_t size;			/* whole file, or BS_SIZE_UNKNOWN */
	uint32_t path_len;
	const char *path;		/* not NUL-terminated; points into the frame */
};
struct bs_tensor_info {		/* TENSOR */
	uint8_t kind;			/* BS_T_* */
	uint8_t dtype;			/* BS_DT_* */
	uint8_t rank;
	uint64_t size;			/* raw bytes, or BS_SIZE_UNKNOWN for blobs */
	uint64_t shape[BS_MAX_RANK];
	uint32_t name_len;
	const char *name;		/* points into the frame */
	/* BS_T_DELTA and BS_T_REF: the base tensor the record was made against */
	struct bs_hash128 base_hash;
	uint32_t base_name_len;
	const char *base_name;
};
struct bs_chunk_info {		/* CHUNK; payload = coded bytes */
	uint8_t codec;			/* BS_C_* */
	uint8_t transform;		/* BS_X_* */
	uint32_t raw_len;		/* bytes after decoding */
	uint64_t offset;		/* of the chunk in the tensor */
};
struct bs_tend_info {		/* TEND */
	uint64_t size;			/* raw bytes of the tensor */
	uint32_t chunks;
	struct bs_hash128 hash;		/* XXH3-128 of the raw bytes */
};
struct bs_fend_info {		/* FEND */
	uint64_t size;
	uint8_t sha256[32];
};
struct bs_end_info {		/* END */
	uint64_t member_len;		/* bytes from STREAM through END */
	uint64_t index_offset;		/* INDEX frame from member start; 0: none */
	uint64_t index_len;		/* bytes of the INDEX frame */
	uint64_t files, tensors, raw_bytes;
};

/* One frame as read.  All pointers point into bytes[], which the frame owns. */
struct bs_frame {
	uint8_t type, flags;
	uint64_t offset;		/* of the frame's first byte in the input */
	uint64_t number;		/* frame number in the input, from 0 */
	uint8_t *bytes;			/* the whole frame: header..trailer */
	size_t size;
	const uint8_t *meta;
	uint32_t meta_len;
	const uint8_t *payload;
	uint64_t payload_len;
	int unchecked;			/* payload checksum left to bs_frame_check() */
	union {
		struct bs_stream_info stream;
		struct bs_file_info file;
		struct bs_tensor_info tensor;
		struct bs_chunk_info chunk;
		struct bs_tend_info tend;
		struct bs_fend_info fend;
		struct bs_end_info end;
	} u;
};
void bs_frame_free(struct bs_frame *f);	/* frees f->bytes, and f */
/* Check the payload checksum of a frame read unchecked: 0 or BS_ECHECKSUM
 * (0 for a frame the reader checked). */
int bs_frame_check(const struct bs_frame *f);

/* The sync marker, every frame's first four bytes. */
extern const uint8_t bs_sync[4];
/* Parse a 28-byte frame header at p.  Checks sync and header checksum.
 * Returns 0 and fills type, flags, meta_len, payload_len; or BS_ECORRUPT
 * with a short reason in *why. */
int bs_frame_header_parse(const uint8_t *p, uint8_t *type, uint8_t *flags,
    uint32_t *meta_len, uint64_t *payload_len, const char **why);
/* Parse the meta block of a known frame into f->u.  BS_ECORRUPT with *why. */
int bs_frame_meta_parse(struct bs_frame *f, const char **why);
/* Name of frame type t ("CHUNK"), or "unknown" */
const char *bs_ftype_name(int t);

/* ---------------------------------------------------------------- reader */

/*
 * A reader reads frames sequentially from a file descriptor and checks
 * everything that can be checked without decoding: sync, header, meta and
 * payload checksums, meta fields, and the grammar of the stream (bs-stream(5),
 * "Grammar"): chunks in order and tiling their tensor, tensors inside files
 * matching the file's header, every member closed by END.  It never seeks.
 */
struct bs_reader;
/* name is used in messages ("<stdin>" for standard input). */
struct bs_reader *bs_reader_open_fd(int fd, const char *name);
/* Open a file by path ("-" is standard input). NULL on failure with errno. */
struct bs_reader *bs_reader_open(const char *path);
/* Read the next frame into a new *fp, which the caller frees with
 * bs_frame_free().  Returns 0, BS_EOF after a complete last member, or an
 * error.  Unknown skippable frames are returned too (type not known). */
int bs_reader_next(struct bs_reader *r, struct bs_frame **fp);
const char *bs_reader_errmsg(const struct bs_reader *r);
const char *bs_reader_name(const struct bs_reader *r);
uint64_t bs_reader_offset(const struct bs_reader *r);	/* bytes consumed */
/* The current tensor record of the reader (while inside TENSOR..TEND), or
 * NULL.  Valid until the next call. */
const struct bs_tensor_info *bs_reader_tensor(const struct bs_reader *r);
/* The safetensors header of the current file record (when inside a
 * safetensors FILE..FEND), or NULL. */
const struct bs_st *bs_reader_st(const struct bs_reader *r);
/* The current file record (inside FILE..FEND), or NULL. */
const struct bs_file_info *bs_reader_file(const struct bs_reader *r);
void bs_reader_close(struct bs_reader *r);	/* closes the fd unless stdin */
/* From now on leave the payload checksum of CHUNK frames unchecked (the
 * frame's 'unchecked' set): the caller checks it with bs_frame_check(),
 * on another thread.  Everything else is checked as before. */
void bs_reader_defer_chunk_checks(struct bs_reader *r);

/* ---------------------------------------------------------------- writer */

/*
 * A writer writes frames sequentially, computing every checksum, and keeps
 * the member's index, which bs_writer_end() writes before END.  It checks
 * nothing about the grammar: a program that writes frames writes them in
 * order.  Writes survive short writes and EINTR.
 */
struct bs_writer;
struct bs_writer *bs_writer_open_fd(int fd, const char *name);
/* Write the STREAM frame starting a member. */
int bs_writer_stream(struct bs_writer *w, uint32_t chunk_size);
int bs_writer_file(struct bs_writer *w, const struct bs_file_info *fi,
    const void *prefix, size_t prefix_len);
int bs_writer_tensor(struct bs_writer *w, const struct bs_tensor_info *ti);
int bs_writer_chunk(struct bs_writer *w, const struct bs_chunk_info *ci,
    const void *payload, size_t len);
/* The same with the payload's XXH64 already computed (on another thread). */
int bs_writer_chunk_hashed(struct bs_writer *w, const struct bs_chunk_info *ci,
    const void *payload, size_t len, uint64_t xxh64);
int bs_writer_tend(struct bs_writer *w, const struct bs_tend_info *te);
int bs_writer_fend(struct bs_writer *w, const struct bs_fend_info *fe);
/* Write the INDEX frame and the END frame closing the member. */
int bs_writer_end(struct bs_writer *w);
/* Copy a frame read elsewhere, byte for byte (the index notes it). */
int bs_writer_copy(struct bs_writer *w, const struct bs_frame *f);
/* Write a frame of any type with the given meta and payload. */
int bs_writer_frame(struct bs_writer *w, uint8_t type, uint8_t flags,
    const void *meta, uint32_t meta_len, const void *payload, uint64_t len);
uint64_t bs_writer_offset(const struct bs_writer *w);	/* bytes written */
const char *bs_writer_errmsg(const struct bs_writer *w);
/* Frees w; does not close the fd. */
void bs_writer_free(struct bs_writer *w);

/* ----------------------------------------------------------------- index */

/* One entry of an INDEX frame: a file record or a tensor record. */
struct bs_index_entry {
	uint8_t type;			/* BS_F_FILE or BS_F_TENSOR */
	uint8_t kind;			/* BS_FILE_* or BS_T_* */
	uint8_t dtype;
	uint64_t offset;		/* of the record's first frame, from member start */
	uint64_t length;		/* through its FEND or TEND */
	uint64_t size;			/* raw bytes */
	uint32_t name_len;
	char *name;			/* malloc'd, NUL-terminated too */
};
struct bs_index {
	size_t n, cap;
	struct bs_index_entry *e;
};
/* Parse an INDEX payload.  Returns 0 or BS_ECORRUPT with *why. */
int bs_index_parse(const uint8_t *p, uint64_t len, uint64_t member_len,
    struct bs_index *ix, const char **why);
void bs_index_free(struct bs_index *ix);
/*
 * Read the index of the last member of a seekable file through its footer.
 * Sets *member_start.  Returns 0, BS_EUNSUPPORTED when the member has no
 * index or fd is not seekable, or an error with the message in e.
 */
int bs_index_read_fd(int fd, struct bs_index *ix, uint64_t *member_start,
    struct bs_err *e);

/* ----------------------------------------------------------- safetensors */

struct bs_st_tensor {
	char *name;			/* malloc'd; may contain NUL bytes */
	uint32_t name_len;
	uint8_t dtype;
	uint8_t rank;
	uint64_t shape[BS_MAX_RANK];
	uint64_t begin, end;		/* data_offsets, relative to the data */
};
struct bs_st {
	uint64_t header_len;		/* N, the JSON bytes */
	uint64_t data_len;		/* bytes after 8 + N */
	size_t n;			/* tensors, sorted by begin (ties: header order) */
	struct bs_st_tensor *t;
	int has_metadata;
};
/*
 * Parse and check a safetensors header: json[len] is the JSON after the
 * 8-byte length; file_size is the whole file's size, or BS_SIZE_UNKNOWN
 * when not known (a pipe), in which case the data length is taken from the
 * offsets.  Enforces every rule of bs-split(1) "SAFETENSORS RULES".
 * Returns 0 and fills *st, or BS_ECORRUPT/BS_EUNSUPPORTED with e->msg.
 */
int bs_st_parse(const uint8_t *json, uint64_t len, uint64_t file_size,
    struct bs_st *st, struct bs_err *e);
void bs_st_free(struct bs_st *st);

/* ---------------------------------------------------------------- codecs */

enum bs_codec_id {
	BS_C_NONE = 0,
	BS_C_ZSTD = 1,
	BS_C_BF16 = 2,
	BS_C_F16 = 3,
	BS_C_F32 = 4,
	BS_C_F8 = 5,
	BS_C_MAX = 32,
};

/*
 * A codec codes one chunk of one dtype.  encode writes at most cap bytes
 * and returns the coded length, or 0 when it cannot make the chunk smaller
 * than cap (the caller then falls back), or a negative error.  decode must
 * produce exactly raw_len bytes or return BS_ECORRUPT; it never reads or
 * writes outside its buffers, whatever the input.  Both are thread-safe.
 */
struct bs_codec {
	const char *name;
	uint8_t id;
	/* can this codec code dtype d at all? */
	int (*accepts)(int dtype);
	long (*encode)(int dtype, const uint8_t *raw, size_t raw_len,
	    uint8_t *out, size_t cap, int level);
	int (*decode)(int dtype, const uint8_t *in, size_t in_len,
	    uint8_t *out, size_t raw_len);
	/* bytes encode would write, estimated from a histogram (one pass,
	 * no coding), for a chunk of which raw is a sample of 1/scale
	 * (scale >= 1: the entropy scales, the table's cost does not); NULL
	 * where the codec has no estimate */
	double (*estimate)(int dtype, const uint8_t *raw, size_t raw_len,
	    double scale);
};
#define BS_LEVEL_DEFAULT 3
#define BS_LEVEL_TRY_ZSTD 10	/* from this level zstd is tried beside the specialised codec */
#define BS_LEVEL_TRY_ALL 7	/* from this level candidates are coded, not estimated */
const struct bs_codec *bs_codec_by_id(int id);
const struct bs_codec *bs_codec_by_name(const char *name);
/* All codecs, NULL-terminated. */
extern const struct bs_codec *const bs_codecs[];

/*
 * Encode one chunk choosing the codec: the specialised codec for dtype at
 * level (1 fast .. 19 thorough), zstd, and none as the floor; the result
 * is never larger than raw_len.  A residual chunk (transform other than
 * BS_X_NONE) of a dtype the delta codec takes has the delta codec as a
 * candidate too: below BS_LEVEL_TRY_ALL the estimates choose which of the
 * two codes it, from there both code and the smaller wins.  out must hold
 * raw_len bytes.  Returns the coded length and sets *codec.
 */
long bs_chunk_encode(int dtype, int transform, const uint8_t *raw,
    size_t raw_len, uint8_t *out, int level, const char *force_codec,
    uint8_t *codec);
/* The specialised codec of a dtype (the float codecs), or NULL. */
const struct bs_codec *bs_codec_for_dtype(int dtype);
/* Codec c's estimate (bytes) for a chunk of raw_len bytes, judged from
 * sample (sample_len bytes of it, a sample as bs_sample_copy takes one, or
 * the whole chunk) and scaled up; -1 when c is NULL or has no estimate. */
double bs_codec_estimate(const struct bs_codec *c, int dtype,
    const uint8_t *sample, size_t sample_len, size_t raw_len);
/* Estimates look at a sample of a chunk: its first BS_SAMPLE_BLOCK bytes
 * of every bs_sample_stride(len) (= BS_SAMPLE_BLOCK when the sample is the
 * whole chunk).  bs_sample_copy copies the sample of src (len bytes) to dst
 * (room for len bytes, or len / 2 + BS_SAMPLE_BLOCK when the stride is
 * larger than a block) and returns its length. */
#define BS_SAMPLE_BLOCK 4096
size_t bs_sample_stride(size_t len);
size_t bs_sample_copy(uint8_t *dst, const uint8_t *src, size_t len);
/* The first block bytes of every stride bytes of src (len bytes) to dst;
 * returns the length copied (at most len / stride * block + block). */
size_t bs_copy_blocks(uint8_t *dst, const uint8_t *src, size_t len,
    size_t block, size_t stride);
/* The raw bytes of CHUNK frame f of a tensor of dtype: its payload when
 * the chunk is raw, else the payload decoded into buf (raw_len bytes).
 * NULL with *rc set when it does not decode. */
const uint8_t *bs_chunk_raw(const struct bs_frame *f, int dtype, uint8_t *buf,
    int *rc);
/* Decode one chunk; returns 0 or BS_ECORRUPT/BS_EUNSUPPORTED. */
int bs_chunk_decode(int codec, int dtype, const uint8_t *in, size_t in_len,
    uint8_t *out, size_t raw_len);

/* ------------------------------------------------------------------ scan */

/*
 * Entropy bounds of a tensor's values, for bs-info --scan and make bench.
 * Feed the raw bytes in order (any split), then read the bounds in bits:
 *   order0: H(e) + the other bits stored as they are (the exponent coded
 *           alone, order 0);
 *   joint:  H(s,e) + H(m|s,e) (the mantissa, or for F32 its top byte,
 *           modelled given sign and exponent; F32's low 15 bits stored).
 * Float dtypes BF16, F16, F32 and the F8s; others get order-0 byte entropy
 * for both.  Plug-in (empirical) entropies, per tensor.
 */
struct bs_scan;
struct bs_scan *bs_scan_new(int dtype);
void bs_scan_update(struct bs_scan *s, const uint8_t *p, size_t n);
/* Bounds in bits for everything fed so far. */
void bs_scan_bounds(const struct bs_scan *s, double *order0, double *joint);
void bs_scan_free(struct bs_scan *s);

/* ------------------------------------------------------------------ pool */

/*
 * An ordered work pool: jobs are submitted in order, run on n threads, and
 * taken back in the order they were submitted.  Each job comes with its
 * weight, the bytes it holds (input and output buffers); the pool is full
 * when the jobs in flight hold the budget or more, or when BS_POOL_JOBS x n
 * are in flight, which bounds memory.  With n <= 1 jobs run in the caller;
 * with more, on n - 1 worker threads and on the caller while it waits in
 * bs_pool_take (so jobs may run on the caller's thread either way).
 */
struct bs_pool;
typedef void (*bs_pool_fn)(void *job);
/* The jobs in flight per thread at most: many, so that small tensors
 * queue up behind a large one and keep the workers busy. */
#define BS_POOL_JOBS 128
/* The budget the programs give for n threads: 12 MiB a thread (about
 * eight chunks of 1 MiB with their output, enough that the reading and
 * writing thread rarely waits for one slow chunk), but 48 MiB in all, or
 * 3 MiB a thread beyond 16 (memory stays bounded with -T); 1 with one
 * thread (each job taken back as soon as it is done). */
uint64_t bs_pool_budget(int threads);
struct bs_pool *bs_pool_new(int threads, uint64_t budget, bs_pool_fn fn);
/* Submit a job holding weight bytes; run says whether fn applies (0: pass
 * through in order).  Never blocks; call bs_pool_full() first. */
void bs_pool_submit(struct bs_pool *p, void *job, int run, uint64_t weight);
int bs_pool_full(const struct bs_pool *p);
int bs_pool_empty(const struct bs_pool *p);
/* The oldest job, once it is done (blocks). NULL when empty. */
void *bs_pool_take(struct bs_pool *p);
void bs_pool_free(struct bs_pool *p);
/* Number of online processors. */
int bs_ncpu(void);

/* ------------------------------------------------------------ transcoding */

/*
 * Read every frame of r and write the stream again to w, coding each chunk
 * with fn on `threads` threads (output in order), checking every tensor's
 * XXH3-128 against its TEND as the chunks come back raw.  Members map to
 * members; INDEX frames are rebuilt; PARITY frames are dropped (they no
 * longer describe the bytes).  Used by bs-encode and bs-decode.
 */
struct bs_chunk_job {
	struct bs_frame *in;		/* the CHUNK frame read */
	int dtype;			/* of its tensor */
	uint8_t *out;			/* coded or decoded bytes, malloc'd */
	size_t out_len;
	uint8_t codec, transform;	/* of out */
	uint64_t out_hash;		/* XXH64 of out (bs_transcode sets it) */
	const uint8_t *raw;		/* the raw bytes (in or out), for hashing */
	int err;			/* BS_E* from fn */
	char errmsg[160];
	void *ctx;			/* the program's */
	void (*fn)(struct bs_chunk_job *);	/* set by bs_transcode */
	struct bs_tensor_hash *th;	/* bs_transcode's: the tensor's hash */
	uint64_t seq;			/* the chunk's place in its tensor */
};
struct bs_transcode_stats {
	uint64_t frames, tensors, blobs, chunks, raw_bytes, in_bytes, out_bytes;
};
int bs_transcode(struct bs_reader *r, struct bs_writer *w, int threads,
    void (*fn)(struct bs_chunk_job *), void *ctx,
    struct bs_transcode_stats *st, struct bs_err *e);

/* -------------------------------------------------------- model sources */

/*
 * Turn a model into raw frames on w: a safetensors file, a folder of files
 * (recursively, sorted by path, hidden entries skipped), or a safetensors
 * file read from fd (path "-", named stdin_name in the stream).  Tensors are
 * cut into chunks of chunk_size bytes.  Returns 0 or an error with e->msg
 * naming the file.  Writes STREAM .. END.
 */
struct bs_split_opts {
	uint32_t chunk_size;
	const char *stdin_name;		/* file name for a stream read from stdin */
	void (*progress)(uint64_t bytes, void *arg);
	void *progress_arg;
};
int bs_split(const char *path, struct bs_writer *w,
    const struct bs_split_opts *o, struct bs_err *e);
/* The same for one file read from fd, named name in the stream; size is
 * BS_SIZE_UNKNOWN on a pipe.  Writes STREAM .. END. */
int bs_split_fd(int fd, const char *name, uint64_t size, struct bs_writer *w,
    const struct bs_split_opts *o, struct bs_err *e);

/*
 * The files of a model folder as bs_split takes them: every regular file
 * under dir, as paths relative to it ('/' between components), sorted by
 * strcmp, entries whose name starts with '.' skipped, symbolic links
 * followed (so a Hugging Face cache snapshot, all links, reads as its
 * files; a folder met again below itself is passed over).  *names and
 * each name are malloc'd: free them with bs_folder_files_free.  Returns 0,
 * or BS_EIO (e->msg names the entry) / BS_ENOMEM.
 */
int bs_folder_files(const char *dir, char ***names, size_t *n,
    struct bs_err *e);
void bs_folder_files_free(char **names, size_t n);

/*
 * The splitter under bs_split, for sources that are not files (archive
 * members, HTTP bodies): the caller writes STREAM with bs_writer_stream(),
 * adds files one by one, and ends the member with bs_writer_end().
 * A source reads up to n bytes into p: returns the count, 0 at its end, -1
 * on error with errno set.
 */
typedef ssize_t (*bs_read_fn)(void *arg, void *p, size_t n);
ssize_t bs_read_fd(void *arg, void *p, size_t n);	/* arg: int *fd */
struct bs_splitter;
/* NULL when out of memory.  Errors of later calls go to e. */
struct bs_splitter *bs_splitter_new(struct bs_writer *w,
    const struct bs_split_opts *o, struct bs_err *e);
/* Add one file: rel is its path in the stream (safetensors when it ends in
 * .safetensors, else a blob), display its name in messages, size its
 * length or BS_SIZE_UNKNOWN.  Returns 0 or an error with e->msg. */
int bs_splitter_add(struct bs_splitter *s, bs_read_fn rd, void *arg,
    const char *rel, const char *display, uint64_t size);
void bs_splitter_free(struct bs_splitter *s);

/* ---------------------------------------------------------- program side */

/* Everything below prints and exits: for cmd/ only. */

/* Option kinds and what dest points to: FLAG int (counts), INT long long,
 * STR const char *, SIZE long long (bytes, "4M"), LIST struct bs_strlist
 * (repeatable). */
enum bs_optkind { BS_OPT_FLAG, BS_OPT_INT, BS_OPT_STR, BS_OPT_SIZE, BS_OPT_LIST };
struct bs_strlist {
	size_t n;
	const char **v;
};
struct bs_opt {
	char shortname;			/* 0 if none */
	const char *longname;		/* NULL ends a table */
	enum bs_optkind kind;
	void *dest;			/* int*, long long*, const char**, ... */
	const char *argname;		/* "N", "FILE"; NULL for flags */
	const char *help;
	const char *complete;		/* "file", "dir", "codec" or NULL */
};
struct bs_prog {
	const char *name;
	const char *synopsis;		/* after the name: "[-T N] [FILE]" */
	const char *summary;		/* one line */
	const struct bs_opt *opts;
	int min_args, max_args;		/* operands; max -1 = any */
	const char *(*version_extra)(void);	/* more libraries for --version */
};
extern int bs_verbose;			/* -v count; -1 with -q */
extern const char *bs_progname;
extern int bs_saw_epipe;		/* a write failed with EPIPE: exit quietly */
/* Set by a reader whose input ended early (empty, or cut inside a member)
 * in a downstream stage of a bs_pipeline (BS_PIPELINE_DOWNSTREAM in the
 * environment): the stage before failed and said why, so bs_die exits
 * BS_EXIT_UPSTREAM without a second message, and bs_pipeline_run sorts it
 * out (a status users never see). */
extern int bs_upstream_failed;
#define BS_PIPELINE_ENV "BS_PIPELINE_DOWNSTREAM"
#define BS_EXIT_UPSTREAM 3

/* Set the program name, signal policy (SIGPIPE ignored: EPIPE is an
 * error; SIGINT/SIGTERM remove registered outputs and exit). */
void bs_proginit(int argc, char *argv[], const char *name);
/* Parse options from the table (plus -h, -V, -q, -v, and the hidden
 * --list-options for the completion generator).  Exits 2 on misuse.
 * Leaves the operands in argc and argv (argv NULL-terminated). */
void bs_parse_args(const struct bs_prog *p, int *argc, char ***argv);
void bs_usage(const struct bs_prog *p, FILE *f);
__attribute__((noreturn, format(printf, 2, 3)))
void bs_die(int status, const char *fmt, ...);
__attribute__((format(printf, 1, 2)))
void bs_warn(const char *fmt, ...);		/* not with -q */
/* An error that does not end the program (several inputs): always printed. */
__attribute__((format(printf, 1, 2)))
void bs_error(const char *fmt, ...);
__attribute__((format(printf, 1, 2)))
void bs_info(const char *fmt, ...);		/* only with -v */
/* Flush and close stdout, checking late write errors; returns status. */
int bs_finish(int status);
/* Exit 2 unless fd is not a terminal (binary output) or force is set. */
void bs_refuse_tty(int fd, int force, const char *what);
/* A printable copy of a name from a stream (control characters and NUL
 * as \xNN, cut after max bytes with "..."), malloc'd. */
char *bs_printable(const char *p, size_t n, size_t max);
/* The characters of s (UTF-8), as a terminal column counts them. */
int bs_text_width(const char *s);
/* Print s on stdout padded with spaces to width characters (UTF-8). */
void bs_put_column(const char *s, int width);
/* Whether fds a and b are the same regular file (a copy of a file onto
 * itself, as `cat f >> f`, would never end). */
int bs_same_file(int a, int b);

/* Parse "4M", "2G", "1048576" into bytes; -1 on error. */
long long bs_parse_size(const char *s);

/* Outputs that appear by rename: open a temporary file next to path;
 * bs_output_commit() renames it into place; bs_output_abort() removes it.
 * Uncommitted outputs are removed at exit and on SIGINT/SIGTERM. */
struct bs_output;
struct bs_output *bs_output_open(const char *path);	/* NULL, errno */
int bs_output_fd(const struct bs_output *o);
int bs_output_commit(struct bs_output *o);		/* -1, errno */
void bs_output_abort(struct bs_output *o);

/* The output of a program that writes a stream or a file: path NULL or
 * "-" is standard output (refused on a terminal unless force); any other
 * path is a bs_output, renamed into place by bs_out_close(o, 1).  Returns
 * the fd to write.  Exits 2 on failure. */
int bs_out_open(const char *path, int force, struct bs_output **o);
/* Commit the output (ok) or remove it; exits 2 when the commit fails. */
void bs_out_close(struct bs_output *o, const char *path, int ok);

/* A program that runs others notes each child it starts, and forgets them
 * once waited for: SIGINT, SIGTERM and SIGHUP are passed on to them. */
/* fn (async-signal-safe: unlink, rmdir) runs on SIGINT, SIGTERM and SIGHUP
 * after the outputs are removed, before the signal takes its course. */
void bs_on_signal(void (*fn)(void));
void bs_child_started(pid_t pid);
void bs_children_done(void);

/* Write all n bytes to fd, surviving short writes and EINTR; -1 on error. */
int bs_write_all(int fd, const void *p, size_t n);
/* Read up to n bytes (fewer only at end of file); -1 on error. */
ssize_t bs_read_full(int fd, void *p, size_t n);

/* A progress line on stderr when it is a terminal and not -q. */
struct bs_progress;
struct bs_progress *bs_progress_new(const char *what, uint64_t total);
void bs_progress_update(struct bs_progress *p, uint64_t done);
void bs_progress_end(struct bs_progress *p);

/* Monotonic seconds. */
double bs_now(void);

void *bs_xmalloc(size_t n);	/* exits 2 on failure: cmd/ only */

/* ------------------------------------------------------ fetch (bs-fetch) */

/*
 * Additions to the sections above, for bs-fetch (new names only).
 */
/*
 * Write one tensor record (TENSOR, raw chunks, TEND) outside any file
 * record, reading its ti->size bytes from fd.  Returns 0 or an error.
 */
int bs_split_tensor_fd(int fd, const struct bs_tensor_info *ti,
    struct bs_writer *w, const struct bs_split_opts *o, struct bs_err *e);
/*
 * bs_index_read_fd() on any random-access source of `size` bytes:
 * read_at(arg, buf, n, off) reads exactly n bytes at off and returns 0, or
 * -1 (errno set).  Same results and messages as bs_index_read_fd().
 */
int bs_index_read_at(uint64_t size,
    int (*read_at)(void *arg, void *buf, size_t n, uint64_t off), void *arg,
    struct bs_index *ix, uint64_t *member_start, struct bs_err *e);

/*
 * HTTP(S) client (libcommon/http.c, libcurl; only bs-fetch links it).
 * One handle keeps one connection alive across requests; it is not for
 * two threads at once.
 */
struct bs_http;
struct bs_http_opts {
	int retries;			/* attempts after the first without progress */
	double max_wait;		/* cap on one wait between attempts, seconds */
	double stall;			/* seconds without a byte before an attempt fails */
	const char *token;		/* bearer token, or NULL; never logged */
	const char *token_prefix;	/* send the token only to URLs starting so */
	void (*log)(const char *msg, void *arg);	/* what happens, for -v */
	void *log_arg;
};
/* NULL on failure with e->msg.  o is copied (its strings are not). */
struct bs_http *bs_http_new(const struct bs_http_opts *o, struct bs_err *e);
void bs_http_free(struct bs_http *h);
/* libarchive's version, for bs-split --version (archive.c). */
const char *bs_archive_version(void);
/* liberasurecode's version, for bs-ecc --version (ecc.c). */
const char *bs_ecc_version(void);
/* Libcurl's version line, for --version. */
const char *bs_http_version(void);

struct bs_http_result {
	int status;			/* last HTTP status seen (404 ...), 0: none */
	uint64_t total;			/* size of the whole resource, or BS_SIZE_UNKNOWN */
	uint64_t start;			/* offset of the first byte delivered */
	uint64_t got;			/* bytes delivered */
	char sha256[65];		/* announced by the server (X-Linked-Etag,
					 * or ETag of 64 hex digits), or "" */
	int attempts;			/* requests made */
};
/* Receives the bytes in order, each once; returns 0 or a negative BS_E*
 * code with e->msg set, which stops the transfer and is returned. */
typedef int (*bs_http_sink)(void *arg, const void *p, size_t n, struct bs_err *e);
/*
 * Fetch bytes [off, off + len) of url (len BS_SIZE_UNKNOWN: through the
 * end) into sink.  Follows redirects; retries connection failures,
 * timeouts, 429 and 5xx answers with exponential backoff (honouring
 * Retry-After, capped by max_wait) and resumes with a Range request where
 * the last attempt stopped; checks that a 206 answer starts where it was
 * asked and skips what a 200 answer repeats; a 416 answer for off equal to
 * the size is an empty success.  Returns 0, BS_EIO for network or HTTP
 * failure (res->status says which; 404 is not retried), or the sink's code.
 */
int bs_http_get(struct bs_http *h, const char *url, uint64_t off, uint64_t len,
    bs_http_sink sink, void *arg, struct bs_http_result *res, struct bs_err *e);
/* The same for the last n bytes (fewer when the resource is smaller);
 * res->total and res->start say where they lie. */
int bs_http_tail(struct bs_http *h, const char *url, uint64_t n,
    bs_http_sink sink, void *arg, struct bs_http_result *res, struct bs_err *e);

/* ---------------------------------------------------------- resynchronising */

/*
 * After bs_reader_next() failed with bad data (not BS_EIO or BS_ENOMEM),
 * scan forward for the next sync marker whose header check holds, from the
 * second byte of the frame that failed (or from the frame after one that
 * broke the grammar), and go on from the next intact frame that can start
 * a record: STREAM, FILE, TENSOR, INDEX or END.  Intact CHUNK, TEND and FEND
 * frames of the damaged record are passed over: the record is lost.  A
 * TENSOR of the open safetensors file resumes that file; the END of a
 * damaged member is not checked against its lengths and counts.  Returns 0
 * and the frame as bs_reader_next() would (the caller frees it), BS_EOF when
 * the input ends first, or BS_EIO/BS_ENOMEM.  Fills *ri either way.  The
 * reader never seeks: bytes read ahead are kept and read again.
 */
struct bs_resync_info {
	uint64_t from;			/* offset where the damage starts */
	uint64_t to;			/* offset of the frame resumed at (or the end) */
	uint64_t bytes;			/* to - from: bytes passed over */
	uint64_t frames;		/* intact frames passed over */
	uint64_t records, files;	/* of them, TEND and FEND frames of
					 * records and files whose start was
					 * lost (not those open at the damage) */
	int cut;			/* input ended inside a member */
	int file_kept;			/* the frame resumed at goes on with the open file */
};
int bs_reader_resync(struct bs_reader *r, struct bs_frame **fp,
    struct bs_resync_info *ri);
/* Files whose FILE frame a resynchronisation lost while their entries were
 * read on (as bare ones): their FEND frames were passed over. */
uint64_t bs_reader_lost_files(const struct bs_reader *r);

/* ----------------------------------------------------------------- delta */

/* Codec of 16-bit residuals (codec_delta.c), written by bs-delta itself. */
#define BS_C_DELTA 6

/*
 * Residuals of a tensor against a base tensor of the same dtype and shape
 * (bs-delta, bs-patch).  Transforms are BS_X_*: XOR (bytewise, any dtype),
 * SUB (element minus base element, modulo 2^bits, little-endian integers of
 * the dtype's width: whole-byte dtypes only), NONE (the values themselves).
 */
/* Whether transform x applies to a chunk of n bytes at offset in a tensor
 * of dtype: SUB needs 8/16/32/64-bit elements and a chunk that starts and
 * ends on an element.  Returns 1 or 0. */
int bs_delta_transform_ok(int x, int dtype, uint64_t offset, size_t n);
/* out = residual of val against base (n bytes each; out may be val).
 * Returns 0, or BS_EUSAGE/BS_EUNSUPPORTED for a transform that does not
 * apply. */
int bs_delta_forward(int x, int dtype, const uint8_t *val, const uint8_t *base,
    uint8_t *out, size_t n);
/* out = the values rebuilt from residual res and base (out may be res).
 * Returns 0, or BS_ECORRUPT/BS_EUNSUPPORTED for a transform that cannot
 * apply to this dtype or length. */
int bs_delta_inverse(int x, int dtype, const uint8_t *res, const uint8_t *base,
    uint8_t *out, size_t n);
/* Choose the transform for one chunk (n bytes at offset in its tensor) and
 * code it: of those that apply (XOR, SUB, NONE), the one whose bytes code
 * smallest as bs_chunk_encode would code them, judged by the codecs'
 * estimates below BS_LEVEL_TRY_ALL (then coded once, by the codec whose
 * estimate won) and by coding from there.  Below BS_LEVEL_TRY_ALL,
 * force_x >= 0 takes that transform and force_codec (a BS_C_*, BS_C_NONE
 * for raw) without estimating, as bs_delta_decide chose them for another
 * chunk of the tensor.  Writes the chosen residual to res and, when a codec
 * beats the raw length, its coded bytes to coded (n bytes each, the
 * caller's) with *codec and *coded_len; else *codec is BS_C_NONE.  Returns
 * the BS_X_* chosen, or BS_ENOMEM. */
int bs_delta_choose(int dtype, const uint8_t *val, const uint8_t *base,
    uint64_t offset, size_t n, int level, int force_x, int force_codec,
    uint8_t *res, uint8_t *coded, size_t *coded_len, uint8_t *codec);
/* The transform (*x) and codec (*codec) the estimates choose for one chunk,
 * as bs_delta_choose would below BS_LEVEL_TRY_ALL: 0; 1 when the dtype's
 * codecs have no estimate (nothing chosen); BS_ENOMEM. */
int bs_delta_decide(int dtype, const uint8_t *val, const uint8_t *base,
    uint64_t offset, size_t n, int *x, uint8_t *codec);

/*
 * A base model: a safetensors file, a model folder (safetensors files and
 * blobs, hidden entries skipped), or a bigsmall stream on disk (raw or
 * encoded; catalogued through its index when it has one, else by walking
 * its frames; a pipe is first copied to an unlinked temporary file).  Only
 * the catalogue is kept in memory; bytes are read on demand with pread,
 * a stream's chunks checked and decoded as they are read.  Not thread-safe.
 */
struct bs_model;
struct bs_model_entry {
	const char *name;		/* tensor name, or blob path; NUL-terminated too */
	uint32_t name_len;
	int blob;			/* 1: a blob file's bytes (dtype BYTES) */
	uint8_t dtype, rank;
	uint64_t shape[BS_MAX_RANK];
	uint64_t size;			/* raw bytes */
};
/* Open and catalogue path.  Returns 0 and a new *m (free with
 * bs_model_close), or an error with e->msg naming the file; a stream whose
 * tensors are themselves deltas is BS_EUNSUPPORTED. */
int bs_model_open(const char *path, struct bs_model **m, struct bs_err *e);
/* The same for a stream or safetensors file already open on fd (named name
 * in messages); fd is not closed, and is copied to a temporary file first
 * when it cannot seek. */
int bs_model_open_fd(int fd, const char *name, struct bs_model **m,
    struct bs_err *e);
/* Copy what remains of fd into an unlinked temporary file (in $TMPDIR, or
 * /tmp) and return the new fd, positioned at 0; -1 with e set on failure. */
int bs_spool_fd(int fd, const char *name, struct bs_err *e);
void bs_model_close(struct bs_model *m);
const char *bs_model_path(const struct bs_model *m);
size_t bs_model_count(const struct bs_model *m);
/* Entry i in catalogue order (files in path order, tensors in data order),
 * or NULL; valid until bs_model_close. */
const struct bs_model_entry *bs_model_entry_at(const struct bs_model *m, size_t i);
/* The tensor (blob 0) or blob (blob 1) of that name, or NULL; with a name
 * in two files, the one in the first file by path. */
const struct bs_model_entry *bs_model_find(const struct bs_model *m,
    const char *name, size_t len, int blob);
/* The same, preferring the entry in the base's file of that path (a model
 * of several parts, text_encoder/ and text_encoder_2/, repeats names):
 * how bs-delta pairs a tensor with its base, and bs-patch and bs-verify
 * find it again. */
const struct bs_model_entry *bs_model_find_in(const struct bs_model *m,
    const char *path, size_t path_len, const char *name, size_t len, int blob);
/* Read n bytes at off of entry t into buf.  Returns 0 or an error in e
 * (I/O, a damaged chunk of a stream). */
int bs_model_read(struct bs_model *m, const struct bs_model_entry *t,
    uint64_t off, void *buf, size_t n, struct bs_err *e);
/* Whether the base is a bigsmall stream (else safetensors files). */
int bs_model_is_stream(const struct bs_model *m);
/* bs_model_read of a base of safetensors files, without its cache: safe
 * on several threads at once (BS_EUSAGE for a stream). */
int bs_model_pread(const struct bs_model *m, const struct bs_model_entry *t,
    uint64_t off, void *buf, size_t n, struct bs_err *e);
/* A file of the base: its path, kind (BS_FILE_SAFETENSORS or BS_FILE_BLOB),
 * size, and its entries, first .. first + count - 1 in catalogue order
 * (a safetensors file's tensors in header order; a blob's one entry). */
struct bs_model_file {
	const char *path;		/* NUL-terminated too */
	uint32_t path_len;
	int kind;
	uint64_t size;
	size_t first, count;
};
/* How many entries of m have that name (files holding it). */
size_t bs_model_name_count(const struct bs_model *m, const char *name, size_t len, int blob);
/* The index of entry t of m (as bs_model_entry_at counts). */
size_t bs_model_entry_index(const struct bs_model *m, const struct bs_model_entry *t);
/* The file entry t of m is in (NULL for none). */
const struct bs_model_file *bs_model_entry_file(const struct bs_model *m,
    const struct bs_model_entry *t);
/* The entry of m that pairs with entry t of model `of`: its name, in m's
 * file of the path of t's file when there are several (bs_model_find_in). */
const struct bs_model_entry *bs_model_find_entry(const struct bs_model *m,
    const struct bs_model *of, const struct bs_model_entry *t);
/* The base's file of that path, or NULL. */
const struct bs_model_file *bs_model_file_find(const struct bs_model *m,
    const char *path, size_t len);
/* The first 8 + N bytes of a safetensors file (its header), malloc'd into
 * *buf (NULL and 0 for a blob).  Returns 0 or an error in e. */
int bs_model_file_header(struct bs_model *m, const struct bs_model_file *f,
    uint8_t **buf, size_t *len, struct bs_err *e);
/* The SHA-256 of the whole file, from its header and its entries' bytes.
 * Returns 0 or an error in e. */
int bs_model_file_sha256(struct bs_model *m, const struct bs_model_file *f,
    uint8_t out[32], struct bs_err *e);
/* The XXH3-128 of entry t's raw bytes: from the stream's TEND, or computed
 * by reading the bytes once (then kept).  Returns 0 or an error in e. */
int bs_model_hash(struct bs_model *m, const struct bs_model_entry *t,
    struct bs_hash128 *h, struct bs_err *e);

/* ------------------------------------------------------------- pipelines */

/*
 * A pipeline of programs run as a `set -o pipefail` shell would run it:
 * stage i's stdout feeds stage i+1's stdin; the first stage may read a file
 * and the last write one (opened by the caller's process, like < and >).
 * Used by the bigsmall front end, which also prints it (bs_pipeline_print)
 * as shell text that does the same thing when pasted into bash.
 * Functions return 0 or a negative BS_E*; the pipeline owns copies of
 * every string given to it.
 */
struct bs_pipeline;
struct bs_pipeline *bs_pipeline_new(void);	/* NULL when out of memory */
void bs_pipeline_free(struct bs_pipeline *p);
/* Append a stage running argv (NULL-terminated; argv[0] the program). */
int bs_pipeline_add(struct bs_pipeline *p, const char *const argv[]);
/* The same with the words as arguments, ended by NULL (at most 63). */
int bs_pipeline_addl(struct bs_pipeline *p, const char *arg0, ...)
	__attribute__((sentinel));
/* Append one argument to the last stage (BS_EUSAGE when there is none). */
int bs_pipeline_arg(struct bs_pipeline *p, const char *arg);
/* Number of stages. */
size_t bs_pipeline_stages(const struct bs_pipeline *p);
/* Search dir for programs before PATH (NULL: PATH only). */
int bs_pipeline_dir(struct bs_pipeline *p, const char *dir);
/* Redirect the first stage's stdin from path / the last stage's stdout to
 * path (created or truncated); NULL: inherited. */
int bs_pipeline_stdin(struct bs_pipeline *p, const char *path);
int bs_pipeline_stdout(struct bs_pipeline *p, const char *path);
/* Append the last stage's stdout to path (>>), created if missing. */
int bs_pipeline_append(struct bs_pipeline *p, const char *path);
/* The file that would run for program name (dir first, then PATH), or NULL
 * when there is none.  malloc'd; the caller frees it. */
char *bs_pipeline_which(const struct bs_pipeline *p, const char *name);
/* Print the pipeline as one line of shell text: words quoted where a shell
 * would change them, programs by bare name when PATH finds the same file
 * as the pipeline would run, else by path.  0, BS_ENOMEM or BS_EIO. */
int bs_pipeline_print(const struct bs_pipeline *p, FILE *f);
/* Start every stage, wait for all of them.  Returns 0 when every stage
 * exited 0; else an error naming the last failed stage in e (BS_ECORRUPT
 * when it exited 1, BS_EIO otherwise: exit status 2+, a signal, a program
 * that could not be run, or a redirection that failed), or BS_ETRUNC when
 * a stage read an empty input from one that exited 0 (the only failure
 * no stage has reported). */
int bs_pipeline_run(struct bs_pipeline *p, struct bs_err *e);
/* After run: stage i's status as a shell reports it (exit code, 128+signal,
 * 127 not found); the pipeline's status: the last non-zero one, or 0. */
int bs_pipeline_status(const struct bs_pipeline *p, size_t i);
int bs_pipeline_exit_status(const struct bs_pipeline *p);
/* s quoted for a POSIX shell (unchanged when safe), malloc'd; NULL when
 * out of memory. */
char *bs_shell_quote(const char *s);

/* ------------------------------------------- resharding and archives */

/* Close the fd of an output (fsync first) without committing it: the
 * temporary file stays, registered for removal, and bs_output_commit()
 * later renames it (it skips the close).  Lets a program keep thousands of
 * finished outputs without holding their fds.  Returns 0, or -1 with errno. */
int bs_output_close_fd(struct bs_output *o);
/* Change the final name of an uncommitted output; path must name the same
 * folder as the one given to bs_output_open().  Returns 0, or -1 (ENOMEM). */
int bs_output_set_path(struct bs_output *o, const char *path);

/* One key/value pair of a safetensors __metadata__ object (bytes, not
 * NUL-terminated; the caller owns them). */
struct bs_st_kv {
	const char *key, *val;
	size_t key_len, val_len;
};
/*
 * Build a canonical safetensors header (stwrite.c) for the tensors t[0..n)
 * in that order: their data follow in the same order, so t[i].begin and
 * t[i].end are set here (from 0, no gaps).  The JSON has no white space but
 * its padding: {"__metadata__":{meta...},"name":{"dtype":"BF16","shape":[..],
 * "data_offsets":[b,e]},...}, __metadata__ only when nmeta > 0, its pairs in
 * the order given; strings escaped as bs_json_quote() does.  It is padded
 * with spaces so that 8 + its length is a multiple of 8.  Returns 0 and a
 * malloc'd *out (the caller frees it) of *out_len bytes: the 8-byte
 * little-endian length, then the JSON; or BS_ECORRUPT (a name or metadata
 * that is not UTF-8, a size that does not match), BS_ENOMEM, with e->msg.
 */
int bs_st_header_build(struct bs_st_tensor *t, size_t n,
    const struct bs_st_kv *meta, size_t nmeta, uint8_t **out,
    size_t *out_len, struct bs_err *e);
/* A JSON string literal for s[n], quotes included: " and \ escaped, other
 * bytes below 0x20 (NUL too) as \uXXXX, everything else (UTF-8) as is.
 * Returns a malloc'd NUL-terminated string of *len bytes, or NULL (no
 * memory). */
char *bs_json_quote(const char *s, size_t n, size_t *len);
/* 1 when s[n] is valid UTF-8 (no overlongs, no surrogates), else 0. */
int bs_utf8_valid(const char *s, size_t n);

/*
 * Split what fd holds (archive.c, libarchive; only bs-split links it): when
 * its content is an archive of a format and compression libarchive knows
 * (tar, zip, cpio, ... plain or gzip, zstd, xz, bzip2 ...), every regular
 * member in archive order, as bs_split() takes a folder: leading "./"
 * dropped, one top folder stripped (when the first entry is a folder with
 * one component), hidden paths, folders, fifos and devices skipped;
 * absolute or ".." paths, symbolic and hard links refused (BS_ECORRUPT),
 * and so is a path twice.  Otherwise fd is one safetensors file named name
 * in the stream.  display names the input in messages; size is the input's
 * size or BS_SIZE_UNKNOWN (a pipe).  *is_archive says which it was.
 * Writes STREAM .. END.  Returns 0 or an error with e->msg.
 */
int bs_split_archive_fd(int fd, const char *name, const char *display,
    uint64_t size, struct bs_writer *w, const struct bs_split_opts *o,
    int *is_archive, struct bs_err *e);

/* ------------------------------------------------------------------- ecc */

/*
 * Reed-Solomon parity over the bytes of a stream (bs-ecc(1); the PARITY
 * layout is in bs-stream(5)).  libcommon/ecc.c calls liberasurecode: a
 * program that uses these functions links -lerasurecode.
 */
#define BS_ECC_MIN_BLOCK 64u
#define BS_ECC_MAX_BLOCK (64u << 20)
#define BS_ECC_DEFAULT_K 16
#define BS_ECC_DEFAULT_M 2
#define BS_ECC_DEFAULT_BLOCK (1u << 20)
struct bs_ecc_params {
	unsigned k, m;			/* data and parity blocks per group */
	uint32_t block;			/* block size in bytes */
	int backend;			/* liberasurecode's ec_backend_id_t */
	int auto_block;			/* protecting: block is the largest; a member
					 * shorter than K blocks gets the smallest
					 * multiple of 64 KiB that holds it in K */
};
/* Backend name <-> id (only the two bs-ecc uses); "unknown" / 0. */
const char *bs_ecc_backend_name(int id);
int bs_ecc_backend_by_name(const char *name);
/* Is the backend usable here?  The default: isa_l_rs_cauchy when it is,
 * else liberasurecode_rs_vand. */
int bs_ecc_backend_available(int id);
int bs_ecc_backend_default(void);
/* Check that p makes sense and that its backend supports it: 0, or
 * BS_EUSAGE / BS_EUNSUPPORTED with the message in e. */
int bs_ecc_params_check(const struct bs_ecc_params *p, struct bs_err *e);

struct bs_ecc_stats {
	uint64_t data_bytes, parity_bytes, parity_frames, sessions, groups;
	uint64_t dropped;		/* PARITY frames of the input dropped */
};
/*
 * Read every frame of r and write, to out_fd, the same bytes with a parity
 * region after each member; or, when side_fd >= 0, nothing to out_fd and a
 * sidecar stream (STREAM, PARITY..., INDEX, END) to side_fd.  Inline,
 * PARITY frames of the input that stand outside members are dropped.
 * Memory: K*B bytes and one frame; the parity of the current member waits
 * in a temporary file.  out_name names the output (out_fd's, or the
 * sidecar's) in messages.  Returns 0 or an error with e->msg.
 */
int bs_ecc_protect(struct bs_reader *r, int out_fd, int side_fd,
    const char *out_name, const struct bs_ecc_params *p,
    struct bs_ecc_stats *st, struct bs_err *e);

/*
 * The analysis of a protected input: data[dlen] is the protected stream
 * (or, with side != NULL, the data file and side[slen] its sidecar).
 * Finds the intact PARITY frames, locates every data block by its hash,
 * and with rebuild set rebuilds the lost ones.  The caller keeps the
 * buffers alive until bs_ecc_free().  Returns 0 with *out set (see
 * bs_ecc_state), or an error with e->msg (no parity found, backend not
 * available, out of memory); *out is then freed by the caller too.
 */
struct bs_ecc;
int bs_ecc_analyse(const uint8_t *data, uint64_t dlen, const uint8_t *side,
    uint64_t slen, int rebuild, struct bs_ecc **out, struct bs_err *e);
/* 0 clean, 1 damaged but repairable (repaired with rebuild), 2 not. */
int bs_ecc_state(const struct bs_ecc *x);
/* The report: one line per finding (damage, rebuilt ranges, losses). */
size_t bs_ecc_nlines(const struct bs_ecc *x);
const char *bs_ecc_line(const struct bs_ecc *x, size_t i);
uint64_t bs_ecc_length(const struct bs_ecc *x);	/* original bytes */
size_t bs_ecc_members(const struct bs_ecc *x);	/* sessions found */
/* Write the original bytes (state <= 1 and rebuilt); 0 or BS_EIO. */
int bs_ecc_write(const struct bs_ecc *x, int fd, struct bs_err *e);
/* Print where each data block and parity frame lies (bs-ecc --list). */
int bs_ecc_list(const struct bs_ecc *x, FILE *f);
void bs_ecc_free(struct bs_ecc *x);

#endif
