/* libFuzzer: the model-file loader. `hwnas eval`, NetAdapt and the ONNX
 * export (cli/cmd_export.c) all read .hwm files through it: it must refuse
 * with a message naming the file, or return a net whose arch validates,
 * never crash or leak. Each input is loaded as given and again with its
 * checksum made right, so that mutated archs and counts reach the net
 * building behind the check. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "evaluator/model.h"
#include "space/arch_json.h"

/* Archs above this many MACs are not built from fixed-up inputs: such nets
 * are legitimately large (a 4096x4096 input asks for gigabytes), which
 * would only slow the run or trip libFuzzer's memory limit. The seeds have
 * 13k-27k MACs, fmnist-ref 6.8M. */
#define FUZZ_MAX_MACS 2000000

static void load(const uint8_t *data, size_t size)
{
    struct nn_net *net;
    struct hw_err err;
    /* max_batch 2: what the export and `hwnas eval` load with */
    if (model_load_bytes(data, size, "fuzz.hwm", 2, &net, &err) == HW_OK) {
        assert(arch_validate(nn_net_arch(net), "fuzz", &err) == HW_OK);
        nn_net_free(net);
    } else {
        assert(!net && strstr(err.msg, "fuzz.hwm"));
    }
}

/* Whether the arch JSON at the place model.h gives parses to a net larger
 * than FUZZ_MAX_MACS. */
static int arch_too_big(const uint8_t *data, size_t size)
{
    uint32_t jlen;
    if (size < 16)
        return 0;
    memcpy(&jlen, data + 12, 4);
    if (jlen > size - 16)
        return 0;
    char *json = malloc((size_t)jlen + 1);
    if (!json)
        abort();
    memcpy(json, data + 16, jlen);
    json[jlen] = '\0';
    struct arch a;
    struct hw_err err;
    int big = arch_from_json_string(json, "fuzz", &a, &err) == HW_OK &&
              arch_cost(&a).macs > FUZZ_MAX_MACS;
    free(json);
    return big;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (arch_too_big(data, size))
        return 0;
    load(data, size);
    if (size >= 4) {
        uint8_t *fixed = malloc(size);
        if (!fixed)
            abort();
        memcpy(fixed, data, size);
        uint32_t crc = (uint32_t)crc32(0L, fixed, (uInt)(size - 4));
        memcpy(fixed + size - 4, &crc, 4);
        load(fixed, size);
        free(fixed);
    }
    return 0;
}
