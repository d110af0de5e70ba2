/* Internal to search/: the controller object, the per-kind operations table
 * and the byte (de)serialiser the kinds use for their state. Not for callers
 * outside search/ctrl.c, search/random.c, search/evolution.c, search/rl.c. */
#ifndef HWNAS_SEARCH_CTRL_IMPL_H
#define HWNAS_SEARCH_CTRL_IMPL_H

#include "search/ctrl.h"
#include "util/pcg32.h"

/* Reading side of a saved state; `pos` advances, a short read is HW_EINVAL. */
struct ctrl_reader {
    const unsigned char *data;
    size_t len, pos;
};

struct ctrl_ops {
    /* Allocates kind state into c->state (c->vocab/cfg/rng already set). */
    int (*init)(struct ctrl *c, struct hw_err *err);
    void (*propose)(struct ctrl *c, int *tokens);
    /* tokens were range-checked by ctrl_report. */
    int (*report)(struct ctrl *c, const int *tokens, double reward, struct hw_err *err);
    int (*save)(const struct ctrl *c, struct ctrl_buf *b);
    int (*load)(struct ctrl *c, struct ctrl_reader *r, struct hw_err *err);
    /* Frees c->state (may be half-built by a failed init). */
    void (*release)(struct ctrl *c);
};

struct ctrl {
    enum ctrl_kind kind;
    const struct ctrl_ops *ops;
    struct ctrl_vocab vocab;
    struct ctrl_config cfg;
    struct pcg32 rng;
    long n_proposed, n_reported;
    void *state; /* owned, kind-specific */
};

extern const struct ctrl_ops ctrl_random_ops;
extern const struct ctrl_ops ctrl_evolution_ops;
extern const struct ctrl_ops ctrl_rl_ops;

/* Appends n bytes; HW_ENOMEM on failure. */
int ctrl_put(struct ctrl_buf *b, const void *p, size_t n);
/* Reads n bytes into p; HW_EINVAL (message names `what`) if fewer remain. */
int ctrl_get(struct ctrl_reader *r, void *p, size_t n, const char *what, struct hw_err *err);

/* Uniform random tokens, one per position. */
void ctrl_random_tokens(struct ctrl *c, int *tokens);

#endif
