/*  hd_ratelog: rate limiting for a warning that can repeat without end (a refused handshake, a
    commit refused by a full disk). The first event of a quiet spell is logged in full; those
    that follow within the window are only counted, and one summary line carries the count when
    the window closes: "refused 3,912 handshakes from 127.0.0.1 in the last 10 s". So a flood
    costs two lines per window, whatever its rate. Pure: the time comes in as milliseconds and
    the caller writes the lines; it knows nothing of what is counted.  */
#ifndef HD_RATELOG_H
#define HD_RATELOG_H

#include <stdbool.h>
#include <stdint.h>

#define HD_RATELOG_WINDOW_MS 10000  //  the window every heddle warning of this kind uses
#define HD_RATELOG_SOURCE 64        //  longest source kept (an address), NUL included

typedef struct {
    int64_t window_ms;
    int64_t start_ms;               //  when the open window began (count > 0)
    uint64_t count;                 //  events in the open window, the one logged included
    uint64_t amount;                //  sum of their amounts (tasks refused, ...)
    uint64_t total;                 //  events since init
    char source[HD_RATELOG_SOURCE]; //  the first event's source ("" when none)
    bool mixed;                     //  a later event came from another source
} hd_ratelog_t;

//  What one closed window held, for the summary line.
typedef struct {
    uint64_t count, amount;
    int64_t seconds;                 //  the window's length, rounded
    char source[HD_RATELOG_SOURCE];  //  "" when none was given
    bool mixed;                      //  events came from more than one source
} hd_ratelog_summary_t;

//  An empty limiter with a window of window_ms (> 0).
void hd_ratelog_init (hd_ratelog_t *self, int64_t window_ms);
//  Count one event of `amount` from `source` (NULL: none) at now_ms. true when the caller
//  should log this one in full (it opens a window); false when it is only counted. Call
//  hd_ratelog_flush first, so that an expired window is summed up before a new one opens.
bool hd_ratelog_hit (hd_ratelog_t *self, int64_t now_ms, const char *source, uint64_t amount);
//  When the open window has lasted window_ms: close it, and when it counted more than the one
//  event logged in full, fill *out and return true (log the summary). false otherwise.
bool hd_ratelog_flush (hd_ratelog_t *self, int64_t now_ms, hd_ratelog_summary_t *out);
//  A count as people read it: 3912 -> "3,912". Returns out (27 bytes hold any uint64_t).
char *hd_ratelog_count_text (uint64_t n, char out[27]);

#endif
