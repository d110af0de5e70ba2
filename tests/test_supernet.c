/* The supernet: subnets are exactly its slices, its file round-trips and is
 * refused for another space, a tiny one trains in seconds to subnets well
 * above chance, recalibration restores a subnet's accuracy, a killed
 * training resumes to the same weights, and a search scores with it. */
#include <check.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "db/db.h"
#include "evaluator/train.h"
#include "supernet/supernet.h"
#include "tests/cli_run.h"

/* Two blocks and a searched head: every kind of slot (kernel centres,
 * channel prefixes, depth, SE, both head variants of the classifier). */
static const char *tiny_space =
    "{\"version\":1,\"name\":\"tiny-sn\",\"input\":{\"h\":28,\"w\":28,\"c\":1},\"classes\":10,"
    "\"stem\":{\"k\":3,\"stride\":2,\"out\":8,\"act\":\"hswish\"},"
    "\"head\":{\"conv_out\":32,\"conv_act\":\"hswish\",\"fc_hidden\":0,\"fc_act\":\"hswish\","
    "\"dropout\":0.1},\"blocks\":["
    "{\"stride\":1,\"width\":8,\"kernel\":[3,5],\"expansion\":[1],\"se\":[0,1],"
    "\"act\":[\"relu\"],\"layers\":[1,2],\"width_mult\":[1.0]},"
    "{\"stride\":2,\"width\":16,\"kernel\":[3,5,7],\"expansion\":[2,4],\"se\":[0,1],"
    "\"act\":[\"relu\",\"hswish\"],\"layers\":[1,2],\"width_mult\":[0.5,1.0]}],"
    "\"head_options\":{\"conv_out\":[16,32],\"fc_hidden\":[0,24]}}";

/* The same with another kernel list: another space, another hash. */
static char *other_space(void)
{
    char *s = strdup(tiny_space);
    char *k = strstr(s, "[3,5,7]");
    memcpy(k, "[3,7,5]", 7);
    return s;
}

static void init_tiny(struct supernet *sn, int subset, int epochs, int batch)
{
    struct supernet_config c;
    supernet_config_default(&c);
    c.subset = subset;
    c.epochs = epochs;
    c.batch = batch;
    struct hw_err e;
    ck_assert_msg(supernet_init(sn, tiny_space, "tiny", &c, &e) == HW_OK, "%s", e.msg);
}

/* What element idx (row-major in the subnet tensor of shape ds) of a slice
 * must be: the slot's element at the same index, plus the centring offset on
 * the two kernel dimensions of a depthwise weight. Written out per element
 * as the test's own oracle, not with the library's copy loop. */
static float expected(const struct supernet *sn, const struct supernet_slot *sl, const int *ds,
                      int nd, size_t idx, int dw)
{
    int ix[4] = {0, 0, 0, 0};
    for (int d = nd - 1; d >= 0; d--) {
        ix[d] = (int)(idx % (size_t)ds[d]);
        idx /= (size_t)ds[d];
    }
    if (dw) {
        ix[0] += (sl->shape[0] - ds[0]) / 2;
        ix[1] += (sl->shape[1] - ds[1]) / 2;
    }
    size_t o = 0;
    for (int d = 0; d < nd; d++)
        o = o * (size_t)sl->shape[d] + (size_t)ix[d];
    return sn->params[sl->off + o];
}

static const char *const unit_names[3][13] = {
    {"conv.w", "bn.g", "bn.b"},
    {"expand.w", "expand.bn.g", "expand.bn.b", "dw.w", "dw.bn.g", "dw.bn.b", "se.w1", "se.b1",
     "se.w2", "se.b2", "project.w", "project.bn.g", "project.bn.b"},
    {"conv.w", "conv.bn.g", "conv.bn.b", "fc1.w", "fc1.b", "fc2.w", "fc2.b"}};

/* The slot key of tensor `name` of unit u of arch a with tokens tok. */
static void key_of(const struct space *s, const struct arch *a, const int *tok, int u,
                   const char *name, char *key)
{
    if (u == 0) {
        sprintf(key, "stem.%s", name);
    } else if (u <= a->n_layers) {
        int li = u - 1, b = 0;
        while (li >= s->blocks[b].layers[tok[b * SPACE_N_CHOICES + SPACE_LAYERS]])
            li -= s->blocks[b].layers[tok[b * SPACE_N_CHOICES + SPACE_LAYERS]], b++;
        sprintf(key, "b%d.l%d.%s", b, li, name);
    } else {
        const char *v = !strncmp(name, "fc1", 3)   ? (a->head.conv_out ? "@conv" : "@pool")
                        : !strncmp(name, "fc2", 3) ? (a->head.fc_hidden ? "@fc1"
                                                      : a->head.conv_out ? "@conv"
                                                                         : "@pool")
                                                   : "";
        sprintf(key, "head.%s%s", name, v);
    }
}

START_TEST(test_subnet_is_slice)
{
    struct supernet sn;
    init_tiny(&sn, 0, 1, 8);
    struct pcg32 rng;
    pcg32_seed(&rng, 5, 5);
    /* distinct values everywhere, so a wrong offset cannot match */
    for (size_t i = 0; i < sn.n_params; i++)
        sn.params[i] = (float)i;
    int kernels_below_max = 0, narrower = 0, tensors = 0;
    for (int trial = 0; trial < 40; trial++) {
        int tok[SPACE_MAX_TOKENS];
        if (trial == 0)
            supernet_tokens_smallest(&sn.space, &rng, tok);
        else if (trial == 1)
            supernet_tokens_largest(&sn.space, &rng, tok);
        else
            space_sample(&sn.space, &rng, tok);
        struct arch a;
        struct nn_net *net;
        struct hw_err e;
        ck_assert_int_eq(space_decode(&sn.space, tok, &a, &e), HW_OK);
        ck_assert_int_eq(nn_net_create(&net, &a, 4, NN_MODE_TRAIN, &e), HW_OK);
        ck_assert_msg(supernet_gather(&sn, net, &e) == HW_OK, "%s", e.msg);
        float *grads = nn_net_grads(net);
        size_t np = nn_net_n_params(net);
        for (size_t i = 0; i < np; i++)
            grads[i] = 1.f + (float)(i % 7);
        memset(sn.grads, 0, sizeof(float) * sn.n_params);
        ck_assert_int_eq(supernet_scatter_grads(&sn, net, &e), HW_OK);
        double want_sum = 0, got_sum = 0;
        size_t covered = 0;
        for (int u = 0; u < a.n_layers + 2; u++) {
            int kind = u == 0 ? 0 : u <= a.n_layers ? 1 : 2;
            for (int i = 0; i < 13 && unit_names[kind][i]; i++) {
                struct nn_tensor t;
                if (nn_net_tensor(net, u, unit_names[kind][i], &t, NULL) != HW_OK)
                    continue;
                char key[64];
                key_of(&sn.space, &a, tok, u, unit_names[kind][i], key);
                const struct supernet_slot *sl = supernet_slot_find(&sn, key);
                ck_assert_msg(sl != NULL, "no slot %s", key);
                int dw = !strcmp(unit_names[kind][i], "dw.w");
                for (size_t j = 0; j < t.size; j++)
                    ck_assert_msg(t.data[j] == expected(&sn, sl, t.shape, t.ndim, j, dw),
                                  "%s element %zu: %g", key, j, t.data[j]);
                kernels_below_max += dw && t.shape[0] < sl->shape[0];
                narrower += t.size < sl->size;
                covered += t.size;
                tensors++;
            }
        }
        ck_assert_uint_eq(covered, np); /* every parameter came from a slot */
        for (size_t i = 0; i < np; i++)
            want_sum += grads[i];
        for (size_t i = 0; i < sn.n_params; i++)
            got_sum += sn.grads[i];
        ck_assert_double_eq_tol(got_sum, want_sum, 1e-3); /* each grad added once */
        nn_net_free(net);
    }
    ck_assert_int_gt(kernels_below_max, 10);
    ck_assert_int_gt(narrower, 100);
    ck_assert_int_gt(tensors, 500);
    supernet_release(&sn);
}
END_TEST

/* A pooled net computes what a fresh one does, even on memory another net
 * used; a pool lends its memory to one live net at a time. */
START_TEST(test_pool)
{
    struct supernet sn;
    init_tiny(&sn, 0, 1, 8);
    struct pcg32 rng;
    pcg32_seed(&rng, 6, 6);
    struct nn_pool pool = {0};
    struct hw_err e;
    float x[8 * 28 * 28];
    for (int i = 0; i < 8 * 28 * 28; i++)
        x[i] = 2.f * pcg32_float(&rng) - 1.f;
    for (int t = 0; t < 6; t++) {
        int tok[SPACE_MAX_TOKENS];
        if (t % 2)
            supernet_tokens_largest(&sn.space, &rng, tok);
        else
            space_sample(&sn.space, &rng, tok);
        struct arch a;
        ck_assert_int_eq(space_decode(&sn.space, tok, &a, &e), HW_OK);
        struct nn_net *fresh, *pooled, *second;
        ck_assert_int_eq(nn_net_create(&fresh, &a, 8, NN_MODE_TRAIN, &e), HW_OK);
        ck_assert_int_eq(nn_net_create_pooled(&pooled, &a, 8, NN_MODE_TRAIN, &pool, &e), HW_OK);
        ck_assert_int_eq(nn_net_create_pooled(&second, &a, 8, NN_MODE_TRAIN, &pool, &e),
                         HW_EINVAL);
        ck_assert_int_eq(supernet_gather(&sn, fresh, &e), HW_OK);
        ck_assert_int_eq(supernet_gather(&sn, pooled, &e), HW_OK);
        const float *y1 = nn_net_forward(fresh, x, 8, NULL);
        const float *y2 = nn_net_forward(pooled, x, 8, NULL);
        ck_assert(!memcmp(y1, y2, sizeof(float) * 8 * 10));
        int labels[8] = {0, 1, 2, 3, 4, 5, 6, 7};
        nn_net_zero_grad(fresh);
        nn_net_zero_grad(pooled);
        nn_net_backward(fresh, labels, 8, 0.1f);
        nn_net_backward(pooled, labels, 8, 0.1f);
        ck_assert(!memcmp(nn_net_grads(fresh), nn_net_grads(pooled),
                          sizeof(float) * nn_net_n_params(fresh)));
        /* the whole net's soft-target backward with smoothed one-hot rows is
         * its label backward */
        float tg[8 * 10];
        for (int i = 0; i < 8; i++)
            for (int j = 0; j < 10; j++)
                tg[i * 10 + j] = (j == labels[i] ? 0.9f : 0.f) + 0.01f;
        nn_net_forward(fresh, x, 8, NULL);
        nn_net_zero_grad(fresh);
        nn_net_backward_soft(fresh, tg, 8);
        const float *g1 = nn_net_grads(fresh), *g2 = nn_net_grads(pooled);
        for (size_t i = 0; i < nn_net_n_params(fresh); i++)
            ck_assert_msg(fabsf(g1[i] - g2[i]) <= 1e-5f * (1.f + fabsf(g2[i])),
                          "grad %zu: soft %g, labels %g", i, g1[i], g2[i]);
        nn_net_free(fresh);
        nn_net_free(pooled);
    }
    nn_pool_release(&pool);
    supernet_release(&sn);
}
END_TEST

START_TEST(test_file)
{
    char path[] = "/tmp/hwnas-sn-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    struct supernet a, b;
    struct hw_err e;
    init_tiny(&a, 100, 2, 16);
    a.step = 3;
    a.total_steps = 12;
    ck_assert_int_eq(supernet_save(&a, path, &e), HW_OK);
    ck_assert_msg(supernet_load(path, &b, &e) == HW_OK, "%s", e.msg);
    ck_assert_uint_eq(a.n_params, b.n_params);
    ck_assert(!memcmp(a.params, b.params, sizeof(float) * a.n_params));
    ck_assert(!memcmp(a.mom, b.mom, sizeof(float) * a.n_params));
    ck_assert_int_eq(b.step, 3);
    ck_assert_int_eq(b.cfg.subset, 100);
    ck_assert_uint_eq(a.crc, b.crc);
    /* another space: refused, naming both hashes */
    char *other = other_space();
    struct space os;
    ck_assert_int_eq(space_from_json_string(other, "other", &os, &e), HW_OK);
    ck_assert_int_eq(supernet_check_space(&b, &os, path, &e), HW_EMISMATCH);
    char h1[17], h2[17];
    snprintf(h1, sizeof h1, "%016" PRIx64, space_hash(&a.space));
    snprintf(h2, sizeof h2, "%016" PRIx64, space_hash(&os));
    ck_assert_msg(strstr(e.msg, h1) && strstr(e.msg, h2) && strstr(e.msg, path), "%s", e.msg);
    ck_assert_int_eq(supernet_check_space(&b, &a.space, path, &e), HW_OK);
    free(other);
    supernet_release(&b);
    /* truncated and damaged files are refused, naming the file */
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(truncate(path, st.st_size - 100), 0);
    ck_assert_int_ne(supernet_load(path, &b, &e), HW_OK);
    ck_assert_msg(strstr(e.msg, path) && strstr(e.msg, "checksum"), "%s", e.msg);
    FILE *f = fopen(path, "w");
    fputs("HWNASMDL not a supernet", f);
    fclose(f);
    ck_assert_int_ne(supernet_load(path, &b, &e), HW_OK);
    ck_assert_msg(strstr(e.msg, "not an hwnas supernet file"), "%s", e.msg);
    supernet_release(&a);
    unlink(path);
}
END_TEST

/* A tiny supernet trains in seconds; its subnets score well above chance;
 * recalibrating BN restores what the unit statistics lose. */
START_TEST(test_train_and_eval)
{
    struct data_set train, val;
    struct hw_err e;
    ck_assert_msg(data_load_trainval(DATA_DEFAULT_DIR, 10, &train, &val, &e) == HW_OK, "%s",
                  e.msg);
    struct supernet sn;
    init_tiny(&sn, 4000, 2, 64);
    ck_assert_msg(supernet_train(&sn, &train, 2, NULL, 0, NULL, NULL, NULL, &e) == HW_OK, "%s",
                  e.msg);
    ck_assert_int_eq(sn.step, sn.total_steps);
    ck_assert_int_eq(sn.total_steps, 2 * (4000 / 64));
    struct supernet_eval_config ec = {1000, 100, 1000};
    struct nn_pool pools[2] = {{0}};
    struct pcg32 rng;
    pcg32_seed(&rng, 3, 3);
    for (int i = 0; i < 4; i++) {
        int tok[SPACE_MAX_TOKENS];
        space_sample(&sn.space, &rng, tok);
        struct arch a;
        ck_assert_int_eq(space_decode(&sn.space, tok, &a, &e), HW_OK);
        struct eval_result r;
        ck_assert_msg(supernet_eval(&sn, &a, &ec, &train, &val, pools, &r, &e) == HW_OK, "%s",
                      e.msg);
        ck_assert_msg(r.val_acc > 0.5, "subnet %d: val acc %.3f", i, r.val_acc);
        ck_assert(isfinite(r.val_loss) && isfinite(r.train_loss) && r.train_loss > 0);
        /* without recalibration (unit statistics) the same weights fall apart */
        struct nn_net *net, *infer;
        ck_assert_int_eq(nn_net_create(&net, &a, 100, NN_MODE_TRAIN, &e), HW_OK);
        ck_assert_int_eq(supernet_gather(&sn, net, &e), HW_OK);
        size_t ns = nn_net_n_state(net);
        float *before = malloc(sizeof(float) * ns);
        memcpy(before, nn_net_state(net), sizeof(float) * ns);
        ck_assert_int_eq(nn_net_create(&infer, &a, 100, NN_MODE_INFER, &e), HW_OK);
        ck_assert_int_eq(nn_net_fold_from(infer, net, &e), HW_OK);
        double raw_acc, recal_acc;
        ck_assert_int_eq(train_accuracy(infer, &val, 1000, 100, &raw_acc, &e), HW_OK);
        ck_assert_int_eq(train_recalibrate_bn(net, &train, 1000, 100, &e), HW_OK);
        ck_assert(memcmp(before, nn_net_state(net), sizeof(float) * ns) != 0);
        ck_assert_int_eq(nn_net_fold_from(infer, net, &e), HW_OK);
        ck_assert_int_eq(train_accuracy(infer, &val, 1000, 100, &recal_acc, &e), HW_OK);
        ck_assert_double_eq_tol(recal_acc, r.val_acc, 1e-9); /* what supernet_eval does */
        ck_assert_msg(recal_acc > raw_acc + 0.2, "subnet %d: %.3f recalibrated, %.3f not", i,
                      recal_acc, raw_acc);
        free(before);
        nn_net_free(net);
        nn_net_free(infer);
    }
    nn_pool_release(&pools[0]);
    nn_pool_release(&pools[1]);
    supernet_release(&sn);
    data_set_release(&train);
    data_set_release(&val);
}
END_TEST

static char dir[64];

static void run_ok(const char *args)
{
    struct cli_run r;
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 0, "hwnas %s: exit %d: %s", args, r.status, r.err);
    cli_run_release(&r);
}

static void setup_dir(void)
{
    strcpy(dir, "/tmp/hwnas-sn-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/tiny.json", dir);
    FILE *f = fopen(path, "w");
    fputs(tiny_space, f);
    fclose(f);
}

static int load_params(const char *path, float **p, size_t *n)
{
    struct supernet sn;
    *p = NULL;
    if (supernet_load(path, &sn, NULL) != HW_OK)
        return -1;
    *n = sn.n_params;
    *p = malloc(sizeof(float) * sn.n_params);
    memcpy(*p, sn.params, sizeof(float) * sn.n_params);
    int step = (int)sn.step;
    supernet_release(&sn);
    return step;
}

#define TRAIN_FLAGS "supernet train --space %s/tiny.json --subset 6000 --epochs 2 --batch 32 " \
                    "--threads 1 --quiet"

/* kill -9 during training, then --resume: the same weights as a training
 * that was never interrupted. */
START_TEST(test_kill9_resume)
{
    setup_dir();
    char args[512];
    snprintf(args, sizeof args, TRAIN_FLAGS " --out %s/a.hwsn", dir, dir);
    run_ok(args);
    char b_path[128];
    snprintf(b_path, sizeof b_path, "%s/b.hwsn", dir);
    snprintf(args, sizeof args, TRAIN_FLAGS " --out %s --checkpoint-every 0.5s", dir, b_path);
    pid_t pid = cli_spawn(args, NULL);
    ck_assert_int_gt(pid, 0);
    float *pa = NULL, *pb = NULL;
    size_t na, nb;
    int step = -1;
    for (int i = 0; i < 1200 && step <= 0; i++) {
        usleep(50000);
        if (access(b_path, F_OK) == 0 && (step = load_params(b_path, &pb, &nb)) >= 0)
            free(pb);
    }
    ck_assert_int_gt(step, 0);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    ck_assert(WIFSIGNALED(st));
    int total = 2 * (6000 / 32);
    int at_kill = load_params(b_path, &pb, &nb);
    free(pb);
    ck_assert_int_lt(at_kill, total); /* killed mid-training */
    snprintf(args, sizeof args, "supernet train --resume --out %s --threads 1 --quiet", b_path);
    run_ok(args);
    snprintf(args, sizeof args, "%s/a.hwsn", dir);
    ck_assert_int_eq(load_params(args, &pa, &na), total);
    ck_assert_int_eq(load_params(b_path, &pb, &nb), total);
    ck_assert_uint_eq(na, nb);
    ck_assert_msg(!memcmp(pa, pb, sizeof(float) * na), "resumed weights differ");
    free(pa);
    free(pb);
}
END_TEST

/* hwnas search --evaluator supernet: every candidate stored, each naming the
 * supernet that scored it; a supernet of another space is refused. */
START_TEST(test_search_with_supernet)
{
    setup_dir();
    char args[1024];
    snprintf(args, sizeof args, "profile --space %s/tiny.json --db %s/s.db --runs 3 --warmup 1 "
             "--quiet", dir, dir);
    run_ok(args);
    snprintf(args, sizeof args, "supernet train --space %s/tiny.json --subset 2000 --epochs 1 "
             "--batch 32 --threads 2 --quiet --out %s/t.hwsn", dir, dir);
    run_ok(args);
    /* a finished supernet is neither overwritten nor resumed with other settings */
    struct cli_run r;
    snprintf(args, sizeof args, "supernet train --space %s/tiny.json --out %s/t.hwsn --quiet",
             dir, dir);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 1 && strstr(r.err, "t.hwsn exists") && strstr(r.err, "--force"),
                  "exit %d: %s", r.status, r.err);
    cli_run_release(&r);
    snprintf(args, sizeof args, "supernet train --resume --out %s/t.hwsn --epochs 3", dir);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 2 && strstr(r.err, "file's own configuration"), "exit %d: %s",
                  r.status, r.err);
    cli_run_release(&r);
    snprintf(args, sizeof args, "search --space %s/tiny.json --db %s/s.db --target-ms 0.05 "
             "--controller evolution --trials 30 --evaluator supernet --supernet %s/t.hwsn "
             "--sn-recal 500 --sn-val 500 --quiet --name sn", dir, dir, dir);
    run_ok(args);
    struct db *db;
    struct hw_err e;
    char path[128];
    snprintf(path, sizeof path, "%s/s.db", dir);
    ck_assert_int_eq(db_open(&db, path, DB_OPEN_EXISTING, &e), HW_OK);
    struct db_run run;
    ck_assert_int_eq(db_run_lookup(db, "sn", &run, &e), HW_OK);
    /* scored by validation loss unless --score says otherwise (it ranks
     * supernet scores best) */
    ck_assert_msg(strstr(run.config_json, "\"score\":\"loss\"") &&
                      strstr(run.config_json, "\"evaluator\":\"supernet:"),
                  "%s", run.config_json);
    struct db_candidate *cs;
    int n;
    ck_assert_int_eq(db_candidate_list(db, run.id, DB_ORDER_TRIAL, 0, &cs, &n, &e), HW_OK);
    ck_assert_int_eq(n, 30);
    struct supernet sn;
    snprintf(path, sizeof path, "%s/t.hwsn", dir);
    ck_assert_int_eq(supernet_load(path, &sn, &e), HW_OK);
    char want[32];
    snprintf(want, sizeof want, "supernet:%08x", sn.crc);
    for (int i = 0; i < n; i++) {
        ck_assert_str_eq(cs[i].evaluator, want);
        ck_assert(cs[i].val_acc > 0.2 && isfinite(cs[i].train_loss));
        ck_assert_double_eq_tol(cs[i].reward,
                                exp(-cs[i].val_loss) * pow(cs[i].predicted_ms / 0.05, -0.07),
                                1e-9);
    }
    supernet_release(&sn);
    db_candidate_list_free(cs, n);
    db_run_release(&run);
    db_close(db);

    /* a supernet trained for another space */
    snprintf(path, sizeof path, "%s/other.json", dir);
    char *other = other_space();
    FILE *f = fopen(path, "w");
    fputs(other, f);
    fclose(f);
    free(other);
    snprintf(args, sizeof args, "search --space %s --db %s/s.db --target-ms 0.05 --trials 3 "
             "--evaluator supernet --supernet %s/t.hwsn --quiet", path, dir, dir);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 1 && strstr(r.err, "supernet was trained for space") &&
                      strstr(r.err, "t.hwsn"), "exit %d: %s", r.status, r.err);
    cli_run_release(&r);
    snprintf(args, sizeof args, "search --space %s/tiny.json --db %s/s.db --target-ms 0.05 "
             "--evaluator supernet", dir, dir);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 2 && strstr(r.err, "--supernet FILE"), "exit %d: %s", r.status,
                  r.err);
    cli_run_release(&r);
}
END_TEST

Suite *suite_supernet(void)
{
    Suite *s = suite_create("supernet");
    TCase *tc = tcase_create("slices");
    tcase_add_test(tc, test_subnet_is_slice);
    tcase_add_test(tc, test_pool);
    tcase_add_test(tc, test_file);
    suite_add_tcase(s, tc);
    tc = tcase_create("training");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_train_and_eval);
    tcase_add_test(tc, test_kill9_resume);
    tcase_add_test(tc, test_search_with_supernet);
    suite_add_tcase(s, tc);
    return s;
}
