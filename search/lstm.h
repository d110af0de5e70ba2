/* The LSTM policy of the rl controller (NASNet/MnasNet style, ENAS layout):
 * one LSTM layer run for n_tokens steps. The input at step t is a learned
 * embedding of the token chosen at t-1 (a learned start embedding at t = 0);
 * each position has its own softmax head sized to its choices. Logits are
 *   z = u / temperature, then C * tanh(z / C) when logit_clip C > 0,
 * with u = head_w[t] h_t + head_b[t]. Initial h and c are zero.
 *
 * All arithmetic is in double: the net is tiny (a 40-token sequence costs well
 * under a millisecond) and double makes the finite-difference check tight.
 *
 * Parameters live in one allocation carved into named tensors (sizes below,
 * H = hidden, N_emb = 1 + sum of choices[0..n_tokens-2], N_head = sum of all
 * choices); a gradient buffer of n_params doubles is carved the same way. */
#ifndef HWNAS_SEARCH_LSTM_H
#define HWNAS_SEARCH_LSTM_H

#include <stddef.h>

#include "search/ctrl.h"
#include "util/pcg32.h"

struct lstm_tensors {
    double *emb;    /* (N_emb, H): row 0 start token, then per position */
    double *wx;     /* (4H, H): input weights, gate order i, f, g, o */
    double *wh;     /* (4H, H): recurrent weights */
    double *b;      /* (4H) */
    double *head_w; /* (N_head, H): rows head_off[t] .. + choices[t] */
    double *head_b; /* (N_head) */
};

struct lstm_policy {
    int n_tokens, hidden, max_choices;
    int choices[CTRL_MAX_TOKENS];
    int emb_off[CTRL_MAX_TOKENS];  /* embedding row of token 0 at position t-1, for t >= 1 */
    int head_off[CTRL_MAX_TOKENS];
    double temperature, logit_clip;
    size_t n_params;
    double *params;            /* owned, n_params */
    struct lstm_tensors w;     /* views into params */
    double *cache;             /* owned: activations of the last forward */
};

/* Sizes the policy for vocab and allocates params and cache (contents
 * undefined until lstm_policy_randomize or a load). Release with
 * lstm_policy_release, also after a failed init. */
int lstm_policy_init(struct lstm_policy *p, const struct ctrl_vocab *vocab, int hidden,
                     double temperature, double logit_clip, struct hw_err *err);
void lstm_policy_release(struct lstm_policy *p);

/* Views of a params-shaped buffer (params itself or a gradient). */
struct lstm_tensors lstm_policy_carve(const struct lstm_policy *p, double *base);

/* Every parameter uniform in [-range, range]. */
void lstm_policy_randomize(struct lstm_policy *p, double range, struct pcg32 *rng);

/* Runs the policy over n_tokens steps. With rng, samples tokens[t] from each
 * softmax (written to tokens); with rng NULL, scores the given tokens.
 * Returns sum_t log p(tokens[t]) and stores sum_t entropy(p_t) in *entropy
 * (may be NULL). Keeps the activations for lstm_policy_backward. */
double lstm_policy_forward(struct lstm_policy *p, int *tokens, struct pcg32 *rng,
                           double *entropy);

/* Adds to grad (n_params) the gradient of
 *   coef_logp * sum_t log p(tokens[t]) + coef_entropy * sum_t entropy(p_t)
 * by backpropagation through time. Must follow lstm_policy_forward on the
 * same tokens with the same parameters. */
void lstm_policy_backward(struct lstm_policy *p, const int *tokens, double coef_logp,
                          double coef_entropy, double *grad);

#endif
