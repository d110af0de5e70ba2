/* libFuzzer: the IDX reader (gzip or raw, both through zlib) must accept or
 * refuse with a message naming the file, never crash or leak; an accepted
 * array holds exactly the bytes its dimensions declare. idx_read takes a
 * path, so each input is written to one memory file (memfd) that it opens
 * by its /proc/self/fd name: no disk I/O per run. */
#define _GNU_SOURCE
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "evaluator/idx.h"

static int mem_fd = -1;
static char mem_path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (mem_fd < 0) {
        mem_fd = memfd_create("fuzz-idx", MFD_CLOEXEC);
        if (mem_fd < 0)
            abort();
        snprintf(mem_path, sizeof mem_path, "/proc/self/fd/%d", mem_fd);
    }
    if (ftruncate(mem_fd, 0) != 0 || pwrite(mem_fd, data, size, 0) != (ssize_t)size)
        abort();
    struct idx_array a;
    struct hw_err err;
    if (idx_read(mem_path, 1, IDX_MAX_DIMS, &a, &err) == HW_OK) {
        size_t n = 1;
        for (int i = 0; i < a.ndim; i++) {
            assert(a.dims[i] > 0);
            n *= (size_t)a.dims[i];
        }
        assert(n == a.size && a.data);
        /* every declared byte is inside the buffer (ASan checks the reads) */
        unsigned sum = 0;
        for (size_t i = 0; i < a.size; i++)
            sum += a.data[i];
        assert(sum <= 255 * a.size);
        idx_array_release(&a);
    } else {
        assert(!a.data && strstr(err.msg, mem_path));
    }
    return 0;
}
