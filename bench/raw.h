/*  hd-raw: the raw transport limit under heddle's topology. Client DEALER -> broker ROUTER
    (front) / ROUTER (back) -> worker DEALER and back, CURVE on, one message per task, and
    nothing a fabric does: no journal, no scheduler, no credits, no retries. The broker only
    routes (round-robin over the workers that said hello), the worker decodes a tiny MessagePack
    envelope and encodes a reply. Every mode stops by itself after its time limit.

    Frames:  client -> broker      [env][payload]
             broker -> worker      [client id][env][payload]
             worker -> broker      [client id][reply env][payload]   or [HELLO] once
             broker -> client      [reply env][payload]
    env = {id: bin 16, fn: str}, reply env = {id: bin 16, attempt: 1, status: 0, node: str}.  */
#ifndef HD_RAW_H
#define HD_RAW_H

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

#define HD_RAW_HELLO "HELLO"  //  the one frame a worker sends when it connects
#define HD_RAW_HWM 100000     //  same high-water marks as heddle's sockets
#define HD_RAW_ID_BYTES 16

typedef struct {
    const char *prog;        //  for messages: "hd-raw broker", ...
    const char *keys_dir;    //  heddle keys directory (`heddle keys init`), NULL when insecure
    bool insecure;           //  plain TCP: only to see what CURVE costs
    const char *clients_ep;  //  broker: where clients connect
    const char *workers_ep;  //  broker: where workers connect
    const char *broker_ep;   //  worker, client: the endpoint to connect to
    const char *name;        //  worker: node name put in replies
    uint32_t tasks, window, size;
    uint32_t limit_s;      //  hard time limit, seconds
    bool print_endpoints;  //  broker: print "clients=EP workers=EP" once bound
} hd_raw_config_t;

//  The three modes. Each returns the process exit status: 0 done, 1 failed or timed out.
int hd_raw_broker_run (const hd_raw_config_t *cfg);
int hd_raw_worker_run (const hd_raw_config_t *cfg);
int hd_raw_client_run (const hd_raw_config_t *cfg);

//  A ROUTER bound to `endpoint`, CURVE server with the keys dir's broker certificate (no ZAP
//  handler: any client key is admitted). 0 with *out (caller destroys), or -1 after printing why.
int hd_raw_bind (zsock_t **out, const char *endpoint, const hd_raw_config_t *cfg);
//  A DEALER connected to cfg->broker_ep as `role` ("client" or "worker": the keys dir's
//  ROLE.cert_secret), with the broker's public key. 0 with *out, or -1 after printing why.
int hd_raw_connect (zsock_t **out, const char *role, const hd_raw_config_t *cfg);
//  Receive the rest of a multipart message into parts[0..max-1], the first part being already
//  in parts[0]. Returns the number of parts, or -1 when there were more than max (the surplus
//  is read and dropped, the parts are closed).
int hd_raw_recv_rest (void *sock, zmq_msg_t *parts, int max);
//  Send parts[from..count-1] as one message; each part is consumed (closed) either way.
//  Returns 0, or -1 with errno from libzmq.
int hd_raw_send_parts (void *sock, zmq_msg_t *parts, int from, int count);

#endif
