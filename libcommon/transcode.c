/*
 * transcode.c - read a stream, code every chunk on a pool of threads, and
 * write the stream again in order: the loop under bs-encode and bs-decode.
 * Raw bytes are hashed as they go by, in order, and checked against each
 * tensor's XXH3-128.  The hashing is done by the thread that coded the
 * chunk, while its bytes are in that core's cache: a chunk waits for the
 * chunks before it in its tensor to be hashed (they were taken earlier,
 * the pool hands jobs out oldest first, so they are running or done).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bs.h"

/* A tensor's running hash, shared by its chunk jobs and its TEND. */
struct bs_tensor_hash {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct bs_xxh128_state *h;
	uint64_t next;			/* chunks hashed so far */
	int hashable;			/* every chunk's raw bytes hashed */
	int refs;
};

static struct bs_tensor_hash *
th_new(int hashable)
{
	struct bs_tensor_hash *th = calloc(1, sizeof *th);

	if (!th || !(th->h = bs_xxh128_new())) {
		free(th);
		return NULL;
	}
	pthread_mutex_init(&th->mu, NULL);
	pthread_cond_init(&th->cv, NULL);
	th->hashable = hashable;
	th->refs = 1;
	return th;
}

static struct bs_tensor_hash *
th_ref(struct bs_tensor_hash *th)
{
	if (th)
		__atomic_add_fetch(&th->refs, 1, __ATOMIC_RELAXED);
	return th;
}

static void
th_unref(struct bs_tensor_hash *th)
{
	if (!th || __atomic_sub_fetch(&th->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	pthread_mutex_destroy(&th->mu);
	pthread_cond_destroy(&th->cv);
	bs_xxh128_free(th->h);
	free(th);
}

/* Hash the chunk's raw bytes after the chunks before it; a chunk that
 * failed, or has no raw bytes, makes the tensor unhashable. */
static void
th_add(struct bs_chunk_job *j)
{
	struct bs_tensor_hash *th = j->th;

	pthread_mutex_lock(&th->mu);
	while (th->next != j->seq)
		pthread_cond_wait(&th->cv, &th->mu);
	pthread_mutex_unlock(&th->mu);
	/* only this job touches the state now */
	if (j->raw && j->err >= 0 && th->hashable)
		bs_xxh128_update(th->h, j->raw, j->in->u.chunk.raw_len);
	else
		th->hashable = 0;
	pthread_mutex_lock(&th->mu);
	th->next++;
	pthread_cond_broadcast(&th->cv);
	pthread_mutex_unlock(&th->mu);
}

/* A chunk's payload checksum is checked here, on the worker, and its raw
 * bytes hashed into its tensor's hash. */
static void
run_job(void *arg)
{
	struct bs_chunk_job *j = arg;

	if (bs_frame_check(j->in) < 0) {
		j->err = BS_ECHECKSUM;
		snprintf(j->errmsg, sizeof j->errmsg, "payload checksum mismatch");
	} else {
		j->fn(j);
		if (j->out && j->err >= 0)	/* the output frame's checksum, here too */
			j->out_hash = bs_xxh64(j->out, j->out_len);
	}
	if (j->th)
		th_add(j);
}

struct tc {
	struct bs_writer *w;
	struct bs_reader *r;
	struct bs_frame *tensor;	/* emitted and not yet ended */
	struct bs_transcode_stats *st;
	struct bs_err *e;
};

static void
free_job(struct bs_chunk_job *j)
{
	if (!j)
		return;
	bs_frame_free(j->in);
	free(j->out);
	th_unref(j->th);
	free(j);
}

static int
werr(struct tc *t)
{
	return bs_err_set(t->e, BS_EIO, "%s", bs_writer_errmsg(t->w));
}

/* Write one finished job's frame; check tensor hashes. */
static int
emit(struct tc *t, struct bs_chunk_job *j)
{
	struct bs_frame *f = j->in;
	int rc = 0;

	switch (f->type) {
	case BS_F_STREAM:		/* kept: it names the stream's writer */
		rc = bs_writer_copy(t->w, f);
		break;
	case BS_F_INDEX:
	case BS_F_PARITY:
		return 0;		/* rebuilt, or no longer valid */
	case BS_F_END:
		rc = bs_writer_end(t->w);
		break;
	case BS_F_TENSOR:
		rc = bs_writer_copy(t->w, f);
		bs_frame_free(t->tensor);
		t->tensor = f;
		j->in = NULL;
		if (f->u.tensor.dtype == BS_DT_BYTES)	/* a file's bytes */
			t->st->blobs++;
		else
			t->st->tensors++;
		break;
	case BS_F_CHUNK: {
		struct bs_chunk_info ci = f->u.chunk;
		if (j->err < 0) {
			const struct bs_tensor_info *ti = &t->tensor->u.tensor;
			return bs_err_set(t->e, j->err, "%s: frame %llu at offset %llu: tensor '%.*s', chunk at %llu: %s",
			    bs_reader_name(t->r), (unsigned long long)f->number, (unsigned long long)f->offset,
			    (int)(ti->name_len > 100 ? 100 : ti->name_len), ti->name,
			    (unsigned long long)ci.offset, j->errmsg);
		}
		t->st->chunks++;
		t->st->raw_bytes += ci.raw_len;
		t->st->in_bytes += f->payload_len;
		if (j->out) {
			ci.codec = j->codec;
			ci.transform = j->transform;
			rc = bs_writer_chunk_hashed(t->w, &ci, j->out, j->out_len,
			    j->out_hash);
			t->st->out_bytes += j->out_len;
		} else {
			rc = bs_writer_copy(t->w, f);
			t->st->out_bytes += f->payload_len;
		}
		break;
	}
	case BS_F_TEND:
		/* every chunk before it is done: the hash is whole */
		if (j->th && j->th->hashable && t->tensor) {
			struct bs_hash128 h = bs_xxh128_digest(j->th->h);
			if (h.lo != f->u.tend.hash.lo || h.hi != f->u.tend.hash.hi) {
				const struct bs_tensor_info *ti = &t->tensor->u.tensor;
				return bs_err_set(t->e, BS_ECHECKSUM,
				    "%s: frame %llu at offset %llu: tensor '%.*s': checksum mismatch (XXH3-128 of its raw bytes)",
				    bs_reader_name(t->r), (unsigned long long)f->number, (unsigned long long)f->offset,
				    (int)(ti->name_len > 100 ? 100 : ti->name_len), ti->name);
			}
		}
		rc = bs_writer_copy(t->w, f);
		bs_frame_free(t->tensor);
		t->tensor = NULL;
		break;
	default:
		rc = bs_writer_copy(t->w, f);
		break;
	}
	t->st->frames++;
	return rc < 0 ? werr(t) : 0;
}

int
bs_transcode(struct bs_reader *r, struct bs_writer *w, int threads,
    void (*fn)(struct bs_chunk_job *), void *ctx,
    struct bs_transcode_stats *st, struct bs_err *e)
{
	struct tc t;
	struct bs_pool *pool;
	struct bs_chunk_job *j;
	struct bs_frame *f;
	int rc = 0;

	memset(&t, 0, sizeof t);
	memset(st, 0, sizeof *st);
	t.w = w;
	t.r = r;
	t.st = st;
	t.e = e;
	if (threads < 1)
		threads = 1;
	bs_reader_defer_chunk_checks(r);
	pool = bs_pool_new(threads, bs_pool_budget(threads), run_job);
	if (!pool)
		return bs_err_set(e, BS_ENOMEM, "out of memory");
	struct bs_tensor_hash *cur = NULL;	/* the open tensor's */
	uint64_t seq = 0;
	for (;;) {
		const struct bs_tensor_info *ti;
		rc = bs_reader_next(r, &f);
		if (rc == BS_EOF) {
			rc = 0;
			break;
		}
		if (rc < 0) {
			bs_err_set(e, rc, "%s: %s", bs_reader_name(r), bs_reader_errmsg(r));
			break;
		}
		if (!(j = calloc(1, sizeof *j))) {
			bs_frame_free(f);
			rc = bs_err_set(e, BS_ENOMEM, "out of memory");
			break;
		}
		j->in = f;
		j->ctx = ctx;
		j->fn = fn;
		ti = bs_reader_tensor(r);
		j->dtype = ti ? ti->dtype : BS_DT_UNKNOWN;
		if (f->type == BS_F_TENSOR) {
			/* a delta's TEND holds the hash of the tensor it
			 * rebuilds, which only bs-patch, with the base, can
			 * check; a reference has no chunks */
			th_unref(cur);
			if (!(cur = th_new(f->u.tensor.kind == BS_T_TENSOR ||
			    f->u.tensor.kind == BS_T_BLOB))) {
				free_job(j);
				rc = bs_err_set(e, BS_ENOMEM, "out of memory");
				break;
			}
			seq = 0;
		} else if (f->type == BS_F_CHUNK && cur) {
			j->th = th_ref(cur);
			j->seq = seq++;
		} else if (f->type == BS_F_TEND && cur) {
			j->th = cur;	/* the open tensor's reference */
			cur = NULL;
		}
		while (bs_pool_full(pool)) {
			struct bs_chunk_job *done = bs_pool_take(pool);
			rc = emit(&t, done);
			free_job(done);
			if (rc < 0)
				break;
		}
		if (rc < 0) {
			free_job(j);
			break;
		}
		/* it holds the frame, and the chunk's output */
		bs_pool_submit(pool, j, f->type == BS_F_CHUNK, f->size +
		    (f->type == BS_F_CHUNK ? f->u.chunk.raw_len : 0));
	}
	while (!bs_pool_empty(pool)) {
		struct bs_chunk_job *done = bs_pool_take(pool);
		if (rc == 0)
			rc = emit(&t, done);
		free_job(done);
	}
	bs_pool_free(pool);
	th_unref(cur);
	bs_frame_free(t.tensor);
	return rc;
}
