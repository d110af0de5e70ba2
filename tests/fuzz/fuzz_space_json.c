/* libFuzzer: the space JSON reader; an accepted space must decode its first
 * and last token vectors and encode them back exactly. */
#include <assert.h>

#include "space/space.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    static struct space s;
    struct hw_err err;
    if (text && space_from_json_string(text, "fuzz.json", &s, &err) == HW_OK) {
        int tok[SPACE_MAX_TOKENS], back[SPACE_MAX_TOKENS];
        for (int pass = 0; pass < 2; pass++) {
            struct arch a;
            for (int t = 0; t < space_n_tokens(&s); t++)
                tok[t] = pass ? space_token_choices(&s, t) - 1 : 0;
            assert(space_decode(&s, tok, &a, &err) == HW_OK);
            assert(space_encode(&s, &a, back, &err) == HW_OK);
            assert(memcmp(tok, back, sizeof tok[0] * (size_t)space_n_tokens(&s)) == 0);
        }
        struct arch_cost lo, hi;
        space_cost_bounds(&s, &lo, &hi);
        assert(lo.macs <= hi.macs && lo.params <= hi.params);
    }
    free(text);
    return 0;
}
