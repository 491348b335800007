/*  hd_runner: execution slots as threads, each with a PAIR socket to the main loop. A slot's
    task context (heddle_task_t) is reused task after task; the only state shared across threads
    is its atomic cancel flag.  */
#include "hd_runner.h"

#include <pthread.h>

#include "hd_log.h"
#include "hd_task.h"

typedef struct {
    hd_task_t task;
    const hd_fnentry_t *fn;
} s_order_t;

typedef struct {
    struct hd_runner *runner;
    uint32_t index;
    pthread_t thread;
    bool started;
    zsock_t *main_end;   //  used by the main loop only
    zsock_t *slot_end;   //  used by the slot thread only
    heddle_task_t ctx;
    hd_id_t id;          //  task running now (main loop's view)
    bool busy;           //  main loop's view
    hd_buf_t env;        //  slot thread's encoder buffer
} s_slot_t;

struct hd_runner {
    s_slot_t *slots;
    uint32_t nslots, nfree;
    const hd_fnreg_t *fns;
    char node[HD_MAX_NAME + 1];
    size_t max_output;
    _Atomic uint64_t done, failed;
};

//  Status and error text once the function has returned `rc`.
static uint32_t
s_status (heddle_task_t *ctx, int rc, const s_order_t *order, char *error, size_t errlen)
{
    int cancel = atomic_load (&ctx->cancel);
    if (cancel) {
        snprintf (error, errlen, "%s", cancel == 2 ? "worker stopping" : "cancelled");
        return HD_ST_CANCELLED;
    }
    if (rc != 0 && ctx->deadline_ms && hd_now_ms () >= ctx->deadline_ms) {
        snprintf (error, errlen, "deadline of %u ms passed", order->task.timeout_ms);
        return HD_ST_TIMEOUT;
    }
    if (rc != 0) {
        if (ctx->error[0])
            snprintf (error, errlen, "%s", ctx->error);
        else
            snprintf (error, errlen, "function '%s' returned %d", order->task.fn, rc);
        return HD_ST_FAILED;
    }
    return HD_ST_OK;
}

static void
s_run_one (s_slot_t *slot, const s_order_t *order, zmq_msg_t *payload)
{
    heddle_task_t *ctx = &slot->ctx;
    int64_t start = hd_now_ms ();
    hd_task_reset (ctx, order->task.timeout_ms ? start + order->task.timeout_ms : 0,
                   slot->runner->max_output);
    int rc = order->fn->fn (ctx, zmq_msg_data (payload), zmq_msg_size (payload), order->fn->arg);
    hd_result_t r = { .id = order->task.id, .attempt = order->task.attempt };
    r.status = s_status (ctx, rc, order, r.error, sizeof r.error);
    r.elapsed_ms = (uint32_t) (hd_now_ms () - start);
    snprintf (r.node, sizeof r.node, "%s", slot->runner->node);
    if (r.status == HD_ST_OK)
        slot->runner->done++;
    else
        slot->runner->failed++;
    void *sock = zsock_resolve (slot->slot_end);
    if (hd_codec_encode_result (&slot->env, &r) != HD_OK) {
        hd_error ("slot %u: cannot encode a result: out of memory", slot->index);
        hd_buf_reset (&slot->env);
    }
    zmq_send (sock, slot->env.data, slot->env.size, ZMQ_SNDMORE);
    zmq_send (sock, ctx->out.data, r.status == HD_ST_OK || r.status == HD_ST_FAILED ? ctx->out.size
                                                                                     : 0, 0);
}

static void *
s_slot_main (void *arg)
{
    s_slot_t *slot = arg;
    void *sock = zsock_resolve (slot->slot_end);
    zmq_msg_t order, payload;
    zmq_msg_init (&order);
    zmq_msg_init (&payload);
    while (zmq_msg_recv (&order, sock, 0) >= 0) {
        if (zmq_msg_size (&order) != sizeof (s_order_t))
            break;  //  the stop order is an empty frame
        if (zmq_msg_recv (&payload, sock, 0) < 0)
            break;
        s_order_t o;
        memcpy (&o, zmq_msg_data (&order), sizeof o);
        s_run_one (slot, &o, &payload);
    }
    zmq_msg_close (&order);
    zmq_msg_close (&payload);
    return NULL;
}

static int
s_slot_init (hd_runner_t *self, uint32_t i)
{
    s_slot_t *slot = &self->slots[i];
    slot->runner = self;
    slot->index = i;
    char ep[96];
    snprintf (ep, sizeof ep, "inproc://hd-slot-%p-%u", (void *) self, i);
    slot->main_end = zsock_new (ZMQ_PAIR);
    if (!slot->main_end || zsock_bind (slot->main_end, "%s", ep) != 0)
        return -1;
    slot->slot_end = zsock_new (ZMQ_PAIR);
    if (!slot->slot_end || zsock_connect (slot->slot_end, "%s", ep) != 0)
        return -1;
    if (pthread_create (&slot->thread, NULL, s_slot_main, slot) != 0)
        return -1;
    slot->started = true;
    return 0;
}

hd_runner_t *
hd_runner_new (uint32_t slots, const hd_fnreg_t *fns, const char *node, size_t max_output)
{
    hd_runner_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->slots = calloc (slots, sizeof *self->slots);
    self->nslots = self->nfree = slots;
    self->fns = fns;
    self->max_output = max_output;
    snprintf (self->node, sizeof self->node, "%s", node);
    bool ok = self->slots != NULL;
    for (uint32_t i = 0; ok && i < slots; i++)
        ok = s_slot_init (self, i) == 0;
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
    for (uint32_t i = 0; self->slots && i < self->nslots; i++) {
        s_slot_t *slot = &self->slots[i];
        atomic_store (&slot->ctx.cancel, 2);
        if (slot->started) {
            zmq_send (zsock_resolve (slot->main_end), NULL, 0, 0);
            pthread_join (slot->thread, NULL);
        }
        zsock_destroy (&slot->main_end);
        zsock_destroy (&slot->slot_end);
        hd_task_fini (&slot->ctx);
        hd_buf_fini (&slot->env);
    }
    free (self->slots);
    free (self);
    *self_p = NULL;
}

uint32_t
hd_runner_slots (const hd_runner_t *self)
{
    return self->nslots;
}

uint32_t
hd_runner_free (const hd_runner_t *self)
{
    return self->nfree;
}

hd_err_t
hd_runner_start (hd_runner_t *self, const hd_task_t *task, zmq_msg_t *payload)
{
    const hd_fnentry_t *fn = hd_fnreg_find (self->fns, task->fn);
    if (!fn)
        return HD_ENOTFOUND;
    if (!self->nfree)
        return HD_EFULL;
    uint32_t i = 0;
    while (self->slots[i].busy)
        i++;
    s_slot_t *slot = &self->slots[i];
    s_order_t order = { .task = *task, .fn = fn };
    //  The flag is cleared here, before the slot sees the task, so a cancel that arrives while
    //  the order is in flight is not lost.
    atomic_store (&slot->ctx.cancel, 0);
    void *sock = zsock_resolve (slot->main_end);
    if (zmq_send (sock, &order, sizeof order, ZMQ_SNDMORE) < 0
        || zmq_msg_send (payload, sock, 0) < 0)
        return HD_ECLOSED;
    slot->id = task->id;
    slot->busy = true;
    self->nfree--;
    return HD_OK;
}

hd_err_t
hd_runner_cancel (hd_runner_t *self, const hd_id_t *id)
{
    for (uint32_t i = 0; i < self->nslots; i++)
        if (self->slots[i].busy && hd_id_eq (&self->slots[i].id, id)) {
            atomic_store (&self->slots[i].ctx.cancel, 1);
            return HD_OK;
        }
    return HD_ENOTFOUND;
}

void
hd_runner_pollitems (hd_runner_t *self, zmq_pollitem_t *items)
{
    for (uint32_t i = 0; i < self->nslots; i++)
        items[i] = (zmq_pollitem_t) { zsock_resolve (self->slots[i].main_end), 0, ZMQ_POLLIN, 0 };
}

hd_err_t
hd_runner_collect (hd_runner_t *self, uint32_t i, zmq_msg_t *env, zmq_msg_t *out)
{
    void *sock = zsock_resolve (self->slots[i].main_end);
    if (zmq_msg_recv (env, sock, ZMQ_DONTWAIT) < 0)
        return HD_ETIMEDOUT;
    zmq_msg_recv (out, sock, 0);  //  the output frame always follows its envelope
    self->slots[i].busy = false;
    self->nfree++;
    return HD_OK;
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
