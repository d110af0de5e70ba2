/* Shared by the libFuzzer targets. */
#ifndef HWNAS_FUZZ_COMMON_H
#define HWNAS_FUZZ_COMMON_H

#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "space/export.h"
#include "space/refs.h"

/* The input as a NUL-terminated string (cut at an embedded NUL, as a C
 * caller would see it); malloc'd, NULL when out of memory. */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s) {
        memcpy(s, data, size);
        s[size] = '\0';
    }
    return s;
}

typedef int (*fuzz_parse_fn)(const char *, const struct arch *, struct arch *, struct hw_err *);
typedef int (*fuzz_write_fn)(const struct arch *, char **, struct hw_err *);

/* One block-string parser (template fmnist-ref): an accepted string must give
 * a valid arch that, when the format can write it, parses back to itself. */
static inline void fuzz_block_strings(const uint8_t *data, size_t size, fuzz_parse_fn parse,
                                      fuzz_write_fn write)
{
    char *text = fuzz_text(data, size);
    struct arch tmpl, a, back;
    struct hw_err err;
    if (arch_reference("fmnist-ref", NULL, &tmpl, &err) != HW_OK)
        abort();
    if (text && parse(text, &tmpl, &a, &err) == HW_OK) {
        char *out;
        assert(arch_validate(&a, "fuzz", &err) == HW_OK);
        if (write(&a, &out, &err) == HW_OK) {
            assert(parse(out, &tmpl, &back, &err) == HW_OK);
            assert(arch_equal(&a, &back));
            free(out);
        }
    }
    free(text);
}

#endif
