/*  hd_syncer: a worker thread, a mutex and two condition-free flags. The journal is touched by
    this thread only between hd_syncer_start and the moment it sets `finished` (the contract of
    hd_journal_commit_write).  */
#include "hd_syncer.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct hd_syncer {
    hd_journal_t *journal;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake, finish;
    bool requested, finished, stopping;
    int err;
    int efd;
    hd_promhist_t commits;  //  durations of the writes, under lock (hd_syncer_commit_hist)
    int *pre;               //  descriptors to fdatasync first (set before a start, then the
    int npre, pre_cap;      //  thread's until it finishes)
    bool pre_failed;
    bool stores_only;       //  the request is the pre-sync alone (hd_syncer_start_stores)
    int early_err;          //  a pre-sync done on the caller's thread failed (no memory)
};

//  fdatasync and close each descriptor handed over; 0 or the first errno.
static int
s_pre_sync (hd_syncer_t *self)
{
    int err = self->early_err;
    self->early_err = 0;
    for (int i = 0; i < self->npre; i++) {
        if (!err && fdatasync (self->pre[i]) != 0)
            err = errno ? errno : EIO;
        close (self->pre[i]);
    }
    self->npre = 0;
    self->pre_failed = err != 0;
    return err;
}

static double
s_seconds (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

static void *
s_main (void *arg)
{
    hd_syncer_t *self = arg;
    pthread_mutex_lock (&self->lock);
    while (true) {
        while (!self->requested && !self->stopping)
            pthread_cond_wait (&self->wake, &self->lock);
        if (!self->requested)
            break;  //  stopping, nothing asked
        self->requested = false;
        bool commit = !self->stores_only;  //  set with the request, under the lock
        pthread_mutex_unlock (&self->lock);
        double t0 = s_seconds ();
        int err = s_pre_sync (self);
        if (!err && commit)
            err = hd_journal_commit_write (self->journal);
        double took = s_seconds () - t0;
        pthread_mutex_lock (&self->lock);
        if (commit)
            hd_promhist_observe (&self->commits, hd_promhist_commit_bounds, took);
        self->err = err;
        self->finished = true;
        pthread_cond_broadcast (&self->finish);
        uint64_t one = 1;
        (void) !write (self->efd, &one, sizeof one);
    }
    pthread_mutex_unlock (&self->lock);
    return NULL;
}

hd_syncer_t *
hd_syncer_new (hd_journal_t *journal)
{
    hd_syncer_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->journal = journal;
    self->efd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    pthread_mutex_init (&self->lock, NULL);
    pthread_cond_init (&self->wake, NULL);
    pthread_cond_init (&self->finish, NULL);
    if (self->efd < 0 || pthread_create (&self->thread, NULL, s_main, self) != 0) {
        if (self->efd >= 0)
            close (self->efd);
        pthread_cond_destroy (&self->wake);
        pthread_cond_destroy (&self->finish);
        pthread_mutex_destroy (&self->lock);
        free (self);
        return NULL;
    }
    return self;
}

void
hd_syncer_destroy (hd_syncer_t **self_p)
{
    hd_syncer_t *self = *self_p;
    if (!self)
        return;
    pthread_mutex_lock (&self->lock);
    self->stopping = true;
    pthread_cond_broadcast (&self->wake);
    pthread_mutex_unlock (&self->lock);
    pthread_join (self->thread, NULL);  //  a write in progress finishes first
    close (self->efd);
    for (int i = 0; i < self->npre; i++)
        close (self->pre[i]);
    free (self->pre);
    pthread_cond_destroy (&self->wake);
    pthread_cond_destroy (&self->finish);
    pthread_mutex_destroy (&self->lock);
    free (self);
    *self_p = NULL;
}

static void
s_request (hd_syncer_t *self, bool stores_only)
{
    pthread_mutex_lock (&self->lock);
    self->stores_only = stores_only;
    self->requested = true;
    self->finished = false;
    pthread_cond_signal (&self->wake);
    pthread_mutex_unlock (&self->lock);
}

void
hd_syncer_start (hd_syncer_t *self)
{
    s_request (self, false);
}

static void
s_start (hd_syncer_t *self, const int *fds, int n, bool stores_only)
{
    //  The thread is idle (no write in flight): the array is this thread's until the start.
    if (n > self->pre_cap) {
        int *pre = realloc (self->pre, (size_t) n * sizeof *pre);
        if (!pre) {  //  sync them here rather than not at all
            for (int i = 0; i < n; i++) {
                if (fdatasync (fds[i]) != 0 && !self->early_err)
                    self->early_err = errno ? errno : EIO;
                close (fds[i]);
            }
            n = 0;
        }
        else {
            self->pre = pre;
            self->pre_cap = n;
        }
    }
    if (n > 0)
        memcpy (self->pre, fds, (size_t) n * sizeof *fds);
    self->npre = n > 0 ? n : 0;
    s_request (self, stores_only);
}

void
hd_syncer_start_after (hd_syncer_t *self, const int *fds, int n)
{
    s_start (self, fds, n, false);
}

void
hd_syncer_start_stores (hd_syncer_t *self, const int *fds, int n)
{
    s_start (self, fds, n, true);
}

bool
hd_syncer_pre_failed (hd_syncer_t *self)
{
    pthread_mutex_lock (&self->lock);
    bool failed = self->pre_failed;
    pthread_mutex_unlock (&self->lock);
    return failed;
}

int
hd_syncer_fd (const hd_syncer_t *self)
{
    return self->efd;
}

bool
hd_syncer_done (hd_syncer_t *self, int *err)
{
    uint64_t count;
    (void) !read (self->efd, &count, sizeof count);  //  reset; `finished` is the truth
    pthread_mutex_lock (&self->lock);
    bool done = self->finished;
    if (done) {
        *err = self->err;
        self->finished = false;
    }
    pthread_mutex_unlock (&self->lock);
    return done;
}

void
hd_syncer_wait (hd_syncer_t *self, int *err)
{
    pthread_mutex_lock (&self->lock);
    while (!self->finished)
        pthread_cond_wait (&self->finish, &self->lock);
    *err = self->err;
    self->finished = false;
    pthread_mutex_unlock (&self->lock);
    uint64_t count;
    (void) !read (self->efd, &count, sizeof count);
}

void
hd_syncer_commit_hist (hd_syncer_t *self, hd_promhist_t *out)
{
    pthread_mutex_lock (&self->lock);
    *out = self->commits;
    pthread_mutex_unlock (&self->lock);
}
