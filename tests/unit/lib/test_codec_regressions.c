/*  test_codec_regressions: replay every saved fuzz input (tests/fuzz/regressions/, crashes found
    by scripts/fuzz) and every seed (tests/fuzz/corpus/) through the fuzz target's own entry
    logic (tests/fuzz/fuzz_entry.h). Any decoder answer is fine; a crash, a sanitizer report or a
    broken round trip fails the test.  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../fuzz/fuzz_entry.h"

//  Read a whole file into a malloc'd buffer (NULL + size 0 for an empty file).
static uint8_t *
s_slurp (const char *path, size_t *size)
{
    FILE *file = fopen (path, "rb");
    assert_non_null (file);
    uint8_t *data = NULL;
    size_t used = 0, cap = 0;
    for (;;) {
        if (used == cap) {
            cap = cap ? cap * 2 : 4096;
            data = realloc (data, cap);
            assert_non_null (data);
        }
        size_t got = fread (data + used, 1, cap - used, file);
        used += got;
        if (got == 0)
            break;
    }
    fclose (file);
    *size = used;
    return data;
}

//  Replay every file of `dir` (dot files and README skipped). Returns how many were replayed.
static int
s_replay_dir (const char *dir)
{
    DIR *d = opendir (dir);
    if (!d)
        return 0;  //  the regressions directory may be absent in a trimmed checkout
    int count = 0;
    struct dirent *entry;
    while ((entry = readdir (d)) != NULL) {
        if (entry->d_name[0] == '.' || strcmp (entry->d_name, "README") == 0)
            continue;
        char path[4096];
        snprintf (path, sizeof path, "%s/%s", dir, entry->d_name);
        size_t size;
        uint8_t *data = s_slurp (path, &size);
        if (hd_fuzz_entry (data, size) != 0)
            fail_msg ("round trip broken by %s", path);
        free (data);
        count++;
    }
    closedir (d);
    return count;
}

static void
test_codec_replays_corpus (void **state)
{
    (void) state;
    assert_true (s_replay_dir (HD_SRC_DIR "/tests/fuzz/corpus") > 0);
}

static void
test_codec_replays_regressions (void **state)
{
    (void) state;
    int count = s_replay_dir (HD_SRC_DIR "/tests/fuzz/regressions");
    print_message ("replayed %d regression input(s)\n", count);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_codec_replays_corpus),
        cmocka_unit_test (test_codec_replays_regressions),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
