/* libFuzzer: the timm block-string parser. */
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_block_strings(data, size, arch_from_timm, arch_to_timm);
    return 0;
}
