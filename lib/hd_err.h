/*  hd_err: the error codes every heddle function returns, and their text.
    This enum is internal; wire status codes live in hd_proto.h (hd_status_t), because the wire
    must stay stable while the internal enum grows.  */
#ifndef HD_ERR_H
#define HD_ERR_H

typedef enum {
    HD_OK = 0,
    HD_ENOMEM,      //  allocation failed
    HD_EINVAL,      //  bad argument or bad user input (options, files)
    HD_EPROTO,      //  malformed message: bad signature, type, length, nesting
    HD_EVERSION,    //  unsupported protocol version
    HD_ETOOBIG,     //  payload or field over its limit
    HD_ECRYPTO,     //  key material missing or invalid
    HD_ETIMEDOUT,   //  a bounded wait expired
    HD_EDENIED,     //  the peer refused our key (CURVE/ZAP) or an admin right is missing
    HD_ECLOSED,     //  peer gone, socket closed, interrupted
    HD_EIO,         //  file or socket I/O failed
    HD_ENOTFOUND,   //  unknown id, function, node
    HD_EFULL,       //  queue or window full: retry later
    HD_ETASK,       //  the task itself failed (handler error); see the result's error text
    HD_ENOTSUP,     //  the peer does not offer this (e.g. a broker that keeps no detached jobs)
} hd_err_t;

//  Static text for each value, never NULL.
const char *hd_strerror (hd_err_t err);

#endif
