/* libFuzzer: the latency-table import, JSON files (hwnas lut import). */
#include "tests/fuzz/fuzz_lut.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_lut_import(data, size, 1);
    return 0;
}
