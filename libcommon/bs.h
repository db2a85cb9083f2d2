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
#define BS_MAX_NAME (1u << 16)		/* tensor names and paths */
#define BS_MAX_RANK 64
#define BS_MAX_ST_HEADER 100000000u	/* safetensors header limit */
#define BS_DEFAULT_CHUNK (1u << 20)

/* Kinds of a file record. */
enum { BS_FILE_SAFETENSORS = 1, BS_FILE_BLOB = 2 };
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
void bs_reader_close(struct bs_reader *r);	/* closes the fd unless stdin */

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
};
#define BS_LEVEL_DEFAULT 3
#define BS_LEVEL_TRY_ZSTD 10	/* from this level zstd is tried beside the specialised codec */
const struct bs_codec *bs_codec_by_id(int id);
const struct bs_codec *bs_codec_by_name(const char *name);
/* All codecs, NULL-terminated. */
extern const struct bs_codec *const bs_codecs[];

/*
 * Encode one chunk choosing the codec: the specialised codec for dtype at
 * level (1 fast .. 19 thorough), zstd, and none as the floor; the result
 * is never larger than raw_len.  out must hold raw_len bytes.  Returns the
 * coded length and sets *codec.
 */
long bs_chunk_encode(int dtype, const uint8_t *raw, size_t raw_len,
    uint8_t *out, int level, const char *force_codec, uint8_t *codec);
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
 * taken back in the order they were submitted.  At most depth jobs are in
 * flight, which bounds memory.  With n <= 1 jobs run in the caller.
 */
struct bs_pool;
typedef void (*bs_pool_fn)(void *job);
struct bs_pool *bs_pool_new(int threads, int depth, bs_pool_fn fn);
/* Submit a job; run says whether fn applies (0: pass through in order).
 * Never blocks; call bs_pool_full() first. */
void bs_pool_submit(struct bs_pool *p, void *job, int run);
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
	const uint8_t *raw;		/* the raw bytes (in or out), for hashing */
	int err;			/* BS_E* from fn */
	char errmsg[160];
	void *ctx;			/* the program's */
	void (*fn)(struct bs_chunk_job *);	/* set by bs_transcode */
};
struct bs_transcode_stats {
	uint64_t frames, tensors, chunks, raw_bytes, in_bytes, out_bytes;
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
};
extern int bs_verbose;			/* -v count; -1 with -q */
extern const char *bs_progname;
extern int bs_saw_epipe;		/* a write failed with EPIPE: exit quietly */

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

#endif
