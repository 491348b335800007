/*  hd_journal_format: the journal's bytes on disk (docs/JOURNAL.md): little-endian words
    written byte by byte so a journal moves between arm64, armhf and x86-64, the CRC32C that
    guards each record, the file header and the record framing. No I/O here.  */
#include "hd_journal_int.h"

#include <stdio.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <nmmintrin.h>
#endif

_Static_assert(sizeof (hd_id_t) == 16, "the journal format stores 16-byte ids");

//  CRC32C (Castagnoli, reflected polynomial 0x82F63B78), one table lookup per byte. Chosen
//  over zlib's CRC-32 for its better error detection on short records; written out here
//  because no dependency we carry provides it. Check value: "123456789" -> 0xE3069283.
static const uint32_t s_crc_table[256] = {
    0x00000000, 0xf26b8303, 0xe13b70f7, 0x1350f3f4, 0xc79a971f, 0x35f1141c, 0x26a1e7e8, 0xd4ca64eb,
    0x8ad958cf, 0x78b2dbcc, 0x6be22838, 0x9989ab3b, 0x4d43cfd0, 0xbf284cd3, 0xac78bf27, 0x5e133c24,
    0x105ec76f, 0xe235446c, 0xf165b798, 0x030e349b, 0xd7c45070, 0x25afd373, 0x36ff2087, 0xc494a384,
    0x9a879fa0, 0x68ec1ca3, 0x7bbcef57, 0x89d76c54, 0x5d1d08bf, 0xaf768bbc, 0xbc267848, 0x4e4dfb4b,
    0x20bd8ede, 0xd2d60ddd, 0xc186fe29, 0x33ed7d2a, 0xe72719c1, 0x154c9ac2, 0x061c6936, 0xf477ea35,
    0xaa64d611, 0x580f5512, 0x4b5fa6e6, 0xb93425e5, 0x6dfe410e, 0x9f95c20d, 0x8cc531f9, 0x7eaeb2fa,
    0x30e349b1, 0xc288cab2, 0xd1d83946, 0x23b3ba45, 0xf779deae, 0x05125dad, 0x1642ae59, 0xe4292d5a,
    0xba3a117e, 0x4851927d, 0x5b016189, 0xa96ae28a, 0x7da08661, 0x8fcb0562, 0x9c9bf696, 0x6ef07595,
    0x417b1dbc, 0xb3109ebf, 0xa0406d4b, 0x522bee48, 0x86e18aa3, 0x748a09a0, 0x67dafa54, 0x95b17957,
    0xcba24573, 0x39c9c670, 0x2a993584, 0xd8f2b687, 0x0c38d26c, 0xfe53516f, 0xed03a29b, 0x1f682198,
    0x5125dad3, 0xa34e59d0, 0xb01eaa24, 0x42752927, 0x96bf4dcc, 0x64d4cecf, 0x77843d3b, 0x85efbe38,
    0xdbfc821c, 0x2997011f, 0x3ac7f2eb, 0xc8ac71e8, 0x1c661503, 0xee0d9600, 0xfd5d65f4, 0x0f36e6f7,
    0x61c69362, 0x93ad1061, 0x80fde395, 0x72966096, 0xa65c047d, 0x5437877e, 0x4767748a, 0xb50cf789,
    0xeb1fcbad, 0x197448ae, 0x0a24bb5a, 0xf84f3859, 0x2c855cb2, 0xdeeedfb1, 0xcdbe2c45, 0x3fd5af46,
    0x7198540d, 0x83f3d70e, 0x90a324fa, 0x62c8a7f9, 0xb602c312, 0x44694011, 0x5739b3e5, 0xa55230e6,
    0xfb410cc2, 0x092a8fc1, 0x1a7a7c35, 0xe811ff36, 0x3cdb9bdd, 0xceb018de, 0xdde0eb2a, 0x2f8b6829,
    0x82f63b78, 0x709db87b, 0x63cd4b8f, 0x91a6c88c, 0x456cac67, 0xb7072f64, 0xa457dc90, 0x563c5f93,
    0x082f63b7, 0xfa44e0b4, 0xe9141340, 0x1b7f9043, 0xcfb5f4a8, 0x3dde77ab, 0x2e8e845f, 0xdce5075c,
    0x92a8fc17, 0x60c37f14, 0x73938ce0, 0x81f80fe3, 0x55326b08, 0xa759e80b, 0xb4091bff, 0x466298fc,
    0x1871a4d8, 0xea1a27db, 0xf94ad42f, 0x0b21572c, 0xdfeb33c7, 0x2d80b0c4, 0x3ed04330, 0xccbbc033,
    0xa24bb5a6, 0x502036a5, 0x4370c551, 0xb11b4652, 0x65d122b9, 0x97baa1ba, 0x84ea524e, 0x7681d14d,
    0x2892ed69, 0xdaf96e6a, 0xc9a99d9e, 0x3bc21e9d, 0xef087a76, 0x1d63f975, 0x0e330a81, 0xfc588982,
    0xb21572c9, 0x407ef1ca, 0x532e023e, 0xa145813d, 0x758fe5d6, 0x87e466d5, 0x94b49521, 0x66df1622,
    0x38cc2a06, 0xcaa7a905, 0xd9f75af1, 0x2b9cd9f2, 0xff56bd19, 0x0d3d3e1a, 0x1e6dcdee, 0xec064eed,
    0xc38d26c4, 0x31e6a5c7, 0x22b65633, 0xd0ddd530, 0x0417b1db, 0xf67c32d8, 0xe52cc12c, 0x1747422f,
    0x49547e0b, 0xbb3ffd08, 0xa86f0efc, 0x5a048dff, 0x8ecee914, 0x7ca56a17, 0x6ff599e3, 0x9d9e1ae0,
    0xd3d3e1ab, 0x21b862a8, 0x32e8915c, 0xc083125f, 0x144976b4, 0xe622f5b7, 0xf5720643, 0x07198540,
    0x590ab964, 0xab613a67, 0xb831c993, 0x4a5a4a90, 0x9e902e7b, 0x6cfbad78, 0x7fab5e8c, 0x8dc0dd8f,
    0xe330a81a, 0x115b2b19, 0x020bd8ed, 0xf0605bee, 0x24aa3f05, 0xd6c1bc06, 0xc5914ff2, 0x37faccf1,
    0x69e9f0d5, 0x9b8273d6, 0x88d28022, 0x7ab90321, 0xae7367ca, 0x5c18e4c9, 0x4f48173d, 0xbd23943e,
    0xf36e6f75, 0x0105ec76, 0x12551f82, 0xe03e9c81, 0x34f4f86a, 0xc69f7b69, 0xd5cf889d, 0x27a40b9e,
    0x79b737ba, 0x8bdcb4b9, 0x988c474d, 0x6ae7c44e, 0xbe2da0a5, 0x4c4623a6, 0x5f16d052, 0xad7d5351,
};

static const uint8_t s_magic[4] = { 'H', 'D', 'J', '1' };

//  Slicing by 8: the byte-at-a-time loop was the broker's largest cost (a fifth of its CPU on
//  a job of small tasks, more with sealed payloads, whose records are longer). Tables 1..7 are
//  derived from the one above at start; words are assembled byte by byte, so the result does
//  not depend on the machine's byte order. On x86-64 with SSE4.2 (every x86-64 CPU since 2008)
//  the CPU's own CRC32C instruction does it instead, eight bytes per instruction: the tables
//  then cost the broker about 9% of its instructions per task (callgrind, docs/PERFORMANCE.md).
static uint32_t s_slice[7][256];
static bool s_hw;  //  set once, before main, and only read afterwards

__attribute__ ((constructor)) static void
s_crc_init (void)
{
    for (int i = 0; i < 256; i++) {
        uint32_t c = s_crc_table[i];
        for (int k = 0; k < 7; k++) {
            c = (c >> 8) ^ s_crc_table[c & 0xff];
            s_slice[k][i] = c;
        }
    }
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init ();
    s_hw = __builtin_cpu_supports ("sse4.2");
#endif
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__ ((target ("sse4.2"))) static uint32_t
s_crc_hw (uint32_t crc, const uint8_t *p, size_t len)
{
    uint64_t c = crc;
    for (; len >= 8; p += 8, len -= 8) {
        uint64_t v;
        memcpy (&v, p, 8);  //  x86 is little-endian: the bytes go in in order
        c = _mm_crc32_u64 (c, v);
    }
    crc = (uint32_t) c;
    for (; len; p++, len--)
        crc = _mm_crc32_u8 (crc, *p);
    return crc;
}
#endif

uint32_t
hd_journal_crc32c_sw (uint32_t crc, const void *data, size_t len)
{
    const uint8_t *p = data;
    crc = ~crc;
    for (; len >= 8; p += 8, len -= 8) {
        uint32_t lo = crc ^ ((uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
                             | (uint32_t) p[3] << 24);
        uint32_t hi = (uint32_t) p[4] | (uint32_t) p[5] << 8 | (uint32_t) p[6] << 16
                      | (uint32_t) p[7] << 24;
        crc = s_slice[6][lo & 0xff] ^ s_slice[5][(lo >> 8) & 0xff]
              ^ s_slice[4][(lo >> 16) & 0xff] ^ s_slice[3][lo >> 24] ^ s_slice[2][hi & 0xff]
              ^ s_slice[1][(hi >> 8) & 0xff] ^ s_slice[0][(hi >> 16) & 0xff]
              ^ s_crc_table[hi >> 24];
    }
    for (size_t i = 0; i < len; i++)
        crc = s_crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

uint32_t
hd_journal_crc32c (uint32_t crc, const void *data, size_t len)
{
#if defined(__x86_64__) && defined(__GNUC__)
    if (s_hw)
        return ~s_crc_hw (~crc, data, len);
#endif
    return hd_journal_crc32c_sw (crc, data, len);
}

bool
hd_journal_crc32c_hw (void)
{
    return s_hw;
}

void
hd_journal_put32 (uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t) v;
    p[1] = (uint8_t) (v >> 8);
    p[2] = (uint8_t) (v >> 16);
    p[3] = (uint8_t) (v >> 24);
}

uint32_t
hd_journal_get32 (const uint8_t *p)
{
    return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

void
hd_journal_put64 (uint8_t *p, uint64_t v)
{
    hd_journal_put32 (p, (uint32_t) v);
    hd_journal_put32 (p + 4, (uint32_t) (v >> 32));
}

uint64_t
hd_journal_get64 (const uint8_t *p)
{
    return (uint64_t) hd_journal_get32 (p) | (uint64_t) hd_journal_get32 (p + 4) << 32;
}

void
hd_journal_encode_header (uint8_t out[HD_JOURNAL_HEADER], int64_t created_ms)
{
    memcpy (out, s_magic, sizeof s_magic);
    hd_journal_put32 (out + 4, HD_JOURNAL_VERSION);
    hd_journal_put64 (out + 8, (uint64_t) created_ms);
    hd_journal_put32 (out + 16, 0);  //  reserved (flags), 0 in versions 1 and 2
    hd_journal_put32 (out + 20, hd_journal_crc32c (0, out, 20));
}

//  The version is checked before the CRC: a later version may lay out its header differently,
//  and "unsupported version" is the useful message then.
hd_err_t
hd_journal_decode_header (hd_journal_t *self, const uint8_t *hdr)
{
    if (memcmp (hdr, s_magic, sizeof s_magic) != 0)
        return hd_journal_fail (self, HD_EIO, "journal.log is not a heddle journal (bad magic)");
    uint32_t version = hd_journal_get32 (hdr + 4);
    if (version < HD_JOURNAL_VERSION_MIN || version > HD_JOURNAL_VERSION)
        return hd_journal_fail (self, HD_EIO,
                                "journal.log has format version %u; this heddle reads %u to %u",
                                version, HD_JOURNAL_VERSION_MIN, HD_JOURNAL_VERSION);
    if (hd_journal_get32 (hdr + 20) != hd_journal_crc32c (0, hdr, 20))
        return hd_journal_fail (self, HD_EIO, "journal.log header is corrupt (CRC mismatch)");
    self->created_ms = (int64_t) hd_journal_get64 (hdr + 8);
    self->version = version;
    return HD_OK;
}

//  Body layout: type u8, id 16 bytes, alen u32, a, blen u32, b. The CRC covers the body; a
//  damaged length word is caught because the CRC is then taken over the wrong bytes.
hd_err_t
hd_journal_encode_record (hd_buf_t *buf, hd_jrec_type_t type, const hd_id_t *id, const void *a,
                          size_t alen, const void *b, size_t blen)
{
    const size_t room = HD_JOURNAL_MAX_RECORD - HD_JOURNAL_MIN_BODY;
    if (alen > room || blen > room - alen)
        return HD_ETOOBIG;
    size_t body = HD_JOURNAL_MIN_BODY + alen + blen;
    hd_err_t rc = hd_buf_reserve (buf, HD_JOURNAL_FRAME + body);
    if (rc != HD_OK)
        return rc;
    uint8_t *rec = buf->data + buf->size;
    uint8_t *p = rec + HD_JOURNAL_FRAME;
    *p++ = (uint8_t) type;
    memcpy (p, id->b, sizeof id->b);
    p += sizeof id->b;
    hd_journal_put32 (p, (uint32_t) alen);
    if (alen)
        memcpy (p + 4, a, alen);
    p += 4 + alen;
    hd_journal_put32 (p, (uint32_t) blen);
    if (blen)
        memcpy (p + 4, b, blen);
    hd_journal_put32 (rec, (uint32_t) body);
    hd_journal_put32 (rec + 4, hd_journal_crc32c (0, rec + HD_JOURNAL_FRAME, body));
    buf->size += HD_JOURNAL_FRAME + body;
    return HD_OK;
}
