/*  hd_journal_int: the journal's private state and on-disk format helpers, shared by
    hd_journal.c (open, append, commit), hd_journal_format.c (bytes), hd_journal_replay.c and
    hd_journal_compact.c. Not a public header: the broker includes hd_journal.h only.  */
#ifndef HD_JOURNAL_INT_H
#define HD_JOURNAL_INT_H

#include "hd_buf.h"
#include "hd_journal.h"

#define HD_JOURNAL_LOG "journal.log"
#define HD_JOURNAL_TMP "journal.log.tmp"
#define HD_JOURNAL_LOCK "journal.lock"
#define HD_JOURNAL_HEADER 24u    //  "HDJ1", version, created_ms, reserved, CRC32C
#define HD_JOURNAL_FRAME 8u      //  length and CRC words before each record body
#define HD_JOURNAL_MIN_BODY 25u  //  type, id, alen, blen with both blobs empty

struct hd_journal {
    hd_journal_config_t cfg;
    hd_journal_io_t io;
    int dir_fd, lock_fd, fd;  //  -1 when closed (always in NONE mode)
    uint64_t size;            //  durable size of journal.log
    int64_t created_ms;       //  from the header, kept across compactions
    uint32_t version;         //  the file's format version (older ones are read, then rewritten)
    hd_buf_t batch;           //  encoded pending records, reused
    uint64_t batch_records;
    //  the batch being committed (commit_begin .. commit_end); only commit_write touches it
    //  and the file in between, perhaps on another thread
    hd_buf_t flight;
    uint64_t flight_records, flight_lsn;
    bool in_flight;
    int flight_stage;  //  what commit_write reached: 1 the write failed, 2 the fdatasync failed
    int64_t batch_since_ms;  //  clock value when the batch's first record arrived
    int64_t now_ms;          //  latest value given to set_now
    uint64_t last_lsn, durable_lsn;
    bool replayed;
    bool failed;  //  sticky: every later append and commit returns HD_EIO
    bool urgent;  //  space is short: compact whenever a quarter of the file is reclaimable
    //  compaction in progress (only inside maybe_compact)
    bool compacting;
    int tmp_fd;
    hd_buf_t cbuf;
    uint64_t csize;        //  bytes written to the new file so far
    hd_err_t compact_err;  //  first emit failure
    char error[256];
};

//  hd_journal_format.c: little-endian words, CRC32C, header and record encoding
uint32_t hd_journal_crc32c (uint32_t crc, const void *data, size_t len);
//  The portable tables alone (what hd_journal_crc32c uses without the CPU's CRC32C
//  instruction), and whether that instruction is used: for the tests.
uint32_t hd_journal_crc32c_sw (uint32_t crc, const void *data, size_t len);
bool hd_journal_crc32c_hw (void);
void hd_journal_put32 (uint8_t *p, uint32_t v);
uint32_t hd_journal_get32 (const uint8_t *p);
void hd_journal_put64 (uint8_t *p, uint64_t v);
uint64_t hd_journal_get64 (const uint8_t *p);
void hd_journal_encode_header (uint8_t out[HD_JOURNAL_HEADER], int64_t created_ms);
//  HD_OK with *created_ms set; HD_EIO (text in self->error) when not a journal, corrupt, or
//  of an unsupported version.
hd_err_t hd_journal_decode_header (hd_journal_t *self, const uint8_t *hdr);
//  Append one framed record to buf. HD_ETOOBIG, HD_ENOMEM (buf unchanged on failure).
hd_err_t hd_journal_encode_record (hd_buf_t *buf, hd_jrec_type_t type, const hd_id_t *id,
                                   const void *a, size_t alen, const void *b, size_t blen);

//  hd_journal.c: failure bookkeeping and the hooked I/O shared with compaction
//  Record the reason; HD_EIO also fails the journal. Returns rc.
hd_err_t hd_journal_fail (hd_journal_t *self, hd_err_t rc, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
//  Write all of data through the hook. 0, or the errno of the failed write.
int hd_journal_write_all (hd_journal_t *self, int fd, uint8_t *data, size_t len);
//  HD_EFULL for ENOSPC / EDQUOT / EFBIG, HD_EIO for any other errno.
hd_err_t hd_journal_errno_rc (int err);

#endif
