#include "space/export.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum fmt { FMT_TIMM, FMT_MNASNET };
static const char *const fmt_names[] = {"timm", "mnasnet"};

/* mid of a layer with input `in` at ratio e, as each format computes it. */
static int fmt_mid(enum fmt f, int in, double e)
{
    if (f == FMT_TIMM)
        return arch_make_divisible(in * e, 8);
    return e == 1.0 ? in : (int)lround(in * e);
}

static const char *act_token(enum arch_act a)
{
    return a == ARCH_ACT_RELU ? "nre" : a == ARCH_ACT_RELU6 ? "nr6" : "nhs";
}

/* ---- writing ---- */

struct strbuf {
    char *s;
    size_t len, cap;
    int oom;
};

static void sb_printf(struct strbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sb_printf(struct strbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (b->oom || n < 0)
        return;
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = (b->len + (size_t)n + 1) * 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Shortest decimal ratio (0 to 6 decimals) with fmt_mid(in[i], e) == mid[i]
 * for all n layers, into buf; 0 when there is none. */
static int find_ratio(enum fmt f, const int *in, const int *mid, int n, char *buf, size_t len)
{
    for (int d = 0; d <= 6; d++) {
        snprintf(buf, len, "%.*f", d, (double)mid[0] / in[0]);
        double e = strtod(buf, NULL);
        int ok = e > 0;
        for (int i = 0; i < n && ok; i++)
            ok = fmt_mid(f, in[i], e) == mid[i];
        if (ok)
            return 1;
    }
    return 0;
}

/* Whether l's SE squeeze departs from the default rule (written as its own
 * ratio, so the layer stands alone in a group). */
static int se_custom(const struct arch_layer *l)
{
    return l->se && arch_layer_squeeze(l) != arch_se_squeeze(l->mid);
}

/* The SE ratio token for l: "_se0.25" for the default squeeze, else the
 * shortest ratio r with make_divisible(mid * r, 8) == the squeeze. */
static void se_token(const struct arch_layer *l, char *buf, size_t n)
{
    if (!l->se) {
        buf[0] = '\0';
        return;
    }
    if (!se_custom(l)) {
        snprintf(buf, n, "_se0.25");
        return;
    }
    int sq = arch_layer_squeeze(l);
    for (int digits = 2; digits < 9; digits++) {
        snprintf(buf, n, "_se%.*g", digits, (double)sq / l->mid);
        if (arch_make_divisible(l->mid * atof(buf + 3), 8) == sq)
            return;
    }
}

/* Whether layer m can repeat the group started by l (see export.h). */
static int same_group(const struct arch_layer *l, const struct arch_layer *m)
{
    return m->stride == 1 && m->in == l->out && m->out == l->out && m->k == l->k &&
           m->se == l->se && m->act == l->act && !se_custom(l) && !se_custom(m);
}

/* The arch in format f: a list as Python writes it, or with line (timm only)
 * its blocks on one line without quotes, as timm's own arch_def strings read. */
static int write_strings(enum fmt f, int line, const struct arch *a, char **out,
                         struct hw_err *err)
{
    const char *name = fmt_names[f];
    int rc = arch_validate(a, a->name[0] ? a->name : "arch", err);
    if (rc)
        return rc;
    struct strbuf b = {0};
    const char *q = line ? "" : "'";
    sb_printf(&b, "%s", line ? "" : "[\n"); /* allocates: an arch without blocks is "" */
    int prev_out = -1;
    for (int g = 0; g < a->n_layers;) {
        const struct arch_layer *l = &a->layers[g];
        int ds = f == FMT_TIMM && l->mid == l->in;
        int ins[ARCH_MAX_LAYERS], mids[ARCH_MAX_LAYERS], n = 1;
        char ratio[32] = "1", next[32];
        ins[0] = l->in;
        mids[0] = l->mid;
        if (f == FMT_TIMM && l->out % 8) {
            free(b.s);
            return hw_error(err, HW_EINVAL, "%s: layers[%d].out: %d is not a multiple of 8 "
                            "(timm rounds channels to 8)", name, g, l->out);
        }
        if (!ds && !find_ratio(f, ins, mids, 1, ratio, sizeof ratio)) {
            free(b.s);
            return hw_error(err, HW_EINVAL, "%s: layers[%d].mid: %d is not reachable from %d "
                            "input channels by any ratio %s can write", name, g, l->mid, l->in,
                            name);
        }
        for (; g + n < a->n_layers && same_group(l, &a->layers[g + n]); n++) {
            const struct arch_layer *m = &a->layers[g + n];
            if (f == FMT_TIMM && (m->mid == m->in) != ds)
                break;
            ins[n] = m->in;
            mids[n] = m->mid;
            if (!ds && !find_ratio(f, ins, mids, n + 1, next, sizeof next))
                break;
            if (!ds)
                memcpy(ratio, next, sizeof ratio);
        }
        char se[24];
        se_token(l, se, sizeof se);
        if (f == FMT_TIMM) {
            /* A new stage where the resolution or the width changes, as timm's
             * own MobileNetV3 definitions split them. */
            int new_stage = g == 0 || l->stride == 2 || l->out != prev_out;
            const char *sep = !new_stage ? ", " : line ? (g ? " | " : "")
                                                       : (g ? "],\n    [" : "    [");
            sb_printf(&b, "%s%s%s_r%d_k%d_s%d_e%s_c%d%s_%s%s", sep, q, ds ? "ds" : "ir", n, l->k,
                      l->stride, ratio, l->out, se, act_token(l->act), q);
        } else {
            sb_printf(&b, "    'r%d_k%d_s%d%d_e%s_i%d_o%d%s_%s',\n", n, l->k, l->stride,
                      l->stride, ratio, l->in, l->out, se, act_token(l->act));
        }
        prev_out = l->out;
        g += n;
    }
    if (f == FMT_TIMM) {
        if (a->head.conv_out % 8) {
            free(b.s);
            return hw_error(err, HW_EINVAL, "%s: head.conv_out: %d is not a multiple of 8 "
                            "(timm rounds channels to 8)", name, a->head.conv_out);
        }
        if (a->n_layers && !line)
            sb_printf(&b, "],\n");
        if (a->head.conv_out)
            sb_printf(&b, line ? "%scn_r1_k1_s1_c%d_%s" : "%s    ['cn_r1_k1_s1_c%d_%s'],\n",
                      line && a->n_layers ? " | " : "", a->head.conv_out,
                      act_token(a->head.conv_act));
    }
    if (!line)
        sb_printf(&b, "]\n");
    if (b.oom) {
        free(b.s);
        return hw_error(err, HW_ENOMEM, "%s: out of memory", name);
    }
    *out = b.s;
    return HW_OK;
}

int arch_to_timm(const struct arch *a, char **out, struct hw_err *err)
{
    return write_strings(FMT_TIMM, 0, a, out, err);
}

int arch_to_mnasnet(const struct arch *a, char **out, struct hw_err *err)
{
    return write_strings(FMT_MNASNET, 0, a, out, err);
}

int arch_to_timm_line(const struct arch *a, char **out, struct hw_err *err)
{
    return write_strings(FMT_TIMM, 1, a, out, err);
}

/* ---- parsing ---- */

/* Where the parser is, for messages. */
struct cursor {
    enum fmt f;
    const char *text;
    const char *blk; /* current block string and its length */
    size_t blk_len;
    int blk_index;
    const char *tok; /* current token (NULL: the block as a whole) */
    size_t tok_len;
    struct hw_err *err;
};

static int bad(const struct cursor *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(const struct cursor *c, const char *fmt, ...)
{
    char what[256], where[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const char *at = c->tok ? c->tok : c->blk;
    int n = snprintf(where, sizeof where, "%s: offset %ld, block %d '%.*s'", fmt_names[c->f],
                     (long)(at - c->text), c->blk_index, (int)(c->blk_len > 48 ? 48 : c->blk_len),
                     c->blk);
    if (c->tok && n > 0 && (size_t)n < sizeof where)
        snprintf(where + n, sizeof where - (size_t)n, ", token '%.*s'",
                 (int)(c->tok_len > 24 ? 24 : c->tok_len), c->tok);
    return hw_error(c->err, HW_EINVAL, "%s: %s", where, what);
}

enum { OPT_R, OPT_K, OPT_S, OPT_E, OPT_C, OPT_I, OPT_O, OPT_SE, OPT_ACT, OPT_NOSKIP, OPT_N };
static const char *const opt_keys[OPT_N] = {"r", "k", "s", "e", "c", "i", "o", "se", "", "noskip"};

struct block_opts {
    char type; /* timm: 'd' ds, 'i' ir, 'c' cn; MnasNet: 'm' */
    int seen[OPT_N];
    int r, k, s, c, i, o;
    double e, se;
    enum arch_act act;
};

/* A non-negative decimal number of at most 12 characters; integers unless
 * decimal is set. Refuses signs, exponents, hex, inf and nan. */
static int parse_number(const struct cursor *c, const char *v, size_t len, int decimal,
                        double *out)
{
    char buf[16];
    int dots = 0;
    if (len == 0 || len > 12)
        return bad(c, "value '%.*s' is empty or longer than 12 characters", (int)len, v);
    for (size_t i = 0; i < len; i++) {
        if (v[i] == '.' && decimal && !dots++ && i > 0 && i + 1 < len)
            continue;
        if (!isdigit((unsigned char)v[i]))
            return bad(c, "'%.*s' is not a %s", (int)len, v,
                       decimal ? "decimal number" : "non-negative integer");
    }
    memcpy(buf, v, len);
    buf[len] = '\0';
    *out = strtod(buf, NULL);
    if (*out > 1e6) /* keeps the int conversions defined */
        return bad(c, "%.*s is larger than 1000000", (int)len, v);
    return HW_OK;
}

static int parse_token(struct cursor *c, struct block_opts *o)
{
    const char *t = c->tok;
    size_t len = c->tok_len;
    int key = -1;
    if (len == 3 && t[0] == 'n') {
        enum arch_act acts[] = {ARCH_ACT_RELU, ARCH_ACT_RELU6, ARCH_ACT_HSWISH};
        for (int i = 0; i < 3; i++)
            if (memcmp(t, act_token(acts[i]), 3) == 0) {
                key = OPT_ACT;
                o->act = acts[i];
            }
    } else if (len == 6 && memcmp(t, "noskip", 6) == 0) {
        key = OPT_NOSKIP;
    }
    if (key < 0) {
        size_t kl = 0;
        while (kl < len && islower((unsigned char)t[kl]))
            kl++;
        for (int i = 0; i < OPT_ACT; i++)
            if (strlen(opt_keys[i]) == kl && memcmp(t, opt_keys[i], kl) == 0)
                key = i;
        int allowed = key >= 0 && (c->f == FMT_TIMM ? key != OPT_I && key != OPT_O
                                                    : key != OPT_C);
        if (!allowed)
            return bad(c, "unknown option (%s takes %s)", fmt_names[c->f],
                       c->f == FMT_TIMM ? "r k s e c se nre nr6 nhs noskip"
                                        : "r k s e i o se nre nr6 nhs noskip");
        double v = 0;
        int rc = parse_number(c, t + kl, len - kl, key == OPT_E || key == OPT_SE, &v);
        if (rc)
            return rc;
        switch (key) {
        case OPT_R: o->r = (int)v; break;
        case OPT_K: o->k = (int)v; break;
        case OPT_S:
            if (c->f == FMT_MNASNET && (len != 3 || t[1] != t[2]))
                return bad(c, "stride must be two equal digits (s11 or s22)");
            o->s = t[1] - '0';
            if (c->f == FMT_TIMM && len != 2)
                o->s = -1;
            break;
        case OPT_E: o->e = v; break;
        case OPT_C: o->c = (int)v; break;
        case OPT_I: o->i = (int)v; break;
        case OPT_O: o->o = (int)v; break;
        case OPT_SE: o->se = v; break;
        }
    }
    if (o->seen[key]++)
        return bad(c, "repeats an option of this block");
    return HW_OK;
}

static int check_opts(const struct cursor *c, const struct block_opts *o)
{
    static const int need_timm[] = {OPT_R, OPT_K, OPT_S, OPT_C};
    static const int need_mnas[] = {OPT_R, OPT_K, OPT_S, OPT_E, OPT_I, OPT_O};
    const int *need = c->f == FMT_TIMM ? need_timm : need_mnas;
    int n_need = c->f == FMT_TIMM ? 4 : 6;
    for (int i = 0; i < n_need; i++)
        if (!o->seen[need[i]])
            return bad(c, "missing option '%s'", opt_keys[need[i]]);
    if (o->type == 'i' && !o->seen[OPT_E])
        return bad(c, "missing option 'e' (an ir block needs its expansion ratio)");
    if (o->r < 1 || o->r > ARCH_MAX_LAYERS)
        return bad(c, "r%d: repeats must be in [1, %d]", o->r, ARCH_MAX_LAYERS);
    if (o->type == 'c') {
        if (o->r != 1 || o->k != 1 || o->s != 1 || o->seen[OPT_E] || o->seen[OPT_SE] ||
            o->seen[OPT_NOSKIP])
            return bad(c, "cn is only supported as the head's 1x1 conv: cn_r1_k1_s1_c<out>");
    } else if (!arch_kernel_ok(o->k)) {
        return bad(c, "k%d: kernel is not one of 3, 5, 7", o->k);
    }
    if (o->s != 1 && o->s != 2)
        return bad(c, "stride is not one of 1, 2");
    if (o->seen[OPT_E] && !(o->e > 0 && o->e <= 64))
        return bad(c, "e%g: expansion must be in (0, 64]", o->e);
    if (o->type == 'd' && o->seen[OPT_E] && o->e != 1)
        return bad(c, "e%g: a ds block has no expand conv (e1)", o->e);
    if (o->seen[OPT_SE] && !(o->se > 0 && o->se <= 1))
        return bad(c, "se%g: the squeeze ratio must be in (0, 1]", o->se);
    int out = c->f == FMT_TIMM ? o->c : o->o;
    if (out < 1 || out > ARCH_MAX_CHANNELS || (c->f == FMT_MNASNET && (o->i < 1 ||
                                                                      o->i > ARCH_MAX_CHANNELS)))
        return bad(c, "channels must be in [1, %d]", ARCH_MAX_CHANNELS);
    if (c->f == FMT_TIMM && out % 8)
        return bad(c, "c%d is not a multiple of 8 (timm rounds channels to 8)", out);
    return HW_OK;
}

/* Appends the block's layers to a (in: the running channel count). */
static int add_layers(const struct cursor *c, const struct block_opts *o, enum arch_act dflt,
                      struct arch *a, int *in)
{
    int out = c->f == FMT_TIMM ? o->c : o->o;
    enum arch_act act = o->seen[OPT_ACT] ? o->act : dflt;
    if (o->type == 'c') {
        a->head.conv_out = out;
        a->head.conv_act = act;
        return HW_OK;
    }
    if (c->f == FMT_MNASNET && o->i != *in)
        return bad(c, "i%d does not match the previous output %d", o->i, *in);
    if (a->n_layers + o->r > ARCH_MAX_LAYERS)
        return bad(c, "more than %d layers in all", ARCH_MAX_LAYERS);
    if (o->seen[OPT_NOSKIP] && (o->r > 1 || (o->s == 1 && *in == out)))
        return bad(c, "noskip on a layer with stride 1 and in == out: hwnas always adds that "
                   "residual");
    for (int rep = 0; rep < o->r; rep++) {
        int lin = rep ? out : *in;
        int mid = o->type == 'd' ? lin : fmt_mid(c->f, lin, o->e);
        if (mid < 1 || mid > ARCH_MAX_CHANNELS)
            return bad(c, "e%g gives %d mid channels for %d inputs", o->e, mid, lin);
        if (mid == lin && o->type == 'i')
            return bad(c, "e%g gives mid == in (%d): timm keeps an expand conv hwnas cannot "
                       "express; write it as ds", o->e, lin);
        if (mid == lin && o->e != 1 && c->f == FMT_MNASNET)
            return bad(c, "e%g gives mid == in (%d), which means no expand conv; write e1",
                       o->e, lin);
        struct arch_layer l = {o->k, rep ? 1 : o->s, lin, mid, out, o->seen[OPT_SE] ? 1 : 0, act};
        /* squeeze = make_divisible(mid * ratio, 8), as timm's round_channels */
        if (l.se && o->se != 0.25 && arch_make_divisible(mid * o->se, 8) != arch_se_squeeze(mid))
            l.sq = arch_make_divisible(mid * o->se, 8);
        a->layers[a->n_layers++] = l;
    }
    *in = out;
    return HW_OK;
}

static int parse_block(struct cursor *c, struct block_opts *o)
{
    memset(o, 0, sizeof *o);
    o->type = 'm';
    size_t p = 0;
    int first = 1;
    while (p <= c->blk_len) {
        size_t q = p;
        while (q < c->blk_len && c->blk[q] != '_')
            q++;
        c->tok = c->blk + p;
        c->tok_len = q - p;
        if (c->tok_len == 0)
            return bad(c, "empty option (doubled or trailing '_')");
        int rc;
        if (first && c->f == FMT_TIMM) {
            static const char *const types[] = {"ds", "ir", "cn"};
            o->type = 0;
            for (int i = 0; i < 3; i++)
                if (c->tok_len == 2 && memcmp(c->tok, types[i], 2) == 0)
                    o->type = types[i][0];
            if (!o->type)
                return bad(c, "block type must be one of ds, ir, cn");
        } else if ((rc = parse_token(c, o))) {
            return rc;
        }
        first = 0;
        p = q + 1;
    }
    c->tok = NULL;
    return check_opts(c, o);
}

static int read_strings(enum fmt f, const char *text, const struct arch *tmpl,
                        struct arch *out, struct hw_err *err)
{
    struct arch *a = malloc(sizeof *a);
    if (!a)
        return hw_error(err, HW_ENOMEM, "%s: out of memory", fmt_names[f]);
    *a = *tmpl;
    a->n_layers = 0;
    if (f == FMT_TIMM)
        a->head.conv_out = 0;
    struct cursor c = {.f = f, .text = text, .err = err};
    int in = tmpl->stem.out, cn_seen = 0, rc = HW_OK;
    for (size_t p = 0; text[p];) {
        unsigned char ch = (unsigned char)text[p];
        if (strchr(" \t\r\n,|[]'\"", ch)) {
            p++;
            continue;
        }
        size_t q = p;
        while (isalnum((unsigned char)text[q]) || text[q] == '_' || text[q] == '.')
            q++;
        c.blk = text + p;
        c.blk_len = q - p;
        c.tok = NULL;
        if (q == p) {
            c.blk_len = 1;
            rc = bad(&c, "unexpected character (0x%02x)", ch);
            break;
        }
        struct block_opts o;
        if (cn_seen) {
            rc = bad(&c, "a block after the cn head conv");
            break;
        }
        if ((rc = parse_block(&c, &o)) || (rc = add_layers(&c, &o, tmpl->stem.act, a, &in)))
            break;
        cn_seen = o.type == 'c';
        c.blk_index++;
        p = q;
    }
    if (rc == HW_OK && (rc = arch_validate(a, fmt_names[f], err)) == HW_OK)
        *out = *a;
    free(a);
    return rc;
}

int arch_from_timm(const char *text, const struct arch *tmpl, struct arch *out,
                   struct hw_err *err)
{
    return read_strings(FMT_TIMM, text, tmpl, out, err);
}

int arch_from_mnasnet(const char *text, const struct arch *tmpl, struct arch *out,
                      struct hw_err *err)
{
    return read_strings(FMT_MNASNET, text, tmpl, out, err);
}
