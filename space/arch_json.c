#include "space/arch_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "space/jfield.h"

static const int kernels[] = {3, 5, 7};
static const int strides[] = {1, 2};

static int read_layer(const struct jfield_ctx *c, const cJSON *node, const char *path,
                      struct arch_layer *l)
{
    const struct jfield fields[] = {
        {.key = "k", .type = JF_INT_OF, .dest = &l->k, .set = kernels, .n_set = 3},
        {.key = "stride", .type = JF_INT_OF, .dest = &l->stride, .set = strides, .n_set = 2},
        {.key = "in", .type = JF_INT, .dest = &l->in, .lo = 1, .hi = ARCH_MAX_CHANNELS},
        {.key = "mid", .type = JF_INT, .dest = &l->mid, .lo = 1, .hi = ARCH_MAX_CHANNELS},
        {.key = "out", .type = JF_INT, .dest = &l->out, .lo = 1, .hi = ARCH_MAX_CHANNELS},
        {.key = "se", .type = JF_BOOL, .dest = &l->se},
        {.key = "act", .type = JF_ACT, .dest = &l->act},
        {.key = "sq", .type = JF_INT, .dest = &l->sq, .lo = 1, .hi = ARCH_MAX_CHANNELS,
         .optional = 1},
        {0},
    };
    return jfield_read_object(c, node, path, fields);
}

int arch_json_read_input(const struct jfield_ctx *c, const cJSON *node, const char *path,
                         struct arch *a)
{
    const struct jfield fields[] = {
        {.key = "h", .type = JF_INT, .dest = &a->in_h, .lo = 1, .hi = ARCH_MAX_SIZE},
        {.key = "w", .type = JF_INT, .dest = &a->in_w, .lo = 1, .hi = ARCH_MAX_SIZE},
        {.key = "c", .type = JF_INT, .dest = &a->in_c, .lo = 1, .hi = ARCH_MAX_CHANNELS},
        {0},
    };
    return jfield_read_object(c, node, path, fields);
}

int arch_json_read_stem(const struct jfield_ctx *c, const cJSON *node, const char *path,
                        struct arch_stem *stem)
{
    const struct jfield fields[] = {
        {.key = "k", .type = JF_INT_OF, .dest = &stem->k, .set = kernels, .n_set = 3},
        {.key = "stride", .type = JF_INT_OF, .dest = &stem->stride, .set = strides, .n_set = 2},
        {.key = "out", .type = JF_INT, .dest = &stem->out, .lo = 1, .hi = ARCH_MAX_CHANNELS},
        {.key = "act", .type = JF_ACT, .dest = &stem->act},
        {0},
    };
    return jfield_read_object(c, node, path, fields);
}

int arch_json_read_head(const struct jfield_ctx *c, const cJSON *node, const char *path,
                        struct arch_head *head)
{
    const struct jfield fields[] = {
        {.key = "conv_out", .type = JF_INT, .dest = &head->conv_out, .lo = 0,
         .hi = ARCH_MAX_CHANNELS},
        {.key = "conv_act", .type = JF_ACT, .dest = &head->conv_act},
        {.key = "fc_hidden", .type = JF_INT, .dest = &head->fc_hidden, .lo = 0,
         .hi = ARCH_MAX_CHANNELS},
        {.key = "fc_act", .type = JF_ACT, .dest = &head->fc_act},
        {.key = "dropout", .type = JF_FLOAT, .dest = &head->dropout, .lo = 0, .hi = 0.99},
        {0},
    };
    return jfield_read_object(c, node, path, fields);
}

int arch_from_json(const cJSON *node, const char *source, const char *path, struct arch *out,
                   struct hw_err *err)
{
    struct jfield_ctx c = {source, err};
    struct arch a;
    memset(&a, 0, sizeof a);
    int version = 0;
    const cJSON *input = NULL, *stem = NULL, *layers = NULL, *head = NULL;
    const struct jfield top[] = {
        {.key = "version", .type = JF_INT, .dest = &version, .lo = 0, .hi = 1e9},
        {.key = "name", .type = JF_STRING, .dest = a.name, .hi = sizeof a.name, .optional = 1},
        {.key = "input", .type = JF_OBJECT, .dest = &input},
        {.key = "classes", .type = JF_INT, .dest = &a.classes, .lo = 2, .hi = ARCH_MAX_CLASSES},
        {.key = "stem", .type = JF_OBJECT, .dest = &stem},
        {.key = "layers", .type = JF_ARRAY, .dest = &layers, .lo = 0, .hi = ARCH_MAX_LAYERS},
        {.key = "head", .type = JF_OBJECT, .dest = &head},
        {0},
    };
    char p[JFIELD_PATH_MAX];
    int rc = jfield_read_object(&c, node, path, top);
    if (rc)
        return rc;
    if (version != ARCH_VERSION) {
        jfield_join(p, path, "version");
        return hw_error(err, HW_EINVAL, "%s: %s: %d is not supported (this hwnas reads %d)",
                        source, p, version, ARCH_VERSION);
    }
    if ((rc = arch_json_read_input(&c, input, (jfield_join(p, path, "input"), p), &a)) ||
        (rc = arch_json_read_stem(&c, stem, (jfield_join(p, path, "stem"), p), &a.stem)) ||
        (rc = arch_json_read_head(&c, head, (jfield_join(p, path, "head"), p), &a.head)))
        return rc;
    for (const cJSON *it = layers->child; it; it = it->next, a.n_layers++) {
        char lp[JFIELD_PATH_MAX];
        jfield_join(p, path, "layers");
        snprintf(lp, sizeof lp, "%s[%d]", p, a.n_layers);
        if ((rc = read_layer(&c, it, lp, &a.layers[a.n_layers])))
            return rc;
    }
    char src[JFIELD_PATH_MAX + 64];
    snprintf(src, sizeof src, "%s%s%s", source, path[0] ? ": " : "", path);
    if ((rc = arch_validate(&a, src, err)))
        return rc;
    *out = a;
    return HW_OK;
}

int arch_from_json_string(const char *text, const char *source, struct arch *out,
                          struct hw_err *err)
{
    struct jfield_ctx c = {source, err};
    cJSON *root;
    int rc = jfield_parse(&c, text, &root);
    if (rc)
        return rc;
    rc = arch_from_json(root, source, "", out, err);
    cJSON_Delete(root);
    return rc;
}

int arch_load(const char *path, struct arch *out, struct hw_err *err)
{
    char *text;
    int rc = jfield_read_file(path, &text, err);
    if (rc)
        return rc;
    rc = arch_from_json_string(text, path, out, err);
    free(text);
    return rc;
}

/* Adds the (key, number) pairs; returns 0 when any allocation failed. */
static int add_ints(cJSON *o, const char *const *keys, const int *vals, int n)
{
    for (int i = 0; i < n; i++)
        if (!cJSON_AddNumberToObject(o, keys[i], vals[i]))
            return 0;
    return 1;
}

static cJSON *layer_json(const struct arch_layer *l)
{
    static const char *const keys[] = {"k", "stride", "in", "mid", "out"};
    const int vals[] = {l->k, l->stride, l->in, l->mid, l->out};
    cJSON *o = cJSON_CreateObject();
    if (!o || !add_ints(o, keys, vals, 5) || !cJSON_AddBoolToObject(o, "se", l->se) ||
        !cJSON_AddStringToObject(o, "act", arch_act_name(l->act)) ||
        /* the squeeze is written only where it departs from the default rule */
        (l->se && l->sq > 0 && l->sq != arch_se_squeeze(l->mid) &&
         !cJSON_AddNumberToObject(o, "sq", l->sq))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

cJSON *arch_to_json(const struct arch *a)
{
    static const char *const in_keys[] = {"h", "w", "c"};
    static const char *const stem_keys[] = {"k", "stride", "out"};
    const int in_vals[] = {a->in_h, a->in_w, a->in_c};
    const int stem_vals[] = {a->stem.k, a->stem.stride, a->stem.out};
    cJSON *o = cJSON_CreateObject();
    cJSON *input = cJSON_AddObjectToObject(o, "input");
    if (!o || !cJSON_AddNumberToObject(o, "version", ARCH_VERSION) ||
        !cJSON_AddStringToObject(o, "name", a->name) || !input ||
        !add_ints(input, in_keys, in_vals, 3) ||
        !cJSON_AddNumberToObject(o, "classes", a->classes))
        goto error;
    cJSON *stem = cJSON_AddObjectToObject(o, "stem");
    if (!stem || !add_ints(stem, stem_keys, stem_vals, 3) ||
        !cJSON_AddStringToObject(stem, "act", arch_act_name(a->stem.act)))
        goto error;
    cJSON *layers = cJSON_AddArrayToObject(o, "layers");
    if (!layers)
        goto error;
    for (int i = 0; i < a->n_layers; i++) {
        cJSON *l = layer_json(&a->layers[i]);
        if (!l)
            goto error;
        cJSON_AddItemToArray(layers, l);
    }
    cJSON *head = cJSON_AddObjectToObject(o, "head");
    /* The shortest decimal that reads back as the same float: 0.2, not
     * 0.200000003. */
    char drop[32];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(drop, sizeof drop, "%.*g", prec, (double)a->head.dropout);
        if ((float)strtod(drop, NULL) == a->head.dropout)
            break;
    }
    if (!head || !cJSON_AddNumberToObject(head, "conv_out", a->head.conv_out) ||
        !cJSON_AddStringToObject(head, "conv_act", arch_act_name(a->head.conv_act)) ||
        !cJSON_AddNumberToObject(head, "fc_hidden", a->head.fc_hidden) ||
        !cJSON_AddStringToObject(head, "fc_act", arch_act_name(a->head.fc_act)) ||
        !cJSON_AddNumberToObject(head, "dropout", strtod(drop, NULL)))
        goto error;
    return o;
error:
    cJSON_Delete(o);
    return NULL;
}

char *arch_to_json_string(const struct arch *a)
{
    cJSON *o = arch_to_json(a);
    if (!o)
        return NULL;
    char *s = cJSON_Print(o);
    cJSON_Delete(o);
    return s;
}
