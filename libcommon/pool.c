/*
 * pool.c - an ordered work pool.  Jobs go into a ring in submission order;
 * worker threads take pending slots oldest first; the caller takes finished
 * jobs back from the head of the ring, so output stays in order, and while
 * the oldest is not finished it runs pending jobs itself (so n threads are
 * n - 1 workers and the caller).  The bytes the jobs in flight hold (their
 * weights, as the caller gives them) stay within a budget, which bounds
 * memory; the job count has a cap of its own (the ring), large enough that
 * many small jobs queue behind a large one: counting jobs alone, a run of
 * small tensors behind a large chunk left the workers idle while the
 * caller ran it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "bs.h"

enum { EMPTY, PENDING, RUNNING, DONE };

struct slot {
	void *job;
	int state;
	int run;		/* a job fn applies to (not a pass-through) */
	uint64_t weight;	/* bytes it holds */
};

struct bs_pool {
	bs_pool_fn fn;
	int nthreads;
	uint64_t budget, held;	/* bytes: at most, held by the jobs in flight */
	size_t cap;		/* ring slots: jobs in flight at most */
	struct slot *ring;
	size_t head, count;	/* oldest slot, slots in use */
	size_t next_pending;	/* scan start for workers */
	int quit;
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	pthread_t *threads;
};

int
bs_ncpu(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}

/* The oldest pending slot, or NULL; under the lock. */
static struct slot *
oldest_pending(struct bs_pool *p)
{
	for (size_t i = p->next_pending; i < p->head + p->count; i++) {
		struct slot *c = &p->ring[i % p->cap];
		if (c->state == PENDING) {
			p->next_pending = i + 1;
			return c;
		}
	}
	return NULL;
}

/* Whether more than k slots are pending; under the lock. */
static int
pending_beyond(const struct bs_pool *p, size_t k)
{
	size_t n = 0;

	for (size_t i = p->next_pending; i < p->head + p->count; i++)
		if (p->ring[i % p->cap].state == PENDING && ++n > k)
			return 1;
	return 0;
}

static void *
worker(void *arg)
{
	struct bs_pool *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct slot *s = NULL;
		while (!p->quit && !(s = oldest_pending(p)))
			pthread_cond_wait(&p->work, &p->mu);
		if (!s)
			break;
		s->state = RUNNING;
		pthread_mutex_unlock(&p->mu);
		p->fn(s->job);
		pthread_mutex_lock(&p->mu);
		s->state = DONE;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct bs_pool *
bs_pool_new(int threads, uint64_t budget, bs_pool_fn fn)
{
	struct bs_pool *p = calloc(1, sizeof *p);

	if (!p)
		return NULL;
	if (threads < 1)
		threads = 1;
	p->fn = fn;
	p->budget = budget;
	p->cap = BS_POOL_JOBS * (size_t)threads;
	/* the caller runs jobs too while it waits for the oldest one */
	p->nthreads = threads > 1 ? threads - 1 : 0;
	p->ring = calloc(p->cap, sizeof *p->ring);
	p->threads = calloc((size_t)p->nthreads + 1, sizeof *p->threads);
	if (!p->ring || !p->threads) {
		free(p->ring);
		free(p->threads);
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	for (int i = 0; i < p->nthreads; i++)
		if (pthread_create(&p->threads[i], NULL, worker, p) != 0) {
			p->nthreads = i;	/* run with fewer */
			break;
		}
	return p;
}

uint64_t
bs_pool_budget(int threads)
{
	uint64_t n = threads > 1 ? (uint64_t)threads : 1, per = 12ull << 20,
	    cap = 48ull << 20;

	if (n == 1)
		return 1;
	if (cap < n * (3ull << 20))
		cap = n * (3ull << 20);
	return n * per < cap ? n * per : cap;
}

int
bs_pool_full(const struct bs_pool *p)
{
	return p->count == p->cap || (p->count && p->held >= p->budget);
}

int
bs_pool_empty(const struct bs_pool *p)
{
	return p->count == 0;
}

void
bs_pool_submit(struct bs_pool *p, void *job, int run, uint64_t weight)
{
	struct slot *s;

	if (p->nthreads == 0) {
		if (run)
			p->fn(job);
		s = &p->ring[(p->head + p->count) % p->cap];
		s->job = job;
		s->state = DONE;
		s->run = run;
		s->weight = weight;
		p->held += weight;
		p->count++;
		return;
	}
	pthread_mutex_lock(&p->mu);
	s = &p->ring[(p->head + p->count) % p->cap];
	s->job = job;
	s->state = run ? PENDING : DONE;
	s->run = run;
	s->weight = weight;
	p->held += weight;
	p->count++;
	if (run)
		pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
}

void *
bs_pool_take(struct bs_pool *p)
{
	struct slot *s;
	void *job;

	if (p->count == 0)
		return NULL;
	s = &p->ring[p->head % p->cap];
	if (p->nthreads) {
		pthread_mutex_lock(&p->mu);
		while (s->state != DONE) {
			/* rather than wait, run the oldest pending job here,
			 * when the workers have others to go on with (they
			 * would idle while the caller, which also reads and
			 * writes, runs the last one) */
			struct slot *c = pending_beyond(p, (size_t)p->nthreads) ?
			    oldest_pending(p) : NULL;
			if (!c) {
				pthread_cond_wait(&p->done, &p->mu);
				continue;
			}
			c->state = RUNNING;
			pthread_mutex_unlock(&p->mu);
			p->fn(c->job);
			pthread_mutex_lock(&p->mu);
			c->state = DONE;
		}
	}
	job = s->job;
	s->state = EMPTY;
	s->job = NULL;
	p->held -= s->weight;
	p->head++;
	p->count--;
	if (p->next_pending < p->head)
		p->next_pending = p->head;
	if (p->nthreads)
		pthread_mutex_unlock(&p->mu);
	return job;
}

void
bs_pool_free(struct bs_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	free(p->ring);
	free(p->threads);
	free(p);
}
