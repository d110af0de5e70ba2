/* libFuzzer: the mnasnet block-string parser. */
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_block_strings(data, size, arch_from_mnasnet, arch_to_mnasnet);
    return 0;
}
