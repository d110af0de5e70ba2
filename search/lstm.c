#include "search/lstm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Per-step cache (then one backward scratch area): gates (4H: i, f, g, o after their nonlinearities), c (H),
 * tanh(c) (H), h (H), logits z (K), log-probabilities (K); K = max_choices. */
static size_t step_size(const struct lstm_policy *p)
{
    return 7 * (size_t)p->hidden + 2 * (size_t)p->max_choices;
}

struct lstm_step {
    double *gates, *c, *tc, *h, *z, *lp;
};

static struct lstm_step step_view(const struct lstm_policy *p, int t)
{
    size_t H = (size_t)p->hidden, K = (size_t)p->max_choices;
    double *s = p->cache + (size_t)t * step_size(p);
    return (struct lstm_step){s, s + 4 * H, s + 5 * H, s + 6 * H, s + 7 * H, s + 7 * H + K};
}

static int n_emb_rows(const struct lstm_policy *p)
{
    int n = 1;
    for (int t = 0; t + 1 < p->n_tokens; t++)
        n += p->choices[t];
    return n;
}

static int n_head_rows(const struct lstm_policy *p)
{
    int n = 0;
    for (int t = 0; t < p->n_tokens; t++)
        n += p->choices[t];
    return n;
}

struct lstm_tensors lstm_policy_carve(const struct lstm_policy *p, double *base)
{
    size_t H = (size_t)p->hidden;
    struct lstm_tensors w;
    w.emb = base;
    w.wx = w.emb + (size_t)n_emb_rows(p) * H;
    w.wh = w.wx + 4 * H * H;
    w.b = w.wh + 4 * H * H;
    w.head_w = w.b + 4 * H;
    w.head_b = w.head_w + (size_t)n_head_rows(p) * H;
    return w;
}

int lstm_policy_init(struct lstm_policy *p, const struct ctrl_vocab *vocab, int hidden,
                     double temperature, double logit_clip, struct hw_err *err)
{
    memset(p, 0, sizeof *p);
    p->n_tokens = vocab->n_tokens;
    p->hidden = hidden;
    p->temperature = temperature;
    p->logit_clip = logit_clip;
    int emb = 1, head = 0;
    for (int t = 0; t < p->n_tokens; t++) {
        p->choices[t] = vocab->choices[t];
        if (p->choices[t] > p->max_choices)
            p->max_choices = p->choices[t];
        p->head_off[t] = head;
        head += p->choices[t];
        if (t >= 1) {
            p->emb_off[t] = emb;
            emb += p->choices[t - 1];
        }
    }
    size_t H = (size_t)hidden;
    p->n_params = (size_t)(emb + head) * H + 8 * H * H + 4 * H + (size_t)head;
    p->params = malloc(sizeof(double) * p->n_params);
    /* After the steps: backward scratch of 6H + K doubles. */
    p->cache = malloc(sizeof(double) * (step_size(p) * (size_t)p->n_tokens + 6 * H +
                                        (size_t)p->max_choices));
    if (!p->params || !p->cache)
        return hw_error(err, HW_ENOMEM, "lstm policy: out of memory for %zu parameters",
                        p->n_params);
    p->w = lstm_policy_carve(p, p->params);
    return HW_OK;
}

void lstm_policy_release(struct lstm_policy *p)
{
    free(p->params);
    free(p->cache);
    p->params = p->cache = NULL;
}

void lstm_policy_randomize(struct lstm_policy *p, double range, struct pcg32 *rng)
{
    for (size_t i = 0; i < p->n_params; i++)
        p->params[i] = (2.0 * pcg32_double(rng) - 1.0) * range;
}

static double sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

/* Embedding row fed at step t. */
static int input_row(const struct lstm_policy *p, const int *tokens, int t)
{
    return t == 0 ? 0 : p->emb_off[t] + tokens[t - 1];
}

double lstm_policy_forward(struct lstm_policy *p, int *tokens, struct pcg32 *rng,
                           double *entropy)
{
    int H = p->hidden;
    double logp = 0, ent = 0;
    for (int t = 0; t < p->n_tokens; t++) {
        struct lstm_step s = step_view(p, t);
        const double *x = p->w.emb + (size_t)input_row(p, tokens, t) * H;       /* (H) */
        const double *h_prev = t ? step_view(p, t - 1).h : NULL;              /* (H) or zero */
        const double *c_prev = t ? step_view(p, t - 1).c : NULL;
        for (int r = 0; r < 4 * H; r++) {
            const double *wx = p->w.wx + (size_t)r * H, *wh = p->w.wh + (size_t)r * H;
            double a = p->w.b[r];
            for (int k = 0; k < H; k++)
                a += wx[k] * x[k];
            if (h_prev)
                for (int k = 0; k < H; k++)
                    a += wh[k] * h_prev[k];
            s.gates[r] = r / H == 2 ? tanh(a) : sigmoid(a);
        }
        for (int k = 0; k < H; k++) {
            double i = s.gates[k], f = s.gates[H + k], g = s.gates[2 * H + k];
            double o = s.gates[3 * H + k];
            s.c[k] = (c_prev ? f * c_prev[k] : 0.0) + i * g;
            s.tc[k] = tanh(s.c[k]);
            s.h[k] = o * s.tc[k];
        }
        /* Head: z = clip(u / temperature), log-softmax. */
        int K = p->choices[t];
        const double *hw = p->w.head_w + (size_t)p->head_off[t] * H;
        const double *hb = p->w.head_b + p->head_off[t];
        double zmax = -INFINITY;
        for (int j = 0; j < K; j++) {
            double u = hb[j];
            for (int k = 0; k < H; k++)
                u += hw[(size_t)j * H + k] * s.h[k];
            double z = u / p->temperature;
            if (p->logit_clip > 0)
                z = p->logit_clip * tanh(z / p->logit_clip);
            s.z[j] = z;
            if (z > zmax)
                zmax = z;
        }
        double sum = 0;
        for (int j = 0; j < K; j++)
            sum += exp(s.z[j] - zmax);
        double lse = zmax + log(sum);
        for (int j = 0; j < K; j++) {
            s.lp[j] = s.z[j] - lse;
            ent -= exp(s.lp[j]) * s.lp[j];
        }
        if (rng) {
            double u = pcg32_double(rng), cum = 0;
            int pick = K - 1;
            for (int j = 0; j < K; j++) {
                cum += exp(s.lp[j]);
                if (u < cum) {
                    pick = j;
                    break;
                }
            }
            tokens[t] = pick;
        }
        logp += s.lp[tokens[t]];
    }
    if (entropy)
        *entropy = ent;
    return logp;
}

void lstm_policy_backward(struct lstm_policy *p, const int *tokens, double coef_logp,
                          double coef_entropy, double *grad)
{
    int H = p->hidden;
    struct lstm_tensors g = lstm_policy_carve(p, grad);
    /* dh (H), dc (H) flowing back from step t+1; da (4H) pre-activation gates;
     * du (K) head pre-activations. */
    double *buf = p->cache + step_size(p) * (size_t)p->n_tokens;
    memset(buf, 0, sizeof(double) * (size_t)(6 * H + p->max_choices));
    double *dh = buf, *dc = buf + H, *da = buf + 2 * H, *du = buf + 6 * H;
    for (int t = p->n_tokens - 1; t >= 0; t--) {
        struct lstm_step s = step_view(p, t);
        int K = p->choices[t];
        const double *hw = p->w.head_w + (size_t)p->head_off[t] * H;
        double *ghw = g.head_w + (size_t)p->head_off[t] * H;
        double *ghb = g.head_b + p->head_off[t];
        double ent = 0;
        for (int j = 0; j < K; j++)
            ent -= exp(s.lp[j]) * s.lp[j];
        for (int j = 0; j < K; j++) {
            double pj = exp(s.lp[j]);
            /* d log p(a)/dz_j = [j == a] - p_j;  d H/dz_j = -p_j (log p_j + H). */
            double dz = coef_logp * ((j == tokens[t]) - pj) - coef_entropy * pj * (s.lp[j] + ent);
            double dzdu = 1.0 / p->temperature;
            if (p->logit_clip > 0) {
                double q = s.z[j] / p->logit_clip;
                dzdu *= 1.0 - q * q;
            }
            du[j] = dz * dzdu;
            ghb[j] += du[j];
            for (int k = 0; k < H; k++) {
                ghw[(size_t)j * H + k] += du[j] * s.h[k];
                dh[k] += hw[(size_t)j * H + k] * du[j];
            }
        }
        const double *c_prev = t ? step_view(p, t - 1).c : NULL;
        for (int k = 0; k < H; k++) {
            double i = s.gates[k], f = s.gates[H + k], gg = s.gates[2 * H + k];
            double o = s.gates[3 * H + k];
            double dck = dc[k] + dh[k] * o * (1.0 - s.tc[k] * s.tc[k]);
            da[k] = dck * gg * i * (1.0 - i);
            da[H + k] = c_prev ? dck * c_prev[k] * f * (1.0 - f) : 0.0;
            da[2 * H + k] = dck * i * (1.0 - gg * gg);
            da[3 * H + k] = dh[k] * s.tc[k] * o * (1.0 - o);
            dc[k] = dck * f; /* to step t-1 */
        }
        int row = input_row(p, tokens, t);
        const double *x = p->w.emb + (size_t)row * H;
        double *gx = g.emb + (size_t)row * H;
        const double *h_prev = t ? step_view(p, t - 1).h : NULL;
        memset(dh, 0, sizeof(double) * (size_t)H);
        for (int r = 0; r < 4 * H; r++) {
            const double *wx = p->w.wx + (size_t)r * H, *wh = p->w.wh + (size_t)r * H;
            double *gwx = g.wx + (size_t)r * H, *gwh = g.wh + (size_t)r * H;
            double a = da[r];
            g.b[r] += a;
            for (int k = 0; k < H; k++) {
                gwx[k] += a * x[k];
                gx[k] += a * wx[k];
            }
            if (h_prev)
                for (int k = 0; k < H; k++) {
                    gwh[k] += a * h_prev[k];
                    dh[k] += a * wh[k];
                }
        }
    }
}
