#include "latency/keys.h"

#include <string.h>

static const struct lat_stats no_stats;

/* Steps the tokens of block b through every combination of its choices
 * except the layer count; returns 0 after the last one (tokens back at 0). */
static int next_combo(const struct space *s, int *tok, int b)
{
    for (int ch = 0; ch < SPACE_N_CHOICES; ch++) {
        if (ch == SPACE_LAYERS)
            continue;
        int t = b * SPACE_N_CHOICES + ch;
        if (++tok[t] < space_token_choices(s, t))
            return 1;
        tok[t] = 0;
    }
    return 0;
}

/* Steps the head tokens (if the space searches its head) through every
 * combination; returns 0 after the last one (tokens back at 0). */
static int next_head(const struct space *s, int *tok)
{
    for (int t = space_head_token0(s); t < space_n_tokens(s); t++) {
        if (++tok[t] < space_token_choices(s, t))
            return 1;
        tok[t] = 0;
    }
    return 0;
}

/* Index in the decoded arch of block b's first layer. */
static int first_layer(const struct space *s, const int *tok, int b)
{
    int n = 0;
    for (int i = 0; i < b; i++)
        n += s->blocks[i].layers[tok[i * SPACE_N_CHOICES + SPACE_LAYERS]];
    return n;
}

static int most_layers(const struct space_block *b)
{
    int best = 0;
    for (int i = 1; i < b->n[SPACE_LAYERS]; i++)
        if (b->layers[i] > b->layers[best])
            best = i;
    return best;
}

/* Keys of block b's first layer and (when the block can repeat) of its
 * repeat layer under tok, with the block's layer token at its largest;
 * keys[1][0] is '\0' when the block never repeats. */
static int block_keys(const struct space *s, int *tok, int b, char keys[2][LUT_KEY_MAX],
                      struct hw_err *err)
{
    int *lt = &tok[b * SPACE_N_CHOICES + SPACE_LAYERS];
    int saved = *lt;
    *lt = most_layers(&s->blocks[b]);
    struct arch a;
    int rc = space_decode(s, tok, &a, err);
    if (rc == HW_OK) {
        int f = first_layer(s, tok, b);
        lut_key(&a, f + 1, keys[0]);
        keys[1][0] = '\0';
        if (s->blocks[b].layers[*lt] > 1)
            lut_key(&a, f + 2, keys[1]);
    }
    *lt = saved;
    return rc;
}

static int head_key(const struct space *s, const int *tok, char *key, struct hw_err *err)
{
    struct arch a;
    int rc = space_decode(s, tok, &a, err);
    if (rc == HW_OK)
        lut_key(&a, lut_n_units(&a) - 1, key);
    return rc;
}

int lat_space_keys(const struct space *s, struct lut *set, struct hw_err *err)
{
    int tok[SPACE_MAX_TOKENS] = {0};
    char keys[2][LUT_KEY_MAX];
    struct arch a;
    int rc = space_decode(s, tok, &a, err);
    if (rc)
        return rc;
    lut_key(&a, 0, keys[0]);
    if (lut_put(set, keys[0], &no_stats))
        return hw_error(err, HW_ENOMEM, "out of memory listing the keys of %s", s->name);
    for (int b = 0; b <= s->n_blocks; b++) {
        /* in-widths: the previous block's width options (one pass for the first block) */
        int wt = b ? (b - 1) * SPACE_N_CHOICES + SPACE_WIDTH : -1;
        int n_in = b ? space_token_choices(s, wt) : 1;
        for (int j = 0; j < n_in; j++) {
            if (b)
                tok[wt] = j;
            if (b == s->n_blocks) {
                do {
                    if ((rc = head_key(s, tok, keys[0], err)))
                        return rc;
                    if (lut_put(set, keys[0], &no_stats))
                        return hw_error(err, HW_ENOMEM, "out of memory listing the keys of %s",
                                        s->name);
                } while (next_head(s, tok));
                continue;
            }
            do {
                if ((rc = block_keys(s, tok, b, keys, err)))
                    return rc;
                for (int k = 0; k < 2; k++)
                    if (keys[k][0] && lut_put(set, keys[k], &no_stats))
                        return hw_error(err, HW_ENOMEM, "out of memory listing the keys of %s",
                                        s->name);
            } while (next_combo(s, tok, b));
        }
        if (b)
            tok[wt] = 0;
    }
    return HW_OK;
}

static int is_missing(const char *key, const struct lut *need, const struct lut *have)
{
    return key[0] && lut_get(need, key) && !lut_get(have, key);
}

/* Missing head keys under tok's blocks, over every head option; tok's head
 * tokens come back at 0. */
static int missing_heads(const struct space *s, int *tok, const struct lut *need,
                         const struct lut *have, int *count, struct hw_err *err)
{
    char key[LUT_KEY_MAX];
    int rc;
    *count = 0;
    for (int t = space_head_token0(s); t < space_n_tokens(s); t++)
        tok[t] = 0;
    do {
        if ((rc = head_key(s, tok, key, err)))
            return rc;
        *count += is_missing(key, need, have);
    } while (next_head(s, tok));
    return HW_OK;
}

/* Missing first-layer keys of block b (or head keys when b == n_blocks)
 * under tok (block b's own tokens are stepped and restored). */
static int missing_after(const struct space *s, int *tok, int b, const struct lut *need,
                         const struct lut *have, int *count, struct hw_err *err)
{
    char keys[2][LUT_KEY_MAX];
    int rc;
    *count = 0;
    if (b == s->n_blocks)
        return missing_heads(s, tok, need, have, count, err);
    int saved[SPACE_N_CHOICES];
    memcpy(saved, tok + b * SPACE_N_CHOICES, sizeof saved);
    for (int ch = 0; ch < SPACE_N_CHOICES; ch++)
        tok[b * SPACE_N_CHOICES + ch] = 0;
    do {
        if ((rc = block_keys(s, tok, b, keys, err)))
            break;
        *count += is_missing(keys[0], need, have);
    } while (next_combo(s, tok, b));
    memcpy(tok + b * SPACE_N_CHOICES, saved, sizeof saved);
    return rc;
}

/* Picks block b's tokens in tok (see lat_space_cover). */
static int choose_block(const struct space *s, int *tok, int b, const struct lut *need,
                        const struct lut *have, struct hw_err *err)
{
    const struct space_block *blk = &s->blocks[b];
    int *bt = tok + b * SPACE_N_CHOICES;
    /* what each width option opens up downstream */
    int opens[SPACE_MAX_OPTIONS];
    for (int w = 0; w < blk->n[SPACE_WIDTH]; w++) {
        bt[SPACE_WIDTH] = w;
        int rc = missing_after(s, tok, b + 1, need, have, &opens[w], err);
        if (rc)
            return rc;
    }
    int best[SPACE_N_CHOICES] = {0}, best_score = -1, best_rep = 0;
    char keys[2][LUT_KEY_MAX];
    memset(bt, 0, sizeof(int) * SPACE_N_CHOICES);
    do {
        int rc = block_keys(s, tok, b, keys, err);
        if (rc)
            return rc;
        int first = is_missing(keys[0], need, have);
        int rep = strcmp(keys[0], keys[1]) != 0 && is_missing(keys[1], need, have);
        /* missing keys here first, then what the width opens downstream */
        int score = (first + rep) * 100000 + opens[bt[SPACE_WIDTH]];
        if (score > best_score) {
            best_score = score;
            best_rep = rep;
            memcpy(best, bt, sizeof best);
        }
    } while (next_combo(s, tok, b));
    memcpy(bt, best, sizeof best);
    /* fewest layers unless a repeat key is missing: cheaper forwards */
    int fewest = 0;
    for (int i = 1; i < blk->n[SPACE_LAYERS]; i++)
        if (blk->layers[i] < blk->layers[fewest])
            fewest = i;
    bt[SPACE_LAYERS] = best_rep ? most_layers(blk) : fewest;
    return HW_OK;
}

int lat_space_cover(const struct space *s, const struct lut *need, const struct lut *have,
                    struct arch *a, unsigned char *want, int *n_new, struct hw_err *err)
{
    int tok[SPACE_MAX_TOKENS] = {0};
    for (int b = 0; b < s->n_blocks; b++) {
        int rc = choose_block(s, tok, b, need, have, err);
        if (rc)
            return rc;
    }
    /* the first head option whose key is missing (all 0 when none is) */
    char key[LUT_KEY_MAX];
    int rc;
    do {
        if ((rc = head_key(s, tok, key, err)))
            return rc;
    } while (!is_missing(key, need, have) && next_head(s, tok));
    if ((rc = space_decode(s, tok, a, err)))
        return rc;
    /* flag one unit per missing key; `seen` holds the keys flagged so far */
    struct lut seen;
    lut_init(&seen, NULL);
    *n_new = 0;
    for (int u = 0; u < lut_n_units(a); u++) {
        lut_key(a, u, key);
        want[u] = is_missing(key, need, have) && !lut_get(&seen, key);
        if (want[u]) {
            if (lut_put(&seen, key, &no_stats)) {
                lut_release(&seen);
                return hw_error(err, HW_ENOMEM, "out of memory planning %s", s->name);
            }
            (*n_new)++;
        }
    }
    lut_release(&seen);
    return HW_OK;
}
