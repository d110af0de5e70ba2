/* hwnas supernet train|eval|info: the weight-sharing evaluator's supernet. */
#include <cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/json_out.h"
#include "space/jfield.h"
#include "supernet/supernet.h"
#include "util/progress.h"

static volatile sig_atomic_t stop_requested;

static void on_sigint(int sig)
{
    (void)sig;
    stop_requested = 1;
}

struct train_ctx {
    struct progress bar;
    long per_epoch;
};

static int on_step(const struct supernet_step *st, void *p)
{
    struct train_ctx *c = p;
    progress_update(&c->bar, st->step);
    progress_note(&c->bar, "epoch %ld, largest subnet's loss %.3f", (st->step - 1) / c->per_epoch + 1,
                  st->loss);
    return 0;
}

/* The space's JSON text for a shipped name or a file (malloc'd). */
static int space_text(const char *name_or_file, char **text, struct hw_err *err)
{
    const char *t = space_builtin_text(name_or_file);
    if (t) {
        *text = strdup(t);
        return *text ? HW_OK : hw_error(err, HW_ENOMEM, "out of memory");
    }
    struct stat st;
    if (stat(name_or_file, &st) != 0) { /* names the shipped spaces */
        struct space unused;
        return space_load_builtin(name_or_file, &unused, err);
    }
    return jfield_read_file(name_or_file, text, err);
}

/* A --json root naming the supernet: file, space, space_hash; the caller
 * owns it. */
static cJSON *supernet_json_root(const struct supernet *sn, const char *path)
{
    cJSON *o = cli_json_root();
    char hash[17];
    snprintf(hash, sizeof hash, "%016" PRIx64, sn->space_hash);
    cJSON_AddStringToObject(o, "file", path);
    cJSON_AddStringToObject(o, "space", sn->space.name);
    cJSON_AddStringToObject(o, "space_hash", hash);
    return o;
}

/* Returns an exit code: CLI_EXIT_FAIL when the JSON could not be made. */
static int print_summary(const struct supernet *sn, const char *path, int json)
{
    if (json) {
        cJSON *o = supernet_json_root(sn, path);
        cJSON_AddNumberToObject(o, "weights", (double)sn->n_params);
        cJSON_AddNumberToObject(o, "slots", sn->n_slots);
        cJSON_AddNumberToObject(o, "step", (double)sn->step);
        cJSON_AddNumberToObject(o, "total_steps", (double)sn->total_steps);
        cJSON_AddNumberToObject(o, "epochs", sn->cfg.epochs);
        cJSON_AddNumberToObject(o, "subset", sn->cfg.subset);
        cJSON_AddNumberToObject(o, "batch", sn->cfg.batch);
        cJSON_AddNumberToObject(o, "lr", sn->cfg.lr);
        cJSON_AddNumberToObject(o, "sandwich", sn->cfg.sandwich);
        cJSON_AddNumberToObject(o, "distill", sn->cfg.distill);
        cJSON_AddNumberToObject(o, "augment", sn->cfg.augment);
        cJSON_AddNumberToObject(o, "seed", (double)sn->cfg.seed);
        cJSON_AddNumberToObject(o, "train_s", sn->train_s);
        return cli_json_print(o);
    }
    printf("supernet %s: space %s (hash %016" PRIx64 "), %zu weights in %d slots\n", path,
           sn->space.name, sn->space_hash, sn->n_params, sn->n_slots);
    printf("  trained %ld of %ld steps (%d epochs on %s images, batch %d, lr %g, sandwich %d, "
           "distill %g, augment %d, seed %" PRIu64 ") in %.0f s\n", sn->step, sn->total_steps,
           sn->cfg.epochs, sn->cfg.subset ? "a subset of the" : "all training",
           sn->cfg.batch, sn->cfg.lr, sn->cfg.sandwich, sn->cfg.distill, sn->cfg.augment,
           sn->cfg.seed, sn->train_s);
    return CLI_EXIT_OK;
}

/* The root of 'supernet eval --json': the supernet and the evaluation's
 * settings (seed: of --sample, or -1 for ARCHs given by name); the caller
 * owns it. */
static cJSON *eval_json_root(const struct supernet *sn, const char *path, int recal,
                             int val_images, long seed)
{
    cJSON *o = supernet_json_root(sn, path);
    cJSON_AddNumberToObject(o, "recal_images", recal);
    cJSON_AddNumberToObject(o, "val_images", val_images);
    if (seed >= 0)
        cJSON_AddNumberToObject(o, "sample_seed", (double)seed);
    else
        cJSON_AddNullToObject(o, "sample_seed");
    return o;
}

/* One scored subnet of 'supernet eval --json' (caller owns). */
static cJSON *eval_json_subnet(const struct arch *a, const struct eval_result *r)
{
    cJSON *o = cJSON_CreateObject();
    char hash[17];
    snprintf(hash, sizeof hash, "%016" PRIx64, arch_hash(a));
    cJSON_AddStringToObject(o, "arch", a->name);
    cJSON_AddStringToObject(o, "arch_hash", hash);
    cJSON_AddNumberToObject(o, "val_acc_pct", 100 * r->val_acc);
    cJSON_AddNumberToObject(o, "val_loss", r->val_loss);
    cJSON_AddNumberToObject(o, "train_loss", r->train_loss);
    cJSON_AddNumberToObject(o, "eval_s", r->wall_s);
    return o;
}

static int sn_train(int argc, char **argv)
{
    const char *space = NULL, *out = NULL, *data = NULL;
    int resume = 0, threads = 2, json = 0, force = 0, exit_code = CLI_EXIT_OK;
    double every = 60;
    long seed = 1;
    struct supernet_config c;
    supernet_config_default(&c);
    const struct cli_flag flags[] = {
        {"space", CLI_STR, &space, "S", "search space: fmnist, mbv3-224 or a space JSON file (default fmnist)"},
        {"epochs", CLI_INT, &c.epochs, "E", "epochs over the training images (default 10)"},
        {"subset", CLI_INT, &c.subset, "N", "train on the first N training images (default 0: all 50,000)"},
        {"batch", CLI_INT, &c.batch, "B", "batch size (default 128)"},
        {"lr", CLI_DOUBLE, &c.lr, "X", "peak learning rate of the one-cycle schedule (default 0.1)"},
        {"sandwich", CLI_INT, &c.sandwich, "K", "subnets per step: the largest, the smallest, K-2 uniform (default 4)"},
        {"distill", CLI_DOUBLE, &c.distill, "D", "weight of the largest subnet's predictions in the others' targets, 0..1 (default 0.5)"},
        {"augment", CLI_INT, &c.augment, "0|1", "random crop and flip (default 0)"},
        {"seed", CLI_LONG, &seed, "S", "seed of the weights, batch order and sampled subnets (default 1)"},
        {"threads", CLI_INT, &threads, "N", "training threads (default 2)"},
        {"out", CLI_STR, &out, "FILE", "supernet file, also the checkpoint (default supernet-<space>.hwsn)"},
        {"checkpoint-every", CLI_DURATION, &every, "D", "save a checkpoint every D (default 60s)"},
        {"resume", CLI_BOOL, &resume, NULL, "continue the training in --out FILE from its last checkpoint (same --threads for the same weights)"},
        {"force", CLI_BOOL, &force, NULL, "replace an existing --out FILE with a new supernet"},
        {"data", CLI_STR, &data, "DIR", "IDX dataset folder (default " DATA_DEFAULT_DIR ")"},
        {"json", CLI_BOOL, &json, NULL, "print the finished supernet's summary as JSON"},
        {0}};
    const struct cli_command cmd = {
        "supernet train",
        "Train one weight-sharing supernet over a whole space (once-for-all style: a\n"
        "subnet takes the first channels, the first layers of each block and the\n"
        "centre of the largest kernel), with the sandwich rule and in-place\n"
        "distillation, on the training split. Checkpoints survive kill -9; Ctrl-C\n"
        "saves and stops; --resume continues.",
        "hwnas supernet train --space S [--epochs E] [--subset N] [--out FILE]\n"
        "       hwnas supernet train --resume --out FILE",
        flags, 0, 0};
    char *pos[argc > 0 ? argc : 1];
    int npos, rc = cli_parse(&cmd, argc, argv, pos, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
    if (c.epochs < 1 || c.subset < 0 || c.batch < 2 || !(c.lr > 0) || c.sandwich < 1 ||
        threads < 1 || !(every >= 0))
        return cli_usage_error(&cmd, "--epochs/--sandwich/--threads must be >= 1, --batch >= 2, "
                                     "--lr > 0, --subset >= 0");
    if (!(c.distill >= 0 && c.distill <= 1))
        return cli_usage_error(&cmd, "--distill: %g is not in [0, 1]", c.distill);
    if (c.augment != 0 && c.augment != 1)
        return cli_usage_error(&cmd, "--augment: %d is not 0 or 1", c.augment);
    if (seed < 0)
        return cli_usage_error(&cmd, "--seed: %ld is negative", seed);
    if (resume && !out)
        return cli_usage_error(&cmd, "--resume needs --out FILE, the supernet to continue");
    struct supernet_config dc;
    supernet_config_default(&dc);
    if (resume && (c.epochs != dc.epochs || c.subset != dc.subset || c.batch != dc.batch ||
                   c.lr != dc.lr || c.sandwich != dc.sandwich || c.distill != dc.distill ||
                   c.augment != dc.augment || seed != 1 || force))
        return cli_usage_error(&cmd, "--resume continues with the file's own configuration; only "
                                     "--threads, --checkpoint-every and --data may be given");
    c.seed = (uint64_t)seed;
    char def_out[160];
    if (!out) {
        snprintf(def_out, sizeof def_out, "supernet-%s.hwsn", space ? space : "fmnist");
        for (char *p = def_out; *p; p++)
            if (*p == '/')
                *p = '_';
        out = def_out;
    }
    struct hw_err e;
    hw_err_clear(&e);
    struct supernet sn;
    memset(&sn, 0, sizeof sn);
    struct data_set train = {0}, val = {0};
    int have_data = 0;
    if (resume) {
        if ((rc = supernet_load(out, &sn, &e)))
            goto done;
        if (space) {
            struct space s;
            if ((rc = space_resolve(space, &s, &e)) || (rc = supernet_check_space(&sn, &s, out, &e)))
                goto done;
        }
    } else {
        struct stat st;
        if (!force && stat(out, &st) == 0) {
            rc = hw_error(&e, HW_EINVAL, "%s exists: continue it with 'hwnas supernet train "
                          "--resume --out %s', or replace it with --force", out, out);
            goto done;
        }
        char *text = NULL;
        if ((rc = space_text(space ? space : "fmnist", &text, &e)))
            goto done;
        rc = supernet_init(&sn, text, space ? space : "fmnist", &c, &e);
        free(text);
        if (rc)
            goto done;
    }
    if ((rc = data_load_trainval(data ? data : DATA_DEFAULT_DIR, sn.space.base.classes, &train,
                                 &val, &e)))
        goto done;
    have_data = 1;
    struct train_ctx ctx;
    ctx.per_epoch = supernet_steps_per_epoch(&sn.cfg, train.n);
    long total = ctx.per_epoch * sn.cfg.epochs;
    if (sn.step >= total && resume) {
        printf("%s: already trained (%ld of %ld steps)\n", out, sn.step, total);
        goto done;
    }
    log_info("supernet over space %s: %zu weights; %ld steps of %d subnets x %d images%s", sn.space.name,
             sn.n_params, total, sn.cfg.sandwich, sn.cfg.batch,
             sn.step ? " (resuming)" : "");
    progress_init(&ctx.bar, "supernet", total, "steps", cli_quiet);
    ctx.bar.done = ctx.bar.base = sn.step;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    rc = supernet_train(&sn, &train, threads, out, every, &stop_requested, on_step, &ctx, &e);
    progress_finish(&ctx.bar);
    if (rc == HW_EINTR) {
        fprintf(stderr, "hwnas: %s; saved in %s; continue with 'hwnas supernet train --resume "
                "--out %s'\n", e.msg, out, out);
        rc = HW_OK;
    } else if (rc == HW_OK) {
        exit_code = print_summary(&sn, out, json);
    }
done:
    if (rc)
        cli_fail(&e);
    if (have_data) {
        data_set_release(&train);
        data_set_release(&val);
    }
    supernet_release(&sn);
    return rc ? CLI_EXIT_FAIL : exit_code;
}

static int sn_eval(int argc, char **argv)
{
    const char *data = NULL;
    int json = 0, sample = 0, threads = 2, exit_code = CLI_EXIT_OK;
    long seed = 1;
    struct supernet_eval_config ec;
    supernet_eval_config_default(&ec);
    const struct cli_flag flags[] = {
        {"sample", CLI_INT, &sample, "N", "evaluate N uniformly sampled subnets instead of ARCH"},
        {"seed", CLI_LONG, &seed, "S", "seed of --sample (default 1)"},
        {"recal", CLI_INT, &ec.recal, "N", "training images for BN recalibration (default " CLI_STR_OF(SUPERNET_EVAL_RECAL) ")"},
        {"val", CLI_INT, &ec.val, "N", "validation images (default " CLI_STR_OF(SUPERNET_EVAL_VAL) "; 0: all 10,000)"},
        {"threads", CLI_INT, &threads, "N", "threads (default 2)"},
        {"data", CLI_STR, &data, "DIR", "IDX dataset folder (default " DATA_DEFAULT_DIR ")"},
        {"json", CLI_BOOL, &json, NULL, "every subnet's scores in one JSON document at the end"},
        {0}};
    const struct cli_command cmd = {
        "supernet eval",
        "Score subnets with the supernet's weights: BN statistics recalibrated on a\n"
        "fixed sample of training images, then accuracy and loss on the validation\n"
        "split (never the test set).",
        "hwnas supernet eval FILE ARCH... | --sample N [--recal N] [--val N] [--json]",
        flags, 1, -1};
    char *pos[argc > 0 ? argc : 1];
    int npos, rc = cli_parse(&cmd, argc, argv, pos, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
    if ((npos < 2) == (sample <= 0))
        return cli_usage_error(&cmd, "give one or more ARCHs or --sample N (not both)");
    if (ec.recal < 2 || ec.val < 0 || threads < 1 || sample < 0 || seed < 0)
        return cli_usage_error(&cmd, "--recal must be >= 2, --val/--sample/--seed >= 0, "
                                     "--threads >= 1");
    if (ec.batch > ec.recal)
        ec.batch = ec.recal;
    struct hw_err e;
    hw_err_clear(&e);
    struct supernet sn;
    struct data_set train = {0}, val = {0};
    int have_data = 0;
    if ((rc = supernet_load(pos[0], &sn, &e)))
        return cli_fail(&e);
    nn_set_threads(threads);
    if ((rc = data_load_trainval(data ? data : DATA_DEFAULT_DIR, sn.space.base.classes, &train,
                                 &val, &e)))
        goto done;
    have_data = 1;
    struct pcg32 rng;
    pcg32_seed(&rng, (uint64_t)seed, 0x736e6576u); /* "snev" */
    int n = sample > 0 ? sample : npos - 1;
    struct nn_pool pools[2] = {{0}};
    cJSON *root = json ? eval_json_root(&sn, pos[0], ec.recal,
                                             ec.val > 0 && ec.val < val.n ? ec.val : val.n,
                                             sample > 0 ? seed : -1) : NULL;
    cJSON *subnets = cJSON_AddArrayToObject(root, "subnets");
    struct progress bar;
    if (json)
        progress_init(&bar, "subnets", n, "subnets", cli_quiet);
    for (int i = 0; i < n && rc == HW_OK; i++) {
        struct arch a;
        if (sample > 0) {
            int tok[SPACE_MAX_TOKENS];
            space_sample(&sn.space, &rng, tok);
            rc = space_decode(&sn.space, tok, &a, &e);
            snprintf(a.name, sizeof a.name, "sample-%d", i);
        } else {
            rc = cli_resolve_arch(pos[i + 1], NULL, &a, &e);
        }
        struct eval_result r;
        rc = rc ? rc : supernet_eval(&sn, &a, &ec, &train, &val, pools, &r, &e);
        if (rc)
            break;
        if (json) {
            cJSON_AddItemToArray(subnets, eval_json_subnet(&a, &r));
            progress_update(&bar, i + 1);
        } else {
            printf("%-24s val acc %6.2f%%  val loss %.4f  train loss %.4f  (%.2f s)\n", a.name,
                   100 * r.val_acc, r.val_loss, r.train_loss, r.wall_s);
            fflush(stdout);
        }
    }
    if (json)
        progress_finish(&bar);
    nn_pool_release(&pools[0]);
    nn_pool_release(&pools[1]);
    if (json && rc == HW_OK)
        exit_code = cli_json_print(root);
    else
        cJSON_Delete(root);
done:
    if (rc)
        cli_fail(&e);
    if (have_data) {
        data_set_release(&train);
        data_set_release(&val);
    }
    supernet_release(&sn);
    return rc ? CLI_EXIT_FAIL : exit_code;
}

static int sn_info(int argc, char **argv)
{
    int json = 0;
    const struct cli_flag flags[] = {
        {"json", CLI_BOOL, &json, NULL, "as JSON"},
        {0}};
    const struct cli_command cmd = {
        "supernet info", "What a supernet file holds: space, hash, training config and progress.",
        "hwnas supernet info FILE [--json]", flags, 1, 1};
    char *pos[argc > 0 ? argc : 1];
    int npos, rc = cli_parse(&cmd, argc, argv, pos, &npos);
    if (rc)
        return rc == CLI_HELP_SHOWN ? CLI_EXIT_OK : rc;
    struct hw_err e;
    struct supernet sn;
    if (supernet_load(pos[0], &sn, &e))
        return cli_fail(&e);
    rc = print_summary(&sn, pos[0], json);
    supernet_release(&sn);
    return rc;
}

int cmd_supernet(int argc, char **argv)
{
    static const struct cli_subcommand subs[] = {
        {"train", sn_train, "train a weight-sharing supernet over a space (resumable)"},
        {"eval", sn_eval, "score subnets with a supernet's weights on the validation split"},
        {"info", sn_info, "what a supernet file holds"},
        {0}};
    return cli_dispatch("supernet", subs, argc, argv);
}
