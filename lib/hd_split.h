/*  hd_split: cut an input into task inputs by a spec ("lines", "lines:N", "bytes:N", "whole",
    "null"). It streams: feed it the input in chunks of any size and it calls back once per piece,
    copying only pieces that straddle two chunks. It knows nothing of tasks, files or sockets.

    Spec       one piece is                                      empty input gives
    lines      one line, its '\n' removed (the default)            no piece
    lines:N    N lines as they are in the input, each with its       no piece
               '\n' (so wc(1) counts N lines in it, and the pieces
               put back together are the input)
    bytes:N    N bytes (the last piece may be shorter);            no piece
               N may end in K, M or G (powers of 1024)
    whole      the whole input                                     one empty piece
    null       one NUL-terminated record, its NUL removed          no piece
    A last line or record without its terminator still counts. Empty lines are pieces.  */
#ifndef HD_SPLIT_H
#define HD_SPLIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hd_err.h"

typedef enum { HD_SPLIT_LINES = 0, HD_SPLIT_BYTES, HD_SPLIT_WHOLE, HD_SPLIT_NULL } hd_split_mode_t;

#define HD_SPLIT_MAX_COUNT (1ULL << 30)  //  largest N in lines:N and bytes:N

typedef struct {
    hd_split_mode_t mode;
    uint64_t count;  //  lines per piece (lines), bytes per piece (bytes), 1 otherwise
    bool keep;       //  pieces keep their terminators (lines:N); else each one is removed
} hd_split_spec_t;

//  Parse `text` (NULL means the default, "lines") into *out.
//  HD_OK; HD_EINVAL for an unknown mode, a missing, zero, malformed or too large N, or an N
//  given to a mode that takes none; the reason goes to errbuf when given (may be NULL).
hd_err_t hd_split_parse (const char *text, hd_split_spec_t *out, char *errbuf, size_t errlen);

//  Called once per piece, in input order. `piece` is borrowed for the call only. Return HD_OK
//  to go on; any other value stops the split and is returned by the call that was running.
typedef hd_err_t (hd_split_fn) (const void *piece, size_t size, void *arg);

//  Split a whole input held in memory. HD_OK; HD_ENOMEM; or what fn returned to stop.
hd_err_t hd_split_run (const hd_split_spec_t *spec, const void *data, size_t size, hd_split_fn *fn,
                       void *arg);

//  Streaming use: new, feed as often as needed, end once, destroy.
typedef struct hd_split hd_split_t;
//  NULL only when memory runs out. spec is copied. Caller destroys.
hd_split_t *hd_split_new (const hd_split_spec_t *spec, hd_split_fn *fn, void *arg);
//  NULL-safe; sets *self_p = NULL.
void hd_split_destroy (hd_split_t **self_p);
//  Split the next chunk of input, calling fn for every piece it completes.
//  HD_OK; HD_ENOMEM; or what fn returned. After an error, only destroy is allowed.
hd_err_t hd_split_feed (hd_split_t *self, const void *data, size_t size);
//  The input is over: call fn for the piece still open, if any. Same returns as feed.
hd_err_t hd_split_end (hd_split_t *self);
//  Pieces handed to fn so far.
uint64_t hd_split_pieces (const hd_split_t *self);

#endif
