#include "space/refs.h"

#include <stdio.h>
#include <string.h>

#include "space/arch_json.h"

#define RE ARCH_ACT_RELU
#define R6 ARCH_ACT_RELU6
#define HS ARCH_ACT_HSWISH

/* One bottleneck as the papers' tables list it; `in` follows from the chain. */
struct ref_row {
    int k, mid, out, se;
    enum arch_act act;
    int stride;
};

struct ref_def {
    const char *name;
    int h, w, c, classes;
    struct arch_stem stem;
    struct arch_head head;
    const struct ref_row *rows; /* NULL: built by `build` */
    int n_rows;
    void (*build)(struct arch *a);
};

/* MobileNetV3 paper Table 1 (torchvision _mobilenet_v3_conf). */
static const struct ref_row mbv3_large[] = {
    {3, 16, 16, 0, RE, 1},   {3, 64, 24, 0, RE, 2},   {3, 72, 24, 0, RE, 1},
    {5, 72, 40, 1, RE, 2},   {5, 120, 40, 1, RE, 1},  {5, 120, 40, 1, RE, 1},
    {3, 240, 80, 0, HS, 2},  {3, 200, 80, 0, HS, 1},  {3, 184, 80, 0, HS, 1},
    {3, 184, 80, 0, HS, 1},  {3, 480, 112, 1, HS, 1}, {3, 672, 112, 1, HS, 1},
    {5, 672, 160, 1, HS, 2}, {5, 960, 160, 1, HS, 1}, {5, 960, 160, 1, HS, 1},
};

/* MobileNetV3 paper Table 2 (v5). */
static const struct ref_row mbv3_small[] = {
    {3, 16, 16, 1, RE, 2},  {3, 72, 24, 0, RE, 2},  {3, 88, 24, 0, RE, 1},
    {5, 96, 40, 1, HS, 2},  {5, 240, 40, 1, HS, 1}, {5, 240, 40, 1, HS, 1},
    {5, 120, 48, 1, HS, 1}, {5, 144, 48, 1, HS, 1}, {5, 288, 96, 1, HS, 2},
    {5, 576, 96, 1, HS, 1}, {5, 576, 96, 1, HS, 1},
};

/* DESIGN.md "Reference proxy net". */
static const struct ref_row fmnist_ref[] = {
    {3, 16, 16, 1, RE, 1},  {3, 64, 24, 0, RE, 2},  {3, 72, 24, 0, RE, 1},
    {5, 72, 40, 1, HS, 2},  {5, 120, 40, 1, HS, 1}, {5, 240, 80, 1, HS, 2},
    {5, 480, 80, 1, HS, 1},
};

/* fmnist-ref's SE (as in shared/anchors/torch_train_fmnist.py) rounds the
 * squeeze without torchvision's "+8 if below 90 %" rule: 72 -> 16, not 24.
 * That is what makes its totals 546,322 params / 6,776,864 MACs. */
static void build_fmnist_ref(struct arch *a)
{
    for (int i = 0; i < a->n_layers; i++) {
        struct arch_layer *l = &a->layers[i];
        int sq = (l->mid / 4 + 4) / 8 * 8;
        if (l->se)
            l->sq = sq < 8 ? 8 : sq;
    }
}

/* torchvision MobileNetV2: (t, c, n, s) stages, hidden = round(in * t). */
static void build_mbv2(struct arch *a)
{
    static const int tcns[][4] = {{1, 16, 1, 1},  {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                  {6, 96, 3, 1},  {6, 160, 3, 2}, {6, 320, 1, 1}};
    int in = a->stem.out;
    for (size_t s = 0; s < sizeof tcns / sizeof tcns[0]; s++)
        for (int r = 0; r < tcns[s][2]; r++) {
            a->layers[a->n_layers++] = (struct arch_layer){
                3, r == 0 ? tcns[s][3] : 1, in, in * tcns[s][0], tcns[s][1], 0, R6};
            in = tcns[s][1];
        }
}

static const struct ref_def refs[] = {
    {"mobilenetv3-large", 224, 224, 3, 1000, {3, 2, 16, HS}, {960, HS, 1280, HS, 0.2f},
     mbv3_large, sizeof mbv3_large / sizeof mbv3_large[0], NULL},
    {"mobilenetv3-small", 224, 224, 3, 1000, {3, 2, 16, HS}, {576, HS, 1024, HS, 0.2f},
     mbv3_small, sizeof mbv3_small / sizeof mbv3_small[0], NULL},
    {"mobilenetv2", 224, 224, 3, 1000, {3, 2, 32, R6}, {1280, R6, 0, R6, 0.2f}, NULL, 0,
     build_mbv2},
    {"fmnist-ref", 28, 28, 1, 10, {3, 1, 16, HS}, {384, HS, 512, HS, 0.2f}, fmnist_ref,
     sizeof fmnist_ref / sizeof fmnist_ref[0], build_fmnist_ref},
};
#define N_REFS (sizeof refs / sizeof refs[0])

const char *const *arch_reference_names(void)
{
    static const char *names[N_REFS + 1];
    for (size_t i = 0; i < N_REFS; i++)
        names[i] = refs[i].name;
    return names;
}

static void apply_input(struct arch *a, const struct arch_input *in)
{
    if (!in)
        return;
    if (in->h)
        a->in_h = in->h;
    if (in->w)
        a->in_w = in->w;
    if (in->c)
        a->in_c = in->c;
    if (in->classes)
        a->classes = in->classes;
}

int arch_reference(const char *name, const struct arch_input *in, struct arch *out,
                   struct hw_err *err)
{
    for (size_t i = 0; i < N_REFS; i++) {
        const struct ref_def *d = &refs[i];
        if (strcmp(name, d->name) != 0)
            continue;
        memset(out, 0, sizeof *out);
        snprintf(out->name, sizeof out->name, "%s", d->name);
        out->in_h = d->h;
        out->in_w = d->w;
        out->in_c = d->c;
        out->classes = d->classes;
        out->stem = d->stem;
        out->head = d->head;
        int prev = d->stem.out;
        for (int r = 0; r < d->n_rows; r++) {
            const struct ref_row *row = &d->rows[r];
            out->layers[r] = (struct arch_layer){row->k, row->stride, prev, row->mid,
                                                 row->out, row->se, row->act};
            prev = row->out;
        }
        out->n_layers = d->n_rows;
        if (d->build)
            d->build(out);
        apply_input(out, in);
        return arch_validate(out, name, err);
    }
    return hw_error(err, HW_ENOTFOUND,
                    "%s: not a reference (mobilenetv3-large, mobilenetv3-small, "
                    "mobilenetv2, fmnist-ref) nor an arch JSON file",
                    name);
}

int arch_resolve(const char *name_or_file, const struct arch_input *in, struct arch *out,
                 struct hw_err *err)
{
    for (size_t i = 0; i < N_REFS; i++)
        if (strcmp(name_or_file, refs[i].name) == 0)
            return arch_reference(name_or_file, in, out, err);
    FILE *f = fopen(name_or_file, "rb");
    if (!f)
        return arch_reference(name_or_file, in, out, err); /* reports the known names */
    fclose(f);
    int rc = arch_load(name_or_file, out, err);
    if (rc)
        return rc;
    apply_input(out, in);
    return arch_validate(out, name_or_file, err);
}
