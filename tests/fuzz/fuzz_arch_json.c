/* libFuzzer: the arch JSON reader must refuse or accept, never crash; an
 * accepted arch must validate and survive a write/read round trip. */
#include <assert.h>

#include "space/arch_json.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    struct arch a, back;
    struct hw_err err;
    if (text && arch_from_json_string(text, "fuzz.json", &a, &err) == HW_OK) {
        assert(arch_validate(&a, "fuzz", &err) == HW_OK);
        (void)arch_cost(&a);
        char *out = arch_to_json_string(&a);
        assert(out && arch_from_json_string(out, "again", &back, &err) == HW_OK);
        assert(arch_equal(&a, &back));
        free(out);
    }
    free(text);
    return 0;
}
