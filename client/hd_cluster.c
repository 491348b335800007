/*  hd_cluster: the embedded cluster: a broker and N workers on threads of this process,
    talking over inproc:// (no keys, no network). The same broker and worker code as the
    programs, so results match a real cluster's.  */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "hd_broker.h"
#include "hd_client.h"
#include "hd_log.h"
#include "hd_worker.h"

struct hd_cluster {
    hd_broker_t *broker;
    pthread_t broker_thread;
    bool broker_started;
    hd_worker_t **workers;
    pthread_t *threads;
    uint32_t nworkers, started;
    char endpoint[128];
};

static void *
s_run_broker (void *arg)
{
    hd_broker_run (arg);
    return NULL;
}

static void *
s_run_worker (void *arg)
{
    hd_worker_run (arg);
    return NULL;
}

static hd_err_t
s_start_broker (hd_cluster_t *self, char *workers_ep, size_t len)
{
    static int counter;
    int n = __atomic_fetch_add (&counter, 1, __ATOMIC_RELAXED);
    snprintf (self->endpoint, sizeof self->endpoint, "inproc://heddle-clients-%d-%d",
              (int) getpid (), n);
    snprintf (workers_ep, len, "inproc://heddle-workers-%d-%d", (int) getpid (), n);
    hd_broker_config_t bc;
    hd_broker_config_defaults (&bc);
    bc.clients_endpoint = self->endpoint;
    bc.workers_endpoint = workers_ep;
    bc.insecure = true;
    bc.metrics_endpoint = NULL;  //  threads of one process: HELLO's figures are enough
    bc.events_endpoint = NULL;
    bc.journal_mode = HD_JOURNAL_NONE;  //  lives and dies with this process
    bc.worker_wait_ms = 2000;  //  its workers are threads that join in milliseconds: a function
                               //  none of them offers after that is a typo, not a slow boot
    char err[256] = "";
    hd_err_t rc = hd_broker_new (&bc, &self->broker, err, sizeof err);
    if (rc != HD_OK) {
        hd_error ("embedded broker: %s", err);
        return rc;
    }
    if (pthread_create (&self->broker_thread, NULL, s_run_broker, self->broker) != 0)
        return HD_ENOMEM;
    self->broker_started = true;
    return HD_OK;
}

static hd_err_t
s_start_worker (hd_cluster_t *self, uint32_t i, const char *workers_ep, uint32_t slots)
{
    hd_worker_config_t wc;
    hd_worker_config_defaults (&wc);
    char name[32];
    snprintf (name, sizeof name, "local-%u", i + 1);
    wc.endpoint = workers_ep;
    wc.insecure = true;
    wc.name = name;
    wc.slots = slots;
    wc.capacity = 1.0;  //  identical threads of one machine: no need to benchmark each
    char err[256] = "";
    hd_err_t rc = hd_worker_new (&wc, &self->workers[i], err, sizeof err);
    if (rc != HD_OK) {
        hd_error ("embedded worker: %s", err);
        return rc;
    }
    if (pthread_create (&self->threads[i], NULL, s_run_worker, self->workers[i]) != 0)
        return HD_ENOMEM;
    self->started++;
    return HD_OK;
}

hd_err_t
hd_cluster_start (uint32_t workers, uint32_t slots, hd_cluster_t **out)
{
    *out = NULL;
    if (!workers) {
        long n = sysconf (_SC_NPROCESSORS_ONLN);
        workers = n > 0 ? (uint32_t) n : 1;
    }
    hd_cluster_t *self = calloc (1, sizeof *self);
    if (!self || !(self->workers = calloc (workers, sizeof *self->workers))
        || !(self->threads = calloc (workers, sizeof *self->threads))) {
        hd_cluster_stop (&self);
        return HD_ENOMEM;
    }
    self->nworkers = workers;
    char workers_ep[128];
    hd_err_t rc = s_start_broker (self, workers_ep, sizeof workers_ep);
    for (uint32_t i = 0; rc == HD_OK && i < workers; i++)
        rc = s_start_worker (self, i, workers_ep, slots ? slots : 1);
    if (rc != HD_OK) {
        hd_cluster_stop (&self);
        return rc;
    }
    *out = self;
    return HD_OK;
}

const char *
hd_cluster_endpoint (const hd_cluster_t *self)
{
    return self->endpoint;
}

void
hd_cluster_stop (hd_cluster_t **self_p)
{
    hd_cluster_t *self = *self_p;
    if (!self)
        return;
    for (uint32_t i = 0; i < self->started; i++)
        hd_worker_stop (self->workers[i]);
    for (uint32_t i = 0; i < self->started; i++)
        pthread_join (self->threads[i], NULL);
    for (uint32_t i = 0; i < self->nworkers; i++)
        if (self->workers)
            hd_worker_destroy (&self->workers[i]);
    if (self->broker_started) {
        hd_broker_stop (self->broker);
        pthread_join (self->broker_thread, NULL);
    }
    hd_broker_destroy (&self->broker);
    free (self->workers);
    free (self->threads);
    free (self);
    *self_p = NULL;
}
