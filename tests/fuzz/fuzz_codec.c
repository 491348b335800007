/*  fuzz_codec: libFuzzer target for the codec (header, validation, every envelope decoder and the
    decode -> encode -> decode round trip). Built and run by scripts/fuzz; the logic is in
    fuzz_entry.h so that tests/unit/lib/test_codec_regressions.c replays saved inputs the same way.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_entry.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (hd_fuzz_entry (data, size) != 0)
        abort ();  //  a decoded message did not survive encode + decode: make libFuzzer save it
    return 0;
}
