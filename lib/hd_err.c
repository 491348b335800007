/*  hd_err: static text for each error code.  */
#include "hd_err.h"

const char *
hd_strerror (hd_err_t err)
{
    switch (err) {
        case HD_OK: return "success";
        case HD_ENOMEM: return "out of memory";
        case HD_EINVAL: return "invalid argument";
        case HD_EPROTO: return "malformed message";
        case HD_EVERSION: return "unsupported protocol version";
        case HD_ETOOBIG: return "too large";
        case HD_ECRYPTO: return "bad or missing key material";
        case HD_ETIMEDOUT: return "timed out";
        case HD_EDENIED: return "access denied (key not allowed)";
        case HD_ECLOSED: return "connection closed";
        case HD_EIO: return "I/O error";
        case HD_ENOTFOUND: return "not found";
        case HD_EFULL: return "full, retry later";
        case HD_ETASK: return "task failed";
        case HD_ENOTSUP: return "not supported by the peer";
    }
    return "unknown error";
}
