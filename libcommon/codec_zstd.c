/*
 * codec_zstd.c - zstd for blobs, integers and whatever no specialised
 * codec beats.  The payload is one zstd frame with its content size.
 * Contexts are kept per thread.
 */
#include <pthread.h>
#include <zstd.h>

#include "bs.h"

static __thread ZSTD_CCtx *cctx;
static __thread ZSTD_DCtx *dctx;
static pthread_key_t key;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* Free a thread's contexts when it ends. */
static void
release(void *arg)
{
	(void)arg;
	ZSTD_freeCCtx(cctx);
	ZSTD_freeDCtx(dctx);
	cctx = NULL;
	dctx = NULL;
}

static void
make_key(void)
{
	pthread_key_create(&key, release);
}

static void
register_thread(void)
{
	pthread_once(&once, make_key);
	pthread_setspecific(key, (void *)1);
}

static int
zstd_accepts(int dtype)
{
	(void)dtype;
	return 1;
}

static long
zstd_encode(int dtype, const uint8_t *raw, size_t n, uint8_t *out, size_t cap,
    int level)
{
	size_t r;

	(void)dtype;
	if (!cctx) {
		if (!(cctx = ZSTD_createCCtx()))
			return BS_ENOMEM;
		register_thread();
	}
	if (level < 1)
		level = 1;
	if (level > ZSTD_maxCLevel())
		level = ZSTD_maxCLevel();
	r = ZSTD_compressCCtx(cctx, out, cap, raw, n, level);
	if (ZSTD_isError(r))
		return 0;	/* did not fit: the caller falls back */
	return (long)r;
}

static int
zstd_decode(int dtype, const uint8_t *in, size_t n, uint8_t *out,
    size_t raw_len)
{
	unsigned long long sz;
	size_t r;

	(void)dtype;
	sz = ZSTD_getFrameContentSize(in, n);
	if (sz != raw_len)
		return BS_ECORRUPT;
	if (!dctx) {
		if (!(dctx = ZSTD_createDCtx()))
			return BS_ENOMEM;
		register_thread();
	}
	r = ZSTD_decompressDCtx(dctx, out, raw_len, in, n);
	if (ZSTD_isError(r) || r != raw_len)
		return BS_ECORRUPT;
	return 0;
}

const struct bs_codec bs_codec_zstd = {
	"zstd", BS_C_ZSTD, zstd_accepts, zstd_encode, zstd_decode,
};
