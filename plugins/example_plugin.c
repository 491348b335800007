/*  example_plugin: a complete heddle plugin, to copy from. Registers two task functions:
      reverse  the input bytes in reverse order
      upper    the input with ASCII a-z turned into A-Z (other bytes unchanged)
    Build it as a shared object that includes only heddle_plugin.h, e.g.
        cc -std=c11 -shared -fPIC -I worker/include plugins/example_plugin.c -o my_plugin.so
    and load it with `heddle-worker --plugin ./my_plugin.so`. The CMake target
    heddle_example_plugin builds this file as heddle_example_plugin.so.  */
#include <stddef.h>

#include "heddle_plugin.h"

//  The host table stays valid as long as the plugin is loaded, so keeping the pointer is fine.
//  Written once in heddle_plugin_init, before any task runs, then only read.
static const heddle_host_t *s_host;

//  Output is produced in bounded chunks, so a large input needs no second copy of its size,
//  and the task is cancelled within one chunk.
#define EXAMPLE_CHUNK 65536

static int
s_reverse (heddle_task_t *task, const void *input, size_t size, void *arg)
{
    (void) arg;
    const unsigned char *in = input;
    unsigned char chunk[EXAMPLE_CHUNK];
    size_t left = size;  //  bytes in[0..left) still to emit, last byte first
    while (left > 0) {
        if (s_host->cancelled (task))
            return -1;  //  the worker reports TIMEOUT or CANCELLED itself
        size_t n = left < EXAMPLE_CHUNK ? left : EXAMPLE_CHUNK;
        for (size_t i = 0; i < n; i++)
            chunk[i] = in[left - 1 - i];
        if (s_host->output (task, chunk, n) != 0) {
            s_host->fail (task, "reverse: output over the limit");
            return -1;
        }
        left -= n;
    }
    return 0;
}

static int
s_upper (heddle_task_t *task, const void *input, size_t size, void *arg)
{
    (void) arg;
    const unsigned char *in = input;
    unsigned char chunk[EXAMPLE_CHUNK];
    for (size_t done = 0; done < size;) {
        if (s_host->cancelled (task))
            return -1;
        size_t n = size - done < EXAMPLE_CHUNK ? size - done : EXAMPLE_CHUNK;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = in[done + i];
            chunk[i] = c >= 'a' && c <= 'z' ? (unsigned char) (c - 'a' + 'A') : c;
        }
        if (s_host->output (task, chunk, n) != 0) {
            s_host->fail (task, "upper: output over the limit");
            return -1;
        }
        done += n;
    }
    return 0;
}

//  The one exported symbol. Refuses a worker built for another ABI (its host table may not
//  have the layout this file was compiled against), and refuses to load half-registered.
int
heddle_plugin_init (const heddle_host_t *host)
{
    if (!host || host->abi != HEDDLE_PLUGIN_ABI)
        return 1;
    s_host = host;
    if (host->register_fn (host->ctx, "reverse", s_reverse, NULL) != 0)
        return 2;
    if (host->register_fn (host->ctx, "upper", s_upper, NULL) != 0)
        return 2;
    return 0;
}
