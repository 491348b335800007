/*  hd_log: levelled logging to stderr (or a caller's sink). One process-wide level, set once at
    start-up from --log-level / HEDDLE_LOG; thread-safe because each line is one fprintf.  */
#ifndef HD_LOG_H
#define HD_LOG_H

typedef enum { HD_LOG_ERROR = 0, HD_LOG_WARN, HD_LOG_INFO, HD_LOG_DEBUG } hd_log_level_t;

//  Set the level; returns the previous one.
hd_log_level_t hd_log_set_level (hd_log_level_t level);
//  Parse "error|warn|info|debug"; HD_OK-like: returns 0 on success, -1 on unknown text.
int hd_log_parse_level (const char *text, hd_log_level_t *out);
//  Prefix printed on every line, e.g. "broker" (borrowed, must outlive logging).
void hd_log_set_name (const char *name);
int hd_log_enabled (hd_log_level_t level);

void hd_log (hd_log_level_t level, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

#define hd_error(...) hd_log (HD_LOG_ERROR, __VA_ARGS__)
#define hd_warn(...) hd_log (HD_LOG_WARN, __VA_ARGS__)
#define hd_info(...) hd_log (HD_LOG_INFO, __VA_ARGS__)
#define hd_debug(...)                                                                              \
    do {                                                                                           \
        if (hd_log_enabled (HD_LOG_DEBUG))                                                         \
            hd_log (HD_LOG_DEBUG, __VA_ARGS__);                                                    \
    } while (0)

#endif
