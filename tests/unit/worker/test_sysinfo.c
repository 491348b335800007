/*  test_sysinfo: the machine sampler against a fake /proc and /sys tree written in a temporary
    directory (the test controls every counter and the clock), one real-machine sample, and the
    benchmark kernel of hd_bench_score (its checksum only: nothing here asserts on timing).  */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hd_bench_score.h"
#include "hd_sysinfo.h"

#define S_MAX_PATHS 64

typedef struct {
    char root[64];
    char paths[S_MAX_PATHS][256];  //  created files and directories, removed in reverse order
    int npaths;
    hd_sampler_t *sampler;
    hd_sysinfo_t info;
} fixture_t;

static void
s_track (fixture_t *fix, const char *path)
{
    assert_true (fix->npaths < S_MAX_PATHS);
    snprintf (fix->paths[fix->npaths++], sizeof fix->paths[0], "%s", path);
}

//  mkdir -p of every parent of root/rel, tracking what it created.
static void
s_make_parents (fixture_t *fix, const char *rel)
{
    char path[256];
    snprintf (path, sizeof path, "%s/%s", fix->root, rel);
    for (char *p = path + strlen (fix->root) + 1; (p = strchr (p, '/')) != NULL; p++) {
        *p = 0;
        if (mkdir (path, 0700) == 0)
            s_track (fix, path);
        *p = '/';
    }
}

//  Write (or overwrite) root/rel with `text`.
static void
s_write (fixture_t *fix, const char *rel, const char *text)
{
    s_make_parents (fix, rel);
    char path[256];
    snprintf (path, sizeof path, "%s/%s", fix->root, rel);
    bool existed = access (path, F_OK) == 0;
    FILE *f = fopen (path, "w");
    assert_non_null (f);
    assert_int_equal (fputs (text, f) >= 0, 1);
    assert_int_equal (fclose (f), 0);
    if (!existed)
        s_track (fix, path);
}

static hd_sysinfo_t *
s_sample (fixture_t *fix, int64_t now_ms)
{
    if (!fix->sampler)
        fix->sampler = hd_sampler_new (NULL, fix->root);
    assert_non_null (fix->sampler);
    assert_int_equal (hd_sampler_sample (fix->sampler, now_ms, &fix->info), HD_OK);
    return &fix->info;
}

static int
s_setup (void **state)
{
    fixture_t *fix = calloc (1, sizeof *fix);
    if (!fix)
        return -1;
    snprintf (fix->root, sizeof fix->root, "/tmp/hd_sysinfo_XXXXXX");
    if (!mkdtemp (fix->root)) {
        free (fix);
        return -1;
    }
    *state = fix;
    return 0;
}

static int
s_teardown (void **state)
{
    fixture_t *fix = *state;
    hd_sampler_destroy (&fix->sampler);
    while (fix->npaths > 0)
        remove (fix->paths[--fix->npaths]);
    rmdir (fix->root);
    free (fix);
    return 0;
}

//  --- fake tree: CPU, load, memory ------------------------------------------------------------

static void
test_sysinfo_cpu_util_absent_on_first_sample (void **state)
{
    fixture_t *fix = *state;
    s_write (fix, "proc/stat", "cpu  100 0 100 800 0 0 0 0 0 0\ncpu0 100 0 100 800 0 0 0 0 0 0\n");
    hd_sysinfo_t *info = s_sample (fix, 1000);
    assert_false (info->present & HD_M_CPU);
    assert_true (info->cpu_util == 0);
}

static void
test_sysinfo_cpu_util_from_two_stat_snapshots (void **state)
{
    fixture_t *fix = *state;
    s_write (fix, "proc/stat", "cpu  100 0 100 800 0 0 0 0 0 0\nintr 1 2 3\n");
    s_sample (fix, 1000);
    //  +100 user +50 system +50 idle: 150 busy of 200 ticks
    s_write (fix, "proc/stat", "cpu  200 0 150 850 0 0 0 0 0 0\nintr 1 2 3\n");
    hd_sysinfo_t *info = s_sample (fix, 2000);
    assert_true (info->present & HD_M_CPU);
    assert_float_equal (info->cpu_util, 0.75, 1e-12);
}

static void
test_sysinfo_cpu_util_counts_iowait_as_idle (void **state)
{
    fixture_t *fix = *state;
    s_write (fix, "proc/stat", "cpu  0 0 0 0 0 0 0 0\n");
    s_sample (fix, 1000);
    //  +25 user, +25 irq, +25 idle, +25 iowait: half busy; guest (already in user) not counted
    s_write (fix, "proc/stat", "cpu  25 0 0 25 25 25 0 0 25 0\n");
    hd_sysinfo_t *info = s_sample (fix, 2000);
    assert_float_equal (info->cpu_util, 0.5, 1e-12);
}

static void
test_sysinfo_cpu_counter_reset_makes_new_baseline (void **state)
{
    fixture_t *fix = *state;
    s_write (fix, "proc/stat", "cpu  500 0 500 1000 0 0 0 0\n");
    s_sample (fix, 1000);
    s_write (fix, "proc/stat", "cpu  10 0 10 80 0 0 0 0\n");
    assert_false (s_sample (fix, 2000)->present & HD_M_CPU);
    s_write (fix, "proc/stat", "cpu  20 0 10 170 0 0 0 0\n");
    hd_sysinfo_t *info = s_sample (fix, 3000);
    assert_float_equal (info->cpu_util, 0.1, 1e-12);
}

static void
test_sysinfo_reads_loadavg (void **state)
{
    fixture_t *fix = *state;
    s_write (fix, "proc/loadavg", "0.52 1.25 3.00 2/467 12345\n");
    hd_sysinfo_t *info = s_sample (fix, 1000);
    assert_int_equal (info->present & (HD_M_LOAD1 | HD_M_LOAD5 | HD_M_LOAD15),
                      HD_M_LOAD1 | HD_M_LOAD5 | HD_M_LOAD15);
    assert_float_equal (info->load1, 0.52, 1e-12);
    assert_float_equal (info->load5, 1.25, 1e-12);
    assert_float_equal (info->load15, 3.0, 1e-12);
}

static void
test_sysinfo_reads_meminfo_in_bytes (void **state)
{
    fixture_t *fix = *state;
    s_write (fix, "proc/meminfo",
             "MemTotal:        3884548 kB\nMemFree:          123456 kB\n"
             "MemAvailable:    2000000 kB\nBuffers:           11111 kB\n");
    hd_sysinfo_t *info = s_sample (fix, 1000);
    assert_true (info->present & HD_M_MEM_TOTAL);
    assert_true (info->present & HD_M_MEM_AVAIL);
    assert_true (info->mem_total == 3884548ull * 1024);
    assert_true (info->mem_avail == 2000000ull * 1024);
}

static void
test_sysinfo_mem_avail_absent_on_old_kernel (void **state)
{
    fixture_t *fix = *state;
    s_write (fix, "proc/meminfo", "MemTotal:        3884548 kB\nMemFree:          123456 kB\n");
    hd_sysinfo_t *info = s_sample (fix, 1000);
    assert_true (info->present & HD_M_MEM_TOTAL);
    assert_false (info->present & HD_M_MEM_AVAIL);
}

static void
test_sysinfo_cores_from_online_list (void **state)
{
    fixture_t *fix = *state;
    s_write (fix, "sys/devices/system/cpu/online", "0-3,6,8-9\n");
    hd_sysinfo_t *info = s_sample (fix, 1000);
    assert_true (info->present & HD_M_CORES);
    assert_int_equal (info->cores, 7);
}

static void
test_sysinfo_empty_tree_leaves_all_but_cores_absent (void **state)
{
    fixture_t *fix = *state;
    hd_sysinfo_t *info = s_sample (fix, 1000);
    assert_int_equal (info->present, HD_M_CORES);
    assert_true (info->cores > 0);
    assert_int_equal (s_sample (fix, 2000)->present, HD_M_CORES);
}

//  --- fake tree: network ---------------------------------------------------------------------

#define S_NET_HEAD                                                                                 \
    "Inter-|   Receive                                                |  Transmit\n"               \
    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "     \
    "drop fifo colls carrier compressed\n"

static void
s_write_net (fixture_t *fix, unsigned lo, unsigned eth_rx, unsigned eth_tx, unsigned wl_rx,
             unsigned wl_tx)
{
    char text[1024];
    snprintf (text, sizeof text,
              S_NET_HEAD "    lo: %u 10 0 0 0 0 0 0 %u 10 0 0 0 0 0 0\n"
                         "  eth0: %u 20 0 0 0 0 0 0 %u 20 0 0 0 0 0 0\n"
                         "wlan0: %u 30 0 0 0 0 0 0 %u 30 0 0 0 0 0 0\n",
              lo, lo, eth_rx, eth_tx, wl_rx, wl_tx);
    s_write (fix, "proc/net/dev", text);
}

static void
test_sysinfo_net_rates_absent_on_first_sample (void **state)
{
    fixture_t *fix = *state;
    s_write_net (fix, 0, 1000, 1000, 0, 0);
    hd_sysinfo_t *info = s_sample (fix, 1000);
    assert_false (info->present & (HD_M_RX | HD_M_TX));
}

static void
test_sysinfo_net_rates_sum_non_loopback_over_time (void **state)
{
    fixture_t *fix = *state;
    s_write_net (fix, 5000, 1000, 2000, 300, 400);
    s_sample (fix, 10000);
    //  2 s later: eth0 +3000 rx +1000 tx, wlan0 +1000 rx +3000 tx; lo's +1e6 ignored
    s_write_net (fix, 1005000, 4000, 3000, 1300, 3400);
    hd_sysinfo_t *info = s_sample (fix, 12000);
    assert_int_equal (info->present & (HD_M_RX | HD_M_TX), HD_M_RX | HD_M_TX);
    assert_float_equal (info->net_rx_bps, 2000.0, 1e-9);
    assert_float_equal (info->net_tx_bps, 2000.0, 1e-9);
}

static void
test_sysinfo_net_rates_absent_when_clock_did_not_advance (void **state)
{
    fixture_t *fix = *state;
    s_write_net (fix, 0, 1000, 1000, 0, 0);
    s_sample (fix, 5000);
    s_write_net (fix, 0, 2000, 2000, 0, 0);
    assert_false (s_sample (fix, 5000)->present & HD_M_RX);
    hd_sysinfo_t *info = s_sample (fix, 6000);  //  still measured from the first baseline
    assert_float_equal (info->net_rx_bps, 1000.0, 1e-9);
}

static void
test_sysinfo_net_counter_drop_makes_new_baseline (void **state)
{
    fixture_t *fix = *state;
    s_write_net (fix, 0, 9000, 9000, 9000, 9000);
    s_sample (fix, 1000);
    s_write_net (fix, 0, 9500, 9500, 0, 0);  //  wlan0 went away and came back at zero
    assert_false (s_sample (fix, 2000)->present & (HD_M_RX | HD_M_TX));
    s_write_net (fix, 0, 10500, 9500, 0, 0);
    assert_float_equal (s_sample (fix, 3000)->net_rx_bps, 1000.0, 1e-9);
}

static void
test_sysinfo_net_skips_overlong_line (void **state)
{
    fixture_t *fix = *state;
    static char text[16384];
    size_t n = (size_t) snprintf (text, sizeof text, "%s", S_NET_HEAD);
    memset (text + n, 'x', 9000);  //  one 9000-byte line, over the reader's buffer
    n += 9000;
    snprintf (text + n, sizeof text - n, ":\n  eth0: 100 1 0 0 0 0 0 0 200 1 0 0 0 0 0 0\n");
    s_write (fix, "proc/net/dev", text);
    s_sample (fix, 1000);
    n += (size_t) snprintf (text + n, sizeof text - n, ":\n");
    snprintf (text + n, sizeof text - n, "  eth0: 1100 1 0 0 0 0 0 0 200 1 0 0 0 0 0 0\n");
    s_write (fix, "proc/net/dev", text);
    assert_float_equal (s_sample (fix, 2000)->net_rx_bps, 1000.0, 1e-9);
}

//  --- fake tree: temperature, throttling, disk -------------------------------------------------

static void
test_sysinfo_temp_is_max_of_zones (void **state)
{
    fixture_t *fix = *state;
    s_write (fix, "sys/class/thermal/thermal_zone0/temp", "48312\n");
    s_write (fix, "sys/class/thermal/thermal_zone1/temp", "61500\n");
    s_write (fix, "sys/class/thermal/cooling_device0/cur_state", "0\n");
    hd_sysinfo_t *info = s_sample (fix, 1000);
    assert_true (info->present & HD_M_TEMP);
    assert_float_equal (info->temp_c, 61.5, 1e-9);
}

static void
test_sysinfo_temp_skips_unreadable_zone (void **state)
{
    fixture_t *fix = *state;
    s_write (fix, "sys/class/thermal/thermal_zone0/temp", "\n");
    s_write (fix, "sys/class/thermal/thermal_zone3/temp", "-5000\n");
    hd_sysinfo_t *info = s_sample (fix, 1000);
    assert_true (info->present & HD_M_TEMP);
    assert_float_equal (info->temp_c, -5.0, 1e-9);
}

static void
test_sysinfo_temp_absent_without_zones (void **state)
{
    fixture_t *fix = *state;
    s_write (fix, "sys/class/thermal/cooling_device0/cur_state", "0\n");
    hd_sysinfo_t *info = s_sample (fix, 1000);
    assert_false (info->present & HD_M_TEMP);
}

static void
test_sysinfo_throttled_parses_hex (void **state)
{
    fixture_t *fix = *state;
    s_write (fix, "sys/devices/platform/soc/soc:firmware/get_throttled", "50005\n");
    hd_sysinfo_t *info = s_sample (fix, 1000);
    assert_true (info->present & HD_M_THROTTLED);
    assert_int_equal (info->throttled, 0x50005);
}

static void
test_sysinfo_throttled_absent_off_pi (void **state)
{
    fixture_t *fix = *state;
    s_write (fix, "proc/loadavg", "0.00 0.00 0.00 1/1 1\n");
    hd_sysinfo_t *info = s_sample (fix, 1000);
    assert_false (info->present & HD_M_THROTTLED);
}

static void
test_sysinfo_disk_of_work_dir (void **state)
{
    fixture_t *fix = *state;
    fix->sampler = hd_sampler_new (fix->root, fix->root);
    hd_sysinfo_t *info = s_sample (fix, 1000);
    assert_int_equal (info->present & (HD_M_DISK_FREE | HD_M_DISK_TOTAL),
                      HD_M_DISK_FREE | HD_M_DISK_TOTAL);
    assert_true (info->disk_total > 0);
    assert_true (info->disk_free <= info->disk_total);
}

static void
test_sysinfo_disk_absent_for_missing_work_dir (void **state)
{
    fixture_t *fix = *state;
    fix->sampler = hd_sampler_new ("/nonexistent/heddle/work", fix->root);
    hd_sysinfo_t *info = s_sample (fix, 1000);
    assert_false (info->present & (HD_M_DISK_FREE | HD_M_DISK_TOTAL));
}

//  --- the real machine ------------------------------------------------------------------------

static void
test_sysinfo_samples_real_machine (void **state)
{
    (void) state;
    hd_sampler_t *s = hd_sampler_new ("/", "");
    assert_non_null (s);
    hd_sysinfo_t info;
    assert_int_equal (hd_sampler_sample (s, 1000, &info), HD_OK);
    assert_true (info.cores > 0);
    assert_true (info.present & HD_M_MEM_TOTAL);
    assert_true (info.mem_total > 0);
    assert_int_equal (hd_sampler_sample (s, 2000, &info), HD_OK);
    if (info.present & HD_M_CPU)
        assert_true (info.cpu_util >= 0 && info.cpu_util <= 1);
    hd_sampler_destroy (&s);
    assert_null (s);
}

//  --- benchmark kernel ------------------------------------------------------------------------

static void
test_bench_score_kernel_is_deterministic (void **state)
{
    (void) state;
    assert_true (hd_bench_score_kernel (100) == hd_bench_score_kernel (100));
}

//  Pinned: a different checksum means the kernel changed, so scores from this build no longer
//  compare with other workers' (see docs/METRICS.md before updating the constant).
static void
test_bench_score_kernel_checksum_is_pinned (void **state)
{
    (void) state;
    assert_true (hd_bench_score_kernel (1000) == UINT64_C (0x24959ab2a06edce1));
}

static void
test_bench_score_kernel_depends_on_work (void **state)
{
    (void) state;
    assert_true (hd_bench_score_kernel (10) != hd_bench_score_kernel (11));
}

static void
test_bench_score_is_positive (void **state)
{
    (void) state;
    assert_true (hd_bench_score (10) > 0);
}

#define S_TEST(t) cmocka_unit_test_setup_teardown (t, s_setup, s_teardown)

int
main (void)
{
    const struct CMUnitTest tests[] = {
        S_TEST (test_sysinfo_cpu_util_absent_on_first_sample),
        S_TEST (test_sysinfo_cpu_util_from_two_stat_snapshots),
        S_TEST (test_sysinfo_cpu_util_counts_iowait_as_idle),
        S_TEST (test_sysinfo_cpu_counter_reset_makes_new_baseline),
        S_TEST (test_sysinfo_reads_loadavg),
        S_TEST (test_sysinfo_reads_meminfo_in_bytes),
        S_TEST (test_sysinfo_mem_avail_absent_on_old_kernel),
        S_TEST (test_sysinfo_cores_from_online_list),
        S_TEST (test_sysinfo_empty_tree_leaves_all_but_cores_absent),
        S_TEST (test_sysinfo_net_rates_absent_on_first_sample),
        S_TEST (test_sysinfo_net_rates_sum_non_loopback_over_time),
        S_TEST (test_sysinfo_net_rates_absent_when_clock_did_not_advance),
        S_TEST (test_sysinfo_net_counter_drop_makes_new_baseline),
        S_TEST (test_sysinfo_net_skips_overlong_line),
        S_TEST (test_sysinfo_temp_is_max_of_zones),
        S_TEST (test_sysinfo_temp_skips_unreadable_zone),
        S_TEST (test_sysinfo_temp_absent_without_zones),
        S_TEST (test_sysinfo_throttled_parses_hex),
        S_TEST (test_sysinfo_throttled_absent_off_pi),
        S_TEST (test_sysinfo_disk_of_work_dir),
        S_TEST (test_sysinfo_disk_absent_for_missing_work_dir),
        S_TEST (test_sysinfo_samples_real_machine),
        S_TEST (test_bench_score_kernel_is_deterministic),
        S_TEST (test_bench_score_kernel_checksum_is_pinned),
        S_TEST (test_bench_score_kernel_depends_on_work),
        S_TEST (test_bench_score_is_positive),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
