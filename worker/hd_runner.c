/*  hd_runner: execution slots as threads around one locked task queue and one locked result
    list. A slot's task context (heddle_task_t) is reused task after task. The main loop and the
    slots share only what the lock covers, plus each context's atomic cancel flag.
    Before this design each slot had an inproc PAIR socket: every task cost two thread wake-ups
    and the main loop polled one socket per slot, which on a small board cost more CPU than
    running an echo task (docs/PERFORMANCE.md).  */
#include "hd_runner.h"

#include <errno.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "hd_log.h"
#include "hd_seal.h"
#include "hd_task.h"

//  Outputs from this size up are handed to libzmq without a copy.
#define S_ZEROCOPY_BYTES (64u * 1024)
//  Inline runs: a function whose runs average under S_INLINE_US (a moving average over about
//  16, after S_INLINE_RUNS of them) may run on the caller's thread.
#define S_INLINE_US 50.0
#define S_INLINE_RUNS 8

typedef struct {
    double avg_us;
    uint32_t runs;
} s_fnstat_t;

typedef struct {
    hd_task_t task;
    const hd_fnentry_t *fn;
    zmq_msg_t payload;
} s_order_t;

typedef struct {
    zmq_msg_t env, out;
} s_result_t;

typedef struct {
    struct hd_runner *runner;
    uint32_t index;
    pthread_t thread;
    bool started;
    heddle_task_t ctx;
    hd_id_t id;       //  task running now; under the lock
    bool busy;        //  under the lock
    hd_buf_t env;     //  slot thread's encoder buffer
    hd_buf_t plain;   //  a sealed task's opened input (wiped after each run)
} s_slot_t;

struct hd_runner {
    pthread_mutex_t lock;
    pthread_cond_t wake;   //  slots wait here for a task
    s_order_t *queue;      //  ring of `capacity`
    uint32_t qhead, qcount;
    s_result_t *results;   //  ring of `capacity`
    uint32_t rhead, rcount;
    uint32_t capacity, running, idle;
    bool stopping;
    int efd;
    s_slot_t *slots;
    uint32_t nslots;
    const hd_fnreg_t *fns;
    char node[HD_MAX_NAME + 1];
    size_t max_output;
    hd_buf_t cancel_env;   //  main thread's encoder for tasks cancelled while queued
    s_fnstat_t stats[HD_MAX_FNS];  //  by function index; under the lock
    s_slot_t inline_slot;  //  the caller's context for inline runs (main thread only)
    hd_seal_keyring_t *ring;  //  payload keys for sealed tasks (borrowed); NULL: none
    double inline_us;      //  runs averaging under this may be inline (under the lock)
    uint64_t inlined;
    _Atomic uint64_t done, failed;
};

static void
s_signal (hd_runner_t *self)
{
    uint64_t one = 1;
    if (write (self->efd, &one, sizeof one) < 0 && errno != EAGAIN)
        hd_error ("runner: cannot signal the main loop: %s", strerror (errno));
}

//  Under the lock: append a result (moved from r); the main loop hears of the first one only.
static void
s_push_result (hd_runner_t *self, s_result_t *r)
{
    //  Ring entries are initialised as they are filled (a never-used one is zeroed memory, and
    //  one moved from is empty), so an idle worker's big rings cost no resident memory.
    s_result_t *slot = &self->results[(self->rhead + self->rcount) % self->capacity];
    zmq_msg_init (&slot->env);
    zmq_msg_init (&slot->out);
    zmq_msg_move (&slot->env, &r->env);
    zmq_msg_move (&slot->out, &r->out);
    if (self->rcount++ == 0)
        s_signal (self);
}

//  Status and error text once the function has returned `rc`.
static uint32_t
s_status (heddle_task_t *ctx, int rc, const hd_task_t *task, char *error, size_t errlen)
{
    int cancel = atomic_load (&ctx->cancel);
    if (cancel) {
        snprintf (error, errlen, "%s", cancel == 2 ? "worker stopping" : "cancelled");
        return HD_ST_CANCELLED;
    }
    if (rc != 0 && ctx->deadline_ms && hd_now_ms () >= ctx->deadline_ms) {
        snprintf (error, errlen, "deadline of %u ms passed", task->timeout_ms);
        return HD_ST_TIMEOUT;
    }
    if (rc != 0) {
        if (ctx->error[0])
            snprintf (error, errlen, "%s", ctx->error);
        else
            snprintf (error, errlen, "function '%s' returned %d", task->fn, rc);
        return HD_ST_FAILED;
    }
    return HD_ST_OK;
}

static void
s_free_output (void *data, void *hint)
{
    (void) hint;
    free (data);
}

//  The output frame: copied when small; large outputs give their buffer away.
static void
s_output_msg (heddle_task_t *ctx, size_t size, zmq_msg_t *out)
{
    zmq_msg_close (out);
    if (size >= S_ZEROCOPY_BYTES && zmq_msg_init_data (out, ctx->out.data, size, s_free_output,
                                                       NULL) == 0) {
        hd_buf_init (&ctx->out);  //  the data now belongs to the message
        return;
    }
    if (zmq_msg_init_size (out, size) != 0) {
        zmq_msg_init (out);
        return;
    }
    if (size)
        memcpy (zmq_msg_data (out), ctx->out.data, size);
}

static void
s_env_msg (const hd_buf_t *env, zmq_msg_t *out)
{
    zmq_msg_close (out);
    if (zmq_msg_init_size (out, env->size) != 0)
        zmq_msg_init (out);
    else if (env->size)
        memcpy (zmq_msg_data (out), env->data, env->size);
}

static int64_t
s_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

//  Under the lock: one more run of fn took `us`.
static void
s_note_run (hd_runner_t *self, const hd_fnentry_t *fn, int64_t us)
{
    s_fnstat_t *st = &self->stats[fn - hd_fnreg_at (self->fns, 0)];
    st->avg_us = st->runs ? st->avg_us + ((double) us - st->avg_us) / 16.0 : (double) us;
    if (st->runs < S_INLINE_RUNS)
        st->runs++;
}

//  A sealed task's input, opened into slot->plain (its job key to job_key for the result).
//  HD_OK, or a status and error for a task that must not run.
static uint32_t
s_unseal (s_slot_t *slot, const hd_task_t *task, zmq_msg_t *payload, uint8_t job_key[32],
          char *error, size_t errlen)
{
    hd_seal_keyring_t *ring = slot->runner->ring;
    size_t size = zmq_msg_size (payload);
    if (task->seal != HD_SEAL_VERSION) {
        snprintf (error, errlen, "sealed payload format %u is not supported (this worker reads %u)",
                  task->seal, HD_SEAL_VERSION);
        return HD_ST_FAILED;
    }
    if (!ring || !hd_seal_keyring_count (ring)) {
        snprintf (error, errlen, "this worker holds no payload key (heddle nodes approve grants "
                                 "it; or copy payload.cert_secret to its keys directory)");
        return HD_ST_DENIED;
    }
    size_t need = size > HD_SEAL_TASK_OVERHEAD ? size - HD_SEAL_TASK_OVERHEAD : 0;
    size_t got = 0;
    hd_buf_reset (&slot->plain);
    if (hd_buf_reserve (&slot->plain, need + 1) != HD_OK) {
        snprintf (error, errlen, "out of memory opening a sealed payload");
        return HD_ST_INTERNAL;
    }
    hd_err_t rc = hd_seal_open_task (ring, task->id.b, task->fn, zmq_msg_data (payload), size,
                                     slot->plain.data, &got, job_key);
    if (rc == HD_ENOTFOUND) {
        snprintf (error, errlen, "sealed to a payload key this worker does not hold");
        return HD_ST_DENIED;
    }
    if (rc != HD_OK) {
        snprintf (error, errlen, "sealed input failed verification (altered, or moved from "
                                 "another task): not run");
        return HD_ST_TAMPERED;
    }
    slot->plain.size = got;
    return HD_ST_OK;
}

//  A sealed task's output frame: sealed under the job key, bound to the task and status.
static void
s_sealed_output_msg (heddle_task_t *ctx, size_t size, const uint8_t job_key[32],
                     const hd_task_t *task, uint32_t status, zmq_msg_t *out)
{
    zmq_msg_close (out);
    if (zmq_msg_init_size (out, size + HD_SEAL_RESULT_OVERHEAD) != 0) {
        zmq_msg_init (out);
        return;
    }
    hd_seal_result (job_key, task->id.b, status, ctx->out.data, size, zmq_msg_data (out));
}

//  Run one task; returns its run time in microseconds.
static int64_t
s_run_one (s_slot_t *slot, const hd_task_t *task, const hd_fnentry_t *fn, zmq_msg_t *payload,
           s_result_t *res)
{
    heddle_task_t *ctx = &slot->ctx;
    int64_t start_us = s_now_us ();
    int64_t start = start_us / 1000;
    hd_task_reset (ctx, task->timeout_ms ? start + task->timeout_ms : 0,
                   slot->runner->max_output);
    hd_result_t r = { .id = task->id, .attempt = task->attempt };
    uint8_t job_key[32];
    bool keyed = false;  //  a sealed task whose job key is known: its result is sealed
    if (task->seal) {
        r.status = s_unseal (slot, task, payload, job_key, r.error, sizeof r.error);
        keyed = r.status == HD_ST_OK;
    }
    if (r.status == HD_ST_OK) {
        const void *in = task->seal ? slot->plain.data : zmq_msg_data (payload);
        size_t size = task->seal ? slot->plain.size : zmq_msg_size (payload);
        int rc = fn->fn (ctx, in, size, fn->arg);
        r.status = s_status (ctx, rc, task, r.error, sizeof r.error);
    }
    r.elapsed_ms = (uint32_t) (hd_now_ms () - start);
    memcpy (r.node, slot->runner->node, sizeof r.node);
    if (r.status == HD_ST_OK)
        slot->runner->done++;
    else
        slot->runner->failed++;
    if (hd_codec_encode_result (&slot->env, &r) != HD_OK) {
        hd_error ("slot %u: cannot encode a result: out of memory", slot->index);
        hd_buf_reset (&slot->env);
    }
    s_env_msg (&slot->env, &res->env);
    size_t out = r.status == HD_ST_OK || r.status == HD_ST_FAILED ? ctx->out.size : 0;
    if (!task->seal)
        s_output_msg (ctx, out, &res->out);
    else {
        //  Every worker-made result of a sealed task is sealed, even an empty one: the client
        //  then tells a real result from one the broker made up or altered.
        if (keyed)
            s_sealed_output_msg (ctx, out, job_key, task, r.status, &res->out);
        else
            s_output_msg (ctx, 0, &res->out);
        hd_seal_wipe (slot->plain.data, slot->plain.size);
        hd_seal_wipe (ctx->out.data, ctx->out.size);
        hd_seal_wipe (job_key, sizeof job_key);
    }
    return s_now_us () - start_us;
}

static void *
s_slot_main (void *arg)
{
    s_slot_t *slot = arg;
    hd_runner_t *self = slot->runner;
    zmq_msg_t payload;
    zmq_msg_init (&payload);
    s_result_t res;
    zmq_msg_init (&res.env);
    zmq_msg_init (&res.out);
    pthread_mutex_lock (&self->lock);
    while (true) {
        while (!self->stopping && !self->qcount) {
            self->idle++;
            pthread_cond_wait (&self->wake, &self->lock);
            self->idle--;
        }
        if (self->stopping)
            break;
        s_order_t *o = &self->queue[self->qhead];
        self->qhead = (self->qhead + 1) % self->capacity;
        self->qcount--;
        hd_task_t task = o->task;
        const hd_fnentry_t *fn = o->fn;
        zmq_msg_move (&payload, &o->payload);
        //  Cleared under the lock, before a cancel can find this slot: none is lost.
        atomic_store (&slot->ctx.cancel, 0);
        slot->id = task.id;
        slot->busy = true;
        self->running++;
        pthread_mutex_unlock (&self->lock);

        int64_t us = s_run_one (slot, &task, fn, &payload, &res);

        pthread_mutex_lock (&self->lock);
        s_note_run (self, fn, us);
        slot->busy = false;
        self->running--;
        s_push_result (self, &res);
    }
    pthread_mutex_unlock (&self->lock);
    zmq_msg_close (&payload);
    zmq_msg_close (&res.env);
    zmq_msg_close (&res.out);
    return NULL;
}

hd_runner_t *
hd_runner_new (uint32_t slots, uint32_t capacity, const hd_fnreg_t *fns, const char *node,
               size_t max_output)
{
    hd_runner_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    if (!capacity)
        capacity = 8 * slots + 16;
    self->inline_us = S_INLINE_US;
    self->inline_slot.runner = self;
    self->inline_slot.index = slots;
    hd_task_init (&self->inline_slot.ctx);
    self->efd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    self->nslots = slots;
    self->capacity = capacity;
    self->fns = fns;
    self->max_output = max_output;
    snprintf (self->node, sizeof self->node, "%s", node);
    pthread_mutex_init (&self->lock, NULL);
    pthread_cond_init (&self->wake, NULL);
    self->slots = calloc (slots, sizeof *self->slots);
    self->queue = calloc (capacity, sizeof *self->queue);
    self->results = calloc (capacity, sizeof *self->results);
    bool ok = self->efd >= 0 && self->slots && self->queue && self->results;
    for (uint32_t i = 0; ok && i < slots; i++) {
        s_slot_t *slot = &self->slots[i];
        slot->runner = self;
        slot->index = i;
        hd_task_init (&slot->ctx);
        ok = pthread_create (&slot->thread, NULL, s_slot_main, slot) == 0;
        slot->started = ok;
    }
    if (!ok)
        hd_runner_destroy (&self);
    return self;
}

void
hd_runner_destroy (hd_runner_t **self_p)
{
    hd_runner_t *self = *self_p;
    if (!self)
        return;
    pthread_mutex_lock (&self->lock);
    self->stopping = true;
    for (uint32_t i = 0; self->slots && i < self->nslots; i++)
        atomic_store (&self->slots[i].ctx.cancel, 2);
    pthread_cond_broadcast (&self->wake);
    pthread_mutex_unlock (&self->lock);
    for (uint32_t i = 0; self->slots && i < self->nslots; i++) {
        s_slot_t *slot = &self->slots[i];
        if (slot->started)
            pthread_join (slot->thread, NULL);
        hd_task_fini (&slot->ctx);
        hd_buf_fini (&slot->env);
        hd_buf_fini (&slot->plain);
    }
    //  Only the live entries hold anything (the others were never filled, or moved from).
    for (uint32_t i = 0; self->queue && i < self->qcount; i++)
        zmq_msg_close (&self->queue[(self->qhead + i) % self->capacity].payload);
    for (uint32_t i = 0; self->results && i < self->rcount; i++) {
        zmq_msg_close (&self->results[(self->rhead + i) % self->capacity].env);
        zmq_msg_close (&self->results[(self->rhead + i) % self->capacity].out);
    }
    pthread_cond_destroy (&self->wake);
    pthread_mutex_destroy (&self->lock);
    if (self->efd >= 0)
        close (self->efd);
    hd_buf_fini (&self->cancel_env);
    hd_task_fini (&self->inline_slot.ctx);
    hd_buf_fini (&self->inline_slot.env);
    hd_buf_fini (&self->inline_slot.plain);
    free (self->slots);
    free (self->queue);
    free (self->results);
    free (self);
    *self_p = NULL;
}

uint32_t
hd_runner_slots (const hd_runner_t *self)
{
    return self->nslots;
}

uint32_t
hd_runner_capacity (const hd_runner_t *self)
{
    return self->capacity;
}

uint32_t
hd_runner_running (hd_runner_t *self)
{
    pthread_mutex_lock (&self->lock);
    uint32_t n = self->running;
    pthread_mutex_unlock (&self->lock);
    return n;
}

uint32_t
hd_runner_queued (hd_runner_t *self)
{
    pthread_mutex_lock (&self->lock);
    uint32_t n = self->qcount;
    pthread_mutex_unlock (&self->lock);
    return n;
}

hd_err_t
hd_runner_start (hd_runner_t *self, const hd_task_t *task, zmq_msg_t *payload)
{
    const hd_fnentry_t *fn = hd_fnreg_find (self->fns, task->fn);
    if (!fn)
        return HD_ENOTFOUND;
    pthread_mutex_lock (&self->lock);
    if (self->qcount + self->running + self->rcount >= self->capacity) {
        pthread_mutex_unlock (&self->lock);
        return HD_EFULL;
    }
    const s_fnstat_t *st = &self->stats[fn - hd_fnreg_at (self->fns, 0)];
    if (!self->qcount && self->running < self->nslots && st->runs >= S_INLINE_RUNS
        && st->avg_us < self->inline_us) {
        //  A slot is idle and nothing waits: run it here, counted as running meanwhile.
        self->running++;
        pthread_mutex_unlock (&self->lock);
        s_result_t res;
        zmq_msg_init (&res.env);
        zmq_msg_init (&res.out);
        s_slot_t *slot = &self->inline_slot;
        atomic_store (&slot->ctx.cancel, 0);
        int64_t us = s_run_one (slot, task, fn, payload, &res);
        zmq_msg_close (payload);
        zmq_msg_init (payload);  //  consumed, as a queued one would be
        pthread_mutex_lock (&self->lock);
        self->running--;
        self->inlined++;
        s_note_run (self, fn, us);
        s_push_result (self, &res);
        pthread_mutex_unlock (&self->lock);
        zmq_msg_close (&res.env);
        zmq_msg_close (&res.out);
        return HD_OK;
    }
    s_order_t *o = &self->queue[(self->qhead + self->qcount) % self->capacity];
    o->task = *task;
    o->fn = fn;
    zmq_msg_init (&o->payload);
    zmq_msg_move (&o->payload, payload);
    self->qcount++;
    //  A slot that is busy takes this task when it finishes, with no wake-up.
    if (self->idle)
        pthread_cond_signal (&self->wake);
    pthread_mutex_unlock (&self->lock);
    return HD_OK;
}

//  Under the lock: finish queued task k (0 = oldest) as CANCELLED and close the gap.
static void
s_cancel_queued (hd_runner_t *self, uint32_t k)
{
    s_order_t *o = &self->queue[(self->qhead + k) % self->capacity];
    hd_result_t r = { .id = o->task.id, .attempt = o->task.attempt,
                      .status = HD_ST_CANCELLED };
    memcpy (r.node, self->node, sizeof r.node);
    snprintf (r.error, sizeof r.error, "cancelled");
    self->failed++;
    s_result_t res;
    zmq_msg_init (&res.env);
    zmq_msg_init (&res.out);
    if (hd_codec_encode_result (&self->cancel_env, &r) != HD_OK)
        hd_buf_reset (&self->cancel_env);
    s_env_msg (&self->cancel_env, &res.env);
    for (uint32_t i = k; i + 1 < self->qcount; i++) {
        s_order_t *to = &self->queue[(self->qhead + i) % self->capacity];
        s_order_t *from = &self->queue[(self->qhead + i + 1) % self->capacity];
        to->task = from->task;
        to->fn = from->fn;
        zmq_msg_move (&to->payload, &from->payload);
    }
    self->qcount--;
    zmq_msg_t *last = &self->queue[(self->qhead + self->qcount) % self->capacity].payload;
    zmq_msg_close (last);
    zmq_msg_init (last);
    s_push_result (self, &res);
    zmq_msg_close (&res.env);
    zmq_msg_close (&res.out);
}

hd_err_t
hd_runner_cancel (hd_runner_t *self, const hd_id_t *id)
{
    hd_err_t rc = HD_ENOTFOUND;
    pthread_mutex_lock (&self->lock);
    for (uint32_t i = 0; rc != HD_OK && i < self->nslots; i++)
        if (self->slots[i].busy && hd_id_eq (&self->slots[i].id, id)) {
            atomic_store (&self->slots[i].ctx.cancel, 1);
            rc = HD_OK;
        }
    for (uint32_t k = 0; rc != HD_OK && k < self->qcount; k++)
        if (hd_id_eq (&self->queue[(self->qhead + k) % self->capacity].task.id, id)) {
            s_cancel_queued (self, k);
            rc = HD_OK;
        }
    pthread_mutex_unlock (&self->lock);
    return rc;
}

void
hd_runner_set_keyring (hd_runner_t *self, hd_seal_keyring_t *ring)
{
    self->ring = ring;
}

void
hd_runner_set_inline_us (hd_runner_t *self, double us)
{
    pthread_mutex_lock (&self->lock);
    self->inline_us = us;
    pthread_mutex_unlock (&self->lock);
}

bool
hd_runner_has_results (hd_runner_t *self)
{
    pthread_mutex_lock (&self->lock);
    bool any = self->rcount > 0;
    pthread_mutex_unlock (&self->lock);
    return any;
}

uint64_t
hd_runner_inlined (const hd_runner_t *self)
{
    return self->inlined;
}

int
hd_runner_fd (const hd_runner_t *self)
{
    return self->efd;
}

uint32_t
hd_runner_collect (hd_runner_t *self, zmq_msg_t *env, zmq_msg_t *out, uint32_t max)
{
    //  Reset the eventfd before taking the list: a result pushed after this read signals again.
    uint64_t count;
    if (read (self->efd, &count, sizeof count) < 0 && errno != EAGAIN)
        hd_error ("runner: cannot read its eventfd: %s", strerror (errno));
    pthread_mutex_lock (&self->lock);
    uint32_t n = 0;
    for (; n < max && self->rcount; n++) {
        s_result_t *r = &self->results[self->rhead];
        zmq_msg_move (&env[n], &r->env);
        zmq_msg_move (&out[n], &r->out);
        self->rhead = (self->rhead + 1) % self->capacity;
        self->rcount--;
    }
    if (self->rcount)
        s_signal (self);  //  more than `max` waited: come back for the rest
    pthread_mutex_unlock (&self->lock);
    return n;
}

uint64_t
hd_runner_done (const hd_runner_t *self)
{
    return self->done;
}

uint64_t
hd_runner_failed (const hd_runner_t *self)
{
    return self->failed;
}
