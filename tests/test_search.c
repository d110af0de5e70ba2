#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "search/ctrl.h"
#include "search/lstm.h"
#include "search/pareto.h"
#include "search/reward.h"
#include "search/synth.h"

/* ---- reward ---- */

START_TEST(test_reward_values)
{
    /* MnasNet Fig. 3 setting: ACC 0.5, T 80 ms; values computed by hand
     * (0.5 * 2^-0.07, 0.5 * 0.5^-0.07, ...). */
    struct reward_cfg soft = reward_cfg_soft(80, REWARD_DEFAULT_W);
    ck_assert_double_eq_tol(reward_mnas(&soft, 0.5, 80), 0.5, 1e-12);
    ck_assert_double_eq_tol(reward_mnas(&soft, 0.5, 160), 0.476318999021969, 1e-12);
    ck_assert_double_eq_tol(reward_mnas(&soft, 0.5, 40), 0.524858341811534, 1e-12);
    struct reward_cfg hard = reward_cfg_hard(80);
    ck_assert_double_eq_tol(reward_mnas(&hard, 0.5, 40), 0.5, 1e-12);
    ck_assert_double_eq_tol(reward_mnas(&hard, 0.5, 80), 0.5, 1e-12);
    ck_assert_double_eq_tol(reward_mnas(&hard, 0.5, 160), 0.25, 1e-12);
    /* MobileNetV3-Small's w = -0.15: 0.75 * (90/75)^-0.15. */
    struct reward_cfg small = reward_cfg_soft(75, -0.15);
    ck_assert_double_eq_tol(reward_mnas(&small, 0.75, 90), 0.729766757643824, 1e-12);
}
END_TEST

START_TEST(test_reward_validate)
{
    struct hw_err err;
    struct reward_cfg ok = reward_cfg_soft(1.0, -0.07);
    ck_assert_int_eq(reward_cfg_validate(&ok, &err), HW_OK);
    struct reward_cfg bad = reward_cfg_soft(0.0, -0.07);
    ck_assert_int_eq(reward_cfg_validate(&bad, &err), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "target latency 0"));
    bad = reward_cfg_soft(1.0, NAN);
    ck_assert_int_eq(reward_cfg_validate(&bad, &err), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "exponents"));
    bad = reward_cfg_soft(1.0, -0.07);
    bad.score = (enum reward_score)7;
    ck_assert_int_eq(reward_cfg_validate(&bad, &err), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "score 7"));
}
END_TEST

START_TEST(test_reward_quality)
{
    struct reward_cfg c = reward_cfg_hard(1.0);
    ck_assert_int_eq(c.score, REWARD_SCORE_ACC);
    ck_assert_double_eq(reward_quality(&c, 0.9, 0.4, 0.7), 0.9);
    c.score = REWARD_SCORE_LOSS;
    ck_assert_double_eq_tol(reward_quality(&c, 0.9, 0.4, 0.7), 0.670320046035639, 1e-12);
    ck_assert_double_eq(reward_quality(&c, 0.0, INFINITY, 0.7), 0.0); /* diverged */
    ck_assert(isnan(reward_quality(&c, 0.9, NAN, 0.7)));
    /* a lower loss always scores higher */
    ck_assert(reward_quality(&c, 0.5, 0.41, 0.7) < reward_quality(&c, 0.5, 0.40, 0.7));
    /* train-loss reads the third value only */
    c.score = REWARD_SCORE_TRAIN_LOSS;
    ck_assert_double_eq_tol(reward_quality(&c, 0.9, 0.4, 0.7), 0.496585303791410, 1e-12);
    ck_assert_double_eq(reward_quality(&c, 0.9, 0.4, INFINITY), 0.0);
    ck_assert(isnan(reward_quality(&c, 0.9, 0.4, NAN)));
    ck_assert(reward_quality(&c, 0.9, 0.1, 0.71) < reward_quality(&c, 0.1, 0.9, 0.70));
}
END_TEST

START_TEST(test_reward_score_names)
{
    ck_assert_int_eq(reward_score_parse("acc"), REWARD_SCORE_ACC);
    ck_assert_int_eq(reward_score_parse("loss"), REWARD_SCORE_LOSS);
    ck_assert_int_eq(reward_score_parse("train-loss"), REWARD_SCORE_TRAIN_LOSS);
    ck_assert_int_eq(reward_score_parse("Loss"), -1);
    ck_assert_int_eq(reward_score_parse("train_loss"), -1);
    ck_assert_int_eq(reward_score_parse(NULL), -1);
    ck_assert_str_eq(reward_score_name(REWARD_SCORE_LOSS), "loss");
    ck_assert_str_eq(reward_score_name(REWARD_SCORE_TRAIN_LOSS), "train-loss");
    ck_assert_str_eq(reward_score_name((enum reward_score)5), "?");
}
END_TEST

/* ---- controllers: common ---- */

static struct ctrl_vocab small_vocab(void)
{
    struct ctrl_vocab v = {.n_tokens = 5, .choices = {3, 2, 4, 1, 3}};
    return v;
}

START_TEST(test_ctrl_create_errors)
{
    struct hw_err err;
    struct ctrl *c;
    struct ctrl_config cfg;
    struct ctrl_vocab v = small_vocab();
    v.n_tokens = 0;
    ck_assert_int_eq(ctrl_create(&c, CTRL_RANDOM, &v, NULL, 1, &err), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "n_tokens 0"));
    v = small_vocab();
    v.choices[2] = 0;
    ck_assert_int_eq(ctrl_create(&c, CTRL_RL, &v, NULL, 1, &err), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "choices[2] = 0"));
    v = small_vocab();
    ctrl_config_default(&cfg);
    cfg.sample_size = cfg.population + 1;
    ck_assert_int_eq(ctrl_create(&c, CTRL_EVOLUTION, &v, &cfg, 1, &err), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "sample_size = 51"));
    ctrl_config_default(&cfg);
    cfg.lr = 0;
    ck_assert_int_eq(ctrl_create(&c, CTRL_RL, &v, &cfg, 1, &err), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "lr = 0"));
    ck_assert_int_eq(ctrl_create(&c, (enum ctrl_kind)7, &v, NULL, 1, &err), HW_EINVAL);
    enum ctrl_kind k;
    ck_assert_int_eq(ctrl_kind_parse("evolution", &k, &err), HW_OK);
    ck_assert_int_eq(k, CTRL_EVOLUTION);
    ck_assert_int_eq(ctrl_kind_parse("ppo", &k, &err), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "'ppo'"));
}
END_TEST

START_TEST(test_ctrl_propose_range)
{
    struct ctrl_vocab v = small_vocab();
    for (int kind = 0; kind < 3; kind++) {
        struct ctrl *c;
        ck_assert_int_eq(ctrl_create(&c, (enum ctrl_kind)kind, &v, NULL, 3, NULL), HW_OK);
        int counts[5][4] = {{0}};
        for (int i = 0; i < 400; i++) {
            int tok[CTRL_MAX_TOKENS];
            ctrl_propose(c, tok);
            for (int t = 0; t < v.n_tokens; t++) {
                ck_assert_int_ge(tok[t], 0);
                ck_assert_int_lt(tok[t], v.choices[t]);
                counts[t][tok[t]]++;
            }
            ck_assert_int_eq(ctrl_report(c, tok, 0.5, NULL), HW_OK);
        }
        /* Nothing to learn (constant reward): every choice keeps being drawn. */
        for (int t = 0; t < v.n_tokens; t++)
            for (int j = 0; j < v.choices[t]; j++)
                ck_assert_int_gt(counts[t][j], 400 / v.choices[t] / 3);
        ck_assert_int_eq(ctrl_n_proposed(c), 400);
        ck_assert_int_eq(ctrl_n_reported(c), 400);
        ctrl_free(c);
    }
}
END_TEST

START_TEST(test_ctrl_report_errors)
{
    struct ctrl_vocab v = small_vocab();
    struct ctrl *c;
    struct hw_err err;
    ck_assert_int_eq(ctrl_create(&c, CTRL_RL, &v, NULL, 3, NULL), HW_OK);
    int tok[5] = {0, 1, 3, 1, 0};
    ck_assert_int_eq(ctrl_report(c, tok, 1.0, &err), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "token 3 = 1 is not in 0..0"));
    tok[3] = 0;
    ck_assert_int_eq(ctrl_report(c, tok, NAN, &err), HW_EINVAL);
    ck_assert_int_eq(ctrl_n_reported(c), 0);
    ck_assert_int_eq(ctrl_report(c, tok, 1.0, &err), HW_OK);
    ctrl_free(c);
}
END_TEST

/* A reward with a unique optimum: the share of tokens equal to t mod choices. */
static double match_reward(void *ctx, const int *tokens)
{
    const struct ctrl_vocab *v = ctx;
    int hit = 0;
    for (int t = 0; t < v->n_tokens; t++)
        hit += tokens[t] == t % v->choices[t];
    return (double)hit / v->n_tokens;
}

/* Runs n rounds on match_reward, recording proposals into seq. */
static void run_rounds(struct ctrl *c, int n, int *seq)
{
    const struct ctrl_vocab *v = ctrl_vocab_of(c);
    for (int i = 0; i < n; i++) {
        int *tok = seq + (size_t)i * v->n_tokens;
        ctrl_propose(c, tok);
        ck_assert_int_eq(ctrl_report(c, tok, match_reward((void *)v, tok), NULL), HW_OK);
    }
}

static void check_resume(enum ctrl_kind kind, const struct ctrl_config *cfg)
{
    struct ctrl_vocab v = small_vocab();
    enum { N1 = 23, N2 = 40 };
    int a[(N1 + N2) * 5], b[(N1 + N2) * 5];
    struct ctrl *c1, *c2, *c3;
    struct hw_err err;
    ck_assert_int_eq(ctrl_create(&c1, kind, &v, cfg, 99, &err), HW_OK);
    run_rounds(c1, N1 + N2, a);

    ck_assert_int_eq(ctrl_create(&c2, kind, &v, cfg, 99, &err), HW_OK);
    run_rounds(c2, N1, b);
    struct ctrl_buf buf = {0}, buf2 = {0};
    ck_assert_int_eq(ctrl_save(c2, &buf, &err), HW_OK);
    ctrl_free(c2);
    ck_assert_int_eq(ctrl_load(&c3, buf.data, buf.len, &err), HW_OK);
    ck_assert_int_eq(ctrl_kind_of(c3), kind);
    ck_assert_int_eq(ctrl_n_proposed(c3), N1);
    ck_assert_int_eq(ctrl_save(c3, &buf2, &err), HW_OK);
    ck_assert_uint_eq(buf.len, buf2.len);
    ck_assert(memcmp(buf.data, buf2.data, buf.len) == 0);
    run_rounds(c3, N2, b + N1 * 5);
    ck_assert(memcmp(a, b, sizeof a) == 0);
    /* and the learned state ends identical too */
    struct ctrl_buf e1 = {0}, e3 = {0};
    ck_assert_int_eq(ctrl_save(c1, &e1, &err), HW_OK);
    ck_assert_int_eq(ctrl_save(c3, &e3, &err), HW_OK);
    ck_assert_uint_eq(e1.len, e3.len);
    ck_assert(memcmp(e1.data, e3.data, e1.len) == 0);
    ctrl_buf_release(&buf);
    ctrl_buf_release(&buf2);
    ctrl_buf_release(&e1);
    ctrl_buf_release(&e3);
    ctrl_free(c1);
    ctrl_free(c3);
}

START_TEST(test_ctrl_save_load_resume)
{
    struct ctrl_config cfg;
    ctrl_config_default(&cfg);
    check_resume(CTRL_RANDOM, NULL);
    cfg.population = 8;
    cfg.sample_size = 3;
    check_resume(CTRL_EVOLUTION, &cfg); /* population turned over, ring wrapped */
    ctrl_config_default(&cfg);
    cfg.hidden = 16;
    check_resume(CTRL_RL, &cfg);
    cfg.batch = 4; /* 23 = 5 * 4 + 3: saved with a pending batch */
    cfg.ppo_epochs = 3;
    cfg.logit_clip = 2.5;
    check_resume(CTRL_RL, &cfg);
}
END_TEST

START_TEST(test_ctrl_load_errors)
{
    struct ctrl_vocab v = small_vocab();
    struct ctrl *c, *d;
    struct hw_err err;
    struct ctrl_config cfg;
    ctrl_config_default(&cfg);
    cfg.hidden = 8;
    cfg.batch = 3;
    ck_assert_int_eq(ctrl_create(&c, CTRL_RL, &v, &cfg, 5, NULL), HW_OK);
    int seq[2 * 5];
    run_rounds(c, 2, seq);
    struct ctrl_buf buf = {0};
    ck_assert_int_eq(ctrl_save(c, &buf, &err), HW_OK);
    /* every truncation is refused, none crashes */
    for (size_t n = 0; n < buf.len; n += 7) {
        ck_assert_int_eq(ctrl_load(&d, buf.data, n, &err), HW_EINVAL);
        ck_assert_ptr_null(d);
    }
    ck_assert_ptr_nonnull(strstr(err.msg, "truncated"));
    unsigned char *copy = malloc(buf.len + 1);
    memcpy(copy, buf.data, buf.len);
    copy[buf.len] = 0;
    ck_assert_int_eq(ctrl_load(&d, copy, buf.len + 1, &err), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "1 trailing bytes"));
    copy[0] ^= 0xff;
    ck_assert_int_eq(ctrl_load(&d, copy, buf.len, &err), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "bad magic"));
    copy[0] ^= 0xff;
    copy[8] = 9; /* kind */
    ck_assert_int_eq(ctrl_load(&d, copy, buf.len, &err), HW_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "kind 9"));
    free(copy);
    ctrl_buf_release(&buf);
    ctrl_free(c);
}
END_TEST

/* ---- evolution ---- */

static int hamming(const int *a, const int *b, int n)
{
    int d = 0;
    for (int i = 0; i < n; i++)
        d += a[i] != b[i];
    return d;
}

START_TEST(test_evolution_tournament_aging)
{
    /* 6 tokens of 4 choices; members far apart (Hamming distance >= 4). */
    struct ctrl_vocab v = {.n_tokens = 6, .choices = {4, 4, 4, 4, 4, 4}};
    static const int mem[4][6] = {
        {0, 0, 0, 0, 0, 0}, {1, 1, 1, 1, 1, 1}, {2, 2, 2, 2, 2, 2}, {3, 3, 3, 3, 3, 3}};
    struct ctrl_config cfg;
    ctrl_config_default(&cfg);
    cfg.population = 3;
    cfg.sample_size = 3;
    struct ctrl *c;
    ck_assert_int_eq(ctrl_create(&c, CTRL_EVOLUTION, &v, &cfg, 11, NULL), HW_OK);
    ck_assert_int_eq(ctrl_report(c, mem[0], 0.9, NULL), HW_OK); /* best, oldest */
    ck_assert_int_eq(ctrl_report(c, mem[1], 0.2, NULL), HW_OK);
    ck_assert_int_eq(ctrl_report(c, mem[2], 0.1, NULL), HW_OK);
    /* Tournament of 3 with replacement misses the best with prob (2/3)^3. */
    int from_best = 0, n = 3000;
    for (int i = 0; i < n; i++) {
        int tok[6], parent = -1;
        ctrl_propose(c, tok);
        for (int m = 0; m < 3; m++)
            if (hamming(tok, mem[m], 6) == 1)
                parent = m;
        ck_assert_int_ge(parent, 0); /* exactly one token changed */
        from_best += parent == 0;
    }
    double want = 1.0 - 8.0 / 27.0;
    ck_assert_double_eq_tol((double)from_best / n, want, 0.04);
    /* The oldest (the best) dies when a fourth member arrives. */
    ck_assert_int_eq(ctrl_report(c, mem[3], 0.0, NULL), HW_OK);
    for (int i = 0; i < 500; i++) {
        int tok[6];
        ctrl_propose(c, tok);
        ck_assert_int_gt(hamming(tok, mem[0], 6), 1);
    }
    ctrl_free(c);
}
END_TEST

/* ---- LSTM policy ---- */

static double objective(struct lstm_policy *p, int *tokens, double a, double b)
{
    double ent;
    double lp = lstm_policy_forward(p, tokens, NULL, &ent);
    return a * lp + b * ent;
}

static void check_gradient(double temperature, double logit_clip)
{
    struct ctrl_vocab v = small_vocab();
    struct lstm_policy p;
    struct pcg32 rng;
    pcg32_seed(&rng, 17, 3);
    ck_assert_int_eq(lstm_policy_init(&p, &v, 5, temperature, logit_clip, NULL), HW_OK);
    lstm_policy_randomize(&p, 0.8, &rng);
    int tokens[5] = {2, 0, 3, 0, 1};
    const double a = 0.7, b = 0.3;
    double *grad = calloc(p.n_params, sizeof(double));
    objective(&p, tokens, a, b);
    lstm_policy_backward(&p, tokens, a, b, grad);
    /* Central differences over every parameter of every tensor; the LSTM and
     * heads are smooth, so with h = 1e-5 in double the truncation error is
     * ~1e-10 and we ask for 1e-7 relative. */
    double worst = 0;
    for (size_t i = 0; i < p.n_params; i++) {
        double keep = p.params[i], h = 1e-5;
        p.params[i] = keep + h;
        double fp = objective(&p, tokens, a, b);
        p.params[i] = keep - h;
        double fm = objective(&p, tokens, a, b);
        p.params[i] = keep;
        double num = (fp - fm) / (2 * h);
        double rel = fabs(num - grad[i]) / fmax(1e-3, fabs(num) + fabs(grad[i]));
        if (rel > worst)
            worst = rel;
    }
    ck_assert_double_lt(worst, 1e-7);
    /* Every tensor gets some gradient (the token path reaches the embeddings). */
    struct lstm_tensors g = lstm_policy_carve(&p, grad);
    ck_assert(g.emb[0] != 0 && g.wx[0] != 0 && g.wh[0] != 0 && g.b[0] != 0 && g.head_w[0] != 0);
    free(grad);
    lstm_policy_release(&p);
}

START_TEST(test_lstm_backward_fd)
{
    check_gradient(1.0, 0.0);
    check_gradient(0.7, 2.0);
}
END_TEST

START_TEST(test_lstm_forward_softmax)
{
    /* With all weights zero except head biases, each position's distribution
     * is softmax(head_b) whatever the LSTM does. */
    struct ctrl_vocab v = {.n_tokens = 2, .choices = {3, 2}};
    struct lstm_policy p;
    ck_assert_int_eq(lstm_policy_init(&p, &v, 4, 1.0, 0.0, NULL), HW_OK);
    memset(p.params, 0, sizeof(double) * p.n_params);
    p.w.head_b[0] = 1.0; p.w.head_b[1] = 2.0; p.w.head_b[2] = 3.0;
    p.w.head_b[3] = 0.0; p.w.head_b[4] = log(3.0);
    double z = exp(1) + exp(2) + exp(3);
    int tok[2] = {1, 1};
    double ent;
    double lp = lstm_policy_forward(&p, tok, NULL, &ent);
    ck_assert_double_eq_tol(lp, 2.0 - log(z) + log(0.75), 1e-12);
    double h0 = 0, h1 = -(0.25 * log(0.25) + 0.75 * log(0.75));
    for (int j = 1; j <= 3; j++)
        h0 -= exp(j) / z * (j - log(z));
    ck_assert_double_eq_tol(ent, h0 + h1, 1e-12);
    /* Sampling follows the same distribution. */
    struct pcg32 rng;
    pcg32_seed(&rng, 1, 2);
    int counts[3] = {0};
    for (int i = 0; i < 30000; i++) {
        lstm_policy_forward(&p, tok, &rng, NULL);
        counts[tok[0]]++;
    }
    for (int j = 0; j < 3; j++)
        ck_assert_double_eq_tol(counts[j] / 30000.0, exp(j + 1) / z, 0.01);
    lstm_policy_release(&p);
}
END_TEST

/* ---- learning ---- */

static void check_learns(const struct ctrl_config *cfg)
{
    struct ctrl_vocab v = {.n_tokens = 8, .choices = {3, 3, 3, 3, 3, 3, 3, 3}};
    struct ctrl *c;
    ck_assert_int_eq(ctrl_create(&c, CTRL_RL, &v, cfg, 4, NULL), HW_OK);
    int seq[300 * 8];
    run_rounds(c, 300, seq);
    double first = 0, last = 0;
    for (int i = 0; i < 10; i++)
        first += match_reward(&v, seq + i * 8) / 10;
    for (int i = 250; i < 300; i++)
        last += match_reward(&v, seq + i * 8) / 50;
    /* random guessing scores 1/3 (the first batch is sampled before any update) */
    ck_assert_double_lt(first, 0.5);
    ck_assert_double_gt(last, 0.8);
    ctrl_free(c);
}

START_TEST(test_rl_learns)
{
    struct ctrl_config cfg;
    ctrl_config_default(&cfg);
    cfg.hidden = 32;
    check_learns(&cfg); /* REINFORCE, batch 1 */
    cfg.batch = 5;
    cfg.ppo_epochs = 4;
    check_learns(&cfg); /* PPO */
}
END_TEST

/* ---- synthetic objective ---- */

START_TEST(test_synth_objective)
{
    struct ctrl_vocab v;
    synth_vocab_blocks(&v, 3);
    ck_assert_int_eq(v.n_tokens, 18);
    ck_assert_int_eq(v.choices[2], 2);
    struct synth_objective o;
    synth_objective_init(&o, &v, 5);
    int lo[18] = {0}, hi[18];
    for (int t = 0; t < 18; t++)
        hi[t] = v.choices[t] - 1;
    ck_assert_double_eq_tol(synth_latency(&o, lo), o.lat_min, 1e-12);
    ck_assert_double_eq_tol(synth_latency(&o, hi), o.lat_max, 1e-12);
    ck_assert_double_gt(o.lat_max, 2 * o.lat_min);
    ck_assert_double_eq_tol(o.reward.target_ms, 0.5 * (o.lat_min + o.lat_max), 1e-12);
    double acc = synth_accuracy(&o, hi);
    ck_assert(acc > synth_accuracy(&o, lo) && acc < 1.0);
    /* the reward is the MnasNet hard reward of those two numbers */
    ck_assert_double_eq_tol(synth_reward(&o, hi), acc * o.reward.target_ms / o.lat_max, 1e-12);
    /* a different seed is a different problem */
    struct synth_objective o2;
    synth_objective_init(&o2, &v, 6);
    ck_assert(synth_latency(&o2, hi) != synth_latency(&o, hi));
}
END_TEST

START_TEST(test_controllers_beat_random)
{
    /* Issue 5 target at a small size: 150 trials, 5 blocks (30 tokens). */
    struct ctrl_vocab v;
    synth_vocab_blocks(&v, 5);
    int wins[3] = {0};
    for (int s = 1; s <= 5; s++) {
        struct synth_objective o;
        synth_objective_init(&o, &v, (uint64_t)s);
        double best[3];
        for (int k = 0; k < 3; k++) {
            struct ctrl *c;
            ck_assert_int_eq(ctrl_create(&c, (enum ctrl_kind)k, &v, NULL, (uint64_t)s * 31, NULL),
                             HW_OK);
            ck_assert_int_eq(ctrl_optimize(c, 150, synth_reward, &o, &best[k], NULL, NULL), HW_OK);
            ctrl_free(c);
        }
        wins[CTRL_EVOLUTION] += best[CTRL_EVOLUTION] > best[CTRL_RANDOM];
        wins[CTRL_RL] += best[CTRL_RL] > best[CTRL_RANDOM];
    }
    ck_assert_int_ge(wins[CTRL_EVOLUTION], 4);
    ck_assert_int_ge(wins[CTRL_RL], 4);
}
END_TEST

START_TEST(test_ctrl_optimize_best)
{
    struct ctrl_vocab v = small_vocab();
    struct ctrl *c;
    ck_assert_int_eq(ctrl_create(&c, CTRL_RANDOM, &v, NULL, 8, NULL), HW_OK);
    double best;
    int tok[5];
    ck_assert_int_eq(ctrl_optimize(c, 200, match_reward, &v, &best, tok, NULL), HW_OK);
    /* 200 uniform draws over 72 archs find the optimum with near certainty */
    ck_assert_double_eq(best, 1.0);
    ck_assert_double_eq(match_reward(&v, tok), best);
    ctrl_free(c);
}
END_TEST

/* ---- Pareto front and SVG ---- */

static const struct pareto_point hand_pts[] = {
    {1.0, 0.80}, {2.0, 0.85}, {1.5, 0.79}, {3.0, 0.85},
    {0.5, 0.60}, {2.0, 0.85}, {NAN, 0.90}, {4.0, 0.90},
};

START_TEST(test_pareto_front_hand)
{
    /* 2 is beaten by 0, 3 by 1 (same accuracy, slower), 5 is a copy of 1,
     * 6 has no latency. */
    int idx[8];
    int m = pareto_front(hand_pts, 8, idx);
    ck_assert_int_eq(m, 4);
    ck_assert_int_eq(idx[0], 4);
    ck_assert_int_eq(idx[1], 0);
    ck_assert_int_eq(idx[2], 1);
    ck_assert_int_eq(idx[3], 7);
    ck_assert_int_eq(pareto_front(hand_pts, 0, idx), 0);
}
END_TEST

static int by_lat_then_acc(const void *a, const void *b)
{
    const struct pareto_point *p = a, *q = b;
    if (p->lat_ms != q->lat_ms)
        return p->lat_ms < q->lat_ms ? -1 : 1;
    return p->acc > q->acc ? -1 : p->acc < q->acc;
}

START_TEST(test_pareto_front_sweep)
{
    /* Oracle: sort by latency (ties: more accurate first) and keep each point
     * more accurate than everything before it. Coarse grid values make ties. */
    struct pcg32 rng;
    pcg32_seed(&rng, 9, 9);
    enum { N = 300 };
    struct pareto_point pts[N], sorted[N];
    for (int i = 0; i < N; i++) {
        pts[i].lat_ms = 0.1 * (1 + (int)pcg32_bounded(&rng, 40));
        pts[i].acc = 0.01 * (50 + (int)pcg32_bounded(&rng, 45));
    }
    memcpy(sorted, pts, sizeof pts);
    qsort(sorted, N, sizeof sorted[0], by_lat_then_acc);
    struct pareto_point want[N];
    int nw = 0;
    double best = -1;
    for (int i = 0; i < N; i++)
        if (sorted[i].acc > best) {
            best = sorted[i].acc;
            want[nw++] = sorted[i];
        }
    int idx[N];
    int m = pareto_front(pts, N, idx);
    ck_assert_int_eq(m, nw);
    for (int i = 0; i < m; i++) {
        ck_assert_double_eq(pts[idx[i]].lat_ms, want[i].lat_ms);
        ck_assert_double_eq(pts[idx[i]].acc, want[i].acc);
    }
}
END_TEST

static int count_of(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* Minimal XML check: every start tag is closed (or self-closed) in order. */
static int tags_balanced(const char *s)
{
    char stack[64][32];
    int depth = 0;
    for (const char *p = strchr(s, '<'); p; p = strchr(p + 1, '<')) {
        const char *end = strchr(p, '>');
        if (!end)
            return 0;
        if (p[1] == '/') {
            size_t len = strcspn(p + 2, ">");
            if (depth == 0 || strlen(stack[depth - 1]) != len ||
                strncmp(stack[depth - 1], p + 2, len) != 0)
                return 0;
            depth--;
        } else if (end[-1] != '/') {
            size_t len = strcspn(p + 1, " >");
            if (depth == 64 || len >= 32)
                return 0;
            memcpy(stack[depth], p + 1, len);
            stack[depth++][len] = '\0';
        }
    }
    return depth == 0;
}

START_TEST(test_pareto_svg)
{
    char *svg;
    struct pareto_svg_opts opts = {"fmnist <rl> & co", 2.5, 0, 0};
    ck_assert_int_eq(pareto_svg_string(&svg, hand_pts, 8, &opts, NULL), HW_OK);
    ck_assert(strncmp(svg, "<svg ", 5) == 0);
    ck_assert(tags_balanced(svg));
    ck_assert_int_eq(count_of(svg, "<circle"), 7); /* the NaN point is not drawn */
    ck_assert_int_eq(count_of(svg, "class=\"front\""), 4);
    ck_assert_int_eq(count_of(svg, "<polyline"), 1);
    ck_assert_ptr_nonnull(strstr(svg, "Pareto front (4)"));
    ck_assert_ptr_nonnull(strstr(svg, "all candidates (7)"));
    ck_assert_int_eq(count_of(svg, "class=\"target\""), 1);
    ck_assert_ptr_nonnull(strstr(svg, "latency (ms)"));
    ck_assert_ptr_nonnull(strstr(svg, "validation accuracy (%)"));
    ck_assert_ptr_nonnull(strstr(svg, "fmnist &lt;rl&gt; &amp; co"));
    ck_assert_ptr_nonnull(strstr(svg, "<title>0.5 ms, 60.00 %</title>"));
    free(svg);
    /* No points, no target: still a well-formed, empty plot. */
    ck_assert_int_eq(pareto_svg_string(&svg, NULL, 0, NULL, NULL), HW_OK);
    ck_assert(tags_balanced(svg));
    ck_assert_int_eq(count_of(svg, "<circle"), 0);
    ck_assert_int_eq(count_of(svg, "class=\"target\""), 0);
    free(svg);
}
END_TEST

Suite *suite_search(void)
{
    Suite *s = suite_create("search");
    struct {
        const char *name;
        const TTest *test;
    } cases[] = {
        {"reward_mnas", test_reward_values},
        {"reward_cfg_validate", test_reward_validate},
        {"reward_quality", test_reward_quality},
        {"reward_score_names", test_reward_score_names},
        {"ctrl_create", test_ctrl_create_errors},
        {"ctrl_propose", test_ctrl_propose_range},
        {"ctrl_report", test_ctrl_report_errors},
        {"ctrl_save_load", test_ctrl_save_load_resume},
        {"ctrl_load", test_ctrl_load_errors},
        {"ctrl_optimize", test_ctrl_optimize_best},
        {"evolution", test_evolution_tournament_aging},
        {"lstm_policy_backward", test_lstm_backward_fd},
        {"lstm_policy_forward", test_lstm_forward_softmax},
        {"rl", test_rl_learns},
        {"synth_objective", test_synth_objective},
        {"controllers_vs_random", test_controllers_beat_random},
        {"pareto_front", test_pareto_front_hand},
        {"pareto_front_sweep", test_pareto_front_sweep},
        {"pareto_svg", test_pareto_svg},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        TCase *tc = tcase_create(cases[i].name);
        /* learning runs are a few seconds under the sanitizers */
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, cases[i].test);
        suite_add_tcase(s, tc);
    }
    return s;
}
