/* Shared by the latency-table import targets (fuzz_lut_json, fuzz_lut_csv). */
#ifndef HWNAS_FUZZ_LUT_H
#define HWNAS_FUZZ_LUT_H

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdio.h>

#include "latency/lut.h"
#include "tests/fuzz/fuzz_common.h"

/* t exported as JSON (csv 0) or CSV (csv 1), then imported again. */
static inline void fuzz_lut_reimport(const struct lut *t, int csv, struct lut *back)
{
    char *text = NULL;
    size_t len = 0;
    struct hw_err err;
    FILE *f = open_memstream(&text, &len);
    if (!f)
        abort();
    assert((csv ? lut_export_csv(t, f, &err) : lut_export_json(t, f, &err)) == HW_OK);
    fclose(f);
    int rc = lut_import_string(back, text, "again", &err);
    if (rc != HW_OK)
        fprintf(stderr, "re-import of the %s export refused: %s\n", csv ? "CSV" : "JSON",
                err.msg);
    assert(rc == HW_OK);
    free(text);
}

/* Equal as cJSON prints numbers: 15 significant digits when they read back
 * within a relative DBL_EPSILON, else 17. */
static inline int fuzz_near(double a, double b)
{
    return fabs(a - b) <= DBL_EPSILON * fmax(fabs(a), fabs(b));
}

/* An accepted table survives a JSON export and import (numbers as
 * fuzz_near), and a CSV one (which prints fixed decimals and carries no
 * calibrations) with its keys, run counts and fingerprint. */
static inline void fuzz_lut_round_trip(const struct lut *t)
{
    struct lut back;
    for (int csv = 0; csv < 2; csv++) {
        fuzz_lut_reimport(t, csv, &back);
        assert(strcmp(back.fp.hash, t->fp.hash) == 0 && back.n == t->n);
        for (int i = 0; i < t->cap; i++) {
            const struct lut_entry *e = &t->entries[i], *b;
            if (!e->key[0])
                continue;
            b = lut_get(&back, e->key);
            assert(b && b->st.count == e->st.count);
            assert(csv || (fuzz_near(b->st.mean_us, e->st.mean_us) &&
                           fuzz_near(b->st.median_us, e->st.median_us) &&
                           fuzz_near(b->st.var_us, e->st.var_us) &&
                           fuzz_near(b->st.min_us, e->st.min_us) &&
                           fuzz_near(b->st.max_us, e->st.max_us)));
        }
        assert(back.n_calib == (csv ? 0 : t->n_calib));
        for (int i = 0; i < back.n_calib; i++) {
            const struct lat_calib *x = &t->calib[i].c, *y = &back.calib[i].c;
            assert(strcmp(t->calib[i].input, back.calib[i].input) == 0);
            assert(fuzz_near(x->alpha_us, y->alpha_us) && fuzz_near(x->beta, y->beta) &&
                   fuzz_near(x->gamma_us, y->gamma_us) && fuzz_near(x->delta_us, y->delta_us) &&
                   x->samples == y->samples && fuzz_near(x->rmspe_sum, y->rmspe_sum) &&
                   fuzz_near(x->rmspe_fit, y->rmspe_fit) && x->stat_min == y->stat_min);
        }
        lut_release(&back);
    }
}

/* One input of the JSON (json 1) or CSV (json 0) target: lut_import picks the
 * format by the first non-blank character, so each target keeps only its
 * own format's inputs. The import accepts (and round-trips) or refuses with
 * a message naming the file and leaves the table empty. */
static inline void fuzz_lut_import(const uint8_t *data, size_t size, int json)
{
    char *text = fuzz_text(data, size);
    if (!text)
        return;
    const char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    if ((*p == '{') == json) {
        struct lut t;
        struct hw_err err;
        if (lut_import_string(&t, text, "fuzz.lut", &err) == HW_OK) {
            fuzz_lut_round_trip(&t);
            lut_release(&t);
        } else {
            assert(t.n == 0 && !t.entries && strstr(err.msg, "fuzz.lut"));
        }
    }
    free(text);
}

#endif
