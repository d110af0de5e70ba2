#include "cluster/cluster.h"

#include <stdlib.h>
#include <string.h>

#ifndef HWNAS_MPI

/* A build without Open MPI: one process, and a clear refusal under mpirun. */

int cluster_init(int *argc, char ***argv, struct hw_err *err)
{
    (void)argc;
    (void)argv;
    const char *size = getenv("OMPI_COMM_WORLD_SIZE");
    if (size && atoi(size) > 1)
        return hw_error(err, HW_EINVAL, "mpirun started %s processes, but this hwnas was built "
                        "without Open MPI: each would run the whole command; install "
                        "libopenmpi-dev ('make deps') and rebuild", size);
    return HW_OK;
}

int cluster_active(void) { return 0; }
void cluster_set_exit_status(int status) { (void)status; }
int cluster_rank(void) { return 0; }
int cluster_size(void) { return 1; }
int cluster_built_with_mpi(void) { return 0; }
int cluster_worker_main(void) { return 0; }
void cluster_finish(void) {}

int cluster_pool_open(struct cluster_pool **out, const struct cluster_eval_setup *setup,
                      struct search_pool *pool, struct hw_err *err)
{
    (void)setup;
    (void)pool;
    *out = NULL;
    return hw_error(err, HW_EINVAL, "this hwnas was built without Open MPI");
}

void cluster_pool_close(struct cluster_pool *cp) { (void)cp; }

int cluster_na_farm(void *ctx, struct nn_net *cur, int iteration, int max_batch,
                    const struct na_proposal *props, int n, na_done_fn done, void *dctx,
                    struct hw_err *err)
{
    (void)ctx, (void)cur, (void)iteration, (void)max_batch, (void)props, (void)n, (void)done;
    (void)dctx;
    return hw_error(err, HW_EINVAL, "this hwnas was built without Open MPI");
}

#else

#include <cJSON.h>
#include <math.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "evaluator/data.h"
#include "evaluator/model.h"
#include "netadapt/finetune.h"
#include "nn/net.h"
#include "space/arch_json.h"
#include "util/progress.h"
#include "util/timer.h"

enum tag {
    TAG_SETUP = 1,  /* rank 0 -> worker: JSON text */
    TAG_JOB = 2,    /* rank 0 -> worker: struct job_head + arch JSON */
    TAG_RESULT = 3, /* worker -> rank 0: struct wire_result */
    TAG_QUIT = 4,   /* rank 0 -> worker: empty */
};

enum job_kind {
    JOB_EVAL = 0,     /* body: arch JSON; scored by the proxy or the supernet */
    JOB_NETADAPT = 1, /* body: struct na_job + the current net's model file bytes */
};

struct job_head {
    int32_t pool;  /* generation of the pool that sent it */
    int32_t trial; /* -1: the setup's acknowledgement */
    int32_t kind;  /* enum job_kind */
    int32_t pad;
    uint64_t seed;
    double limit_s; /* the worker ends itself past a multiple of it; 0: none */
};

/* One NetAdapt proposal: trim the current net, then the short fine-tune. */
struct na_job {
    int32_t iteration, proposal;
    int32_t kind, unit, channels;
    int32_t max_batch;
};

/* A result; a NetAdapt result is followed by the tuned net's model bytes. */
struct wire_result {
    int32_t pool, trial;
    int32_t status; /* HW_OK or the failure's HW_E* */
    int32_t pad;
    double acc, loss, train_loss, wall_s;
    char worker[96];
    char msg[HW_ERR_MSG_MAX];
};

static int g_active, g_rank, g_size, g_finished;
static volatile sig_atomic_t g_exit_status;
/* rank 0: workers given up and not heard from since (never told to quit:
 * MPI_Finalize waits forever for a message to a dead process) */
static unsigned char *g_lost;
/* send buffers of jobs to workers given up: the send may still be in
 * flight, so they are freed only after MPI_Finalize */
static char **g_orphans;
static int g_n_orphans;

int cluster_built_with_mpi(void) { return 1; }

void cluster_set_exit_status(int status) { g_exit_status = status; }

static void finalize_overdue(int sig)
{
    (void)sig;
    _exit(g_exit_status);
}

/* Open MPI 4.1's MPI_Finalize waits for every process and, with a dead one
 * (mpirun --enable-recovery), sometimes forever; the work is done by now, so
 * past FINALIZE_WAIT_S the process just exits (mpirun, in recovery mode,
 * then ends with the others). */
#define FINALIZE_WAIT_S 10
static void finalize(void)
{
    signal(SIGALRM, finalize_overdue);
    alarm(FINALIZE_WAIT_S);
    MPI_Finalize();
    alarm(0);
}
int cluster_active(void) { return g_active; }
int cluster_rank(void) { return g_rank; }
int cluster_size(void) { return g_active ? g_size : 1; }

int cluster_init(int *argc, char ***argv, struct hw_err *err)
{
    const char *size = getenv("OMPI_COMM_WORLD_SIZE");
    if (!size || atoi(size) <= 1)
        return HW_OK;
    int provided;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
        return hw_error(err, HW_EINVAL, "MPI_Init failed under mpirun (%s processes)", size);
    /* a failed send or receive returns an error here, not an abort */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    g_active = g_size > 1;
    if (!g_active) {
        MPI_Finalize();
        return HW_OK;
    }
    if (g_rank == 0 && !(g_lost = calloc((size_t)g_size, 1))) {
        MPI_Abort(MPI_COMM_WORLD, 1);
        return hw_error(err, HW_ENOMEM, "out of memory starting MPI");
    }
    return HW_OK;
}

static void worker_name(char *buf, size_t n)
{
    char host[64] = "?";
    gethostname(host, sizeof host);
    host[sizeof host - 1] = '\0';
    snprintf(buf, n, "%s:%d", host, g_rank);
}

void cluster_finish(void)
{
    if (!g_active || g_finished)
        return;
    g_finished = 1;
    if (g_rank == 0) {
        /* answers nobody waits for any more: a sender is alive after all */
        for (;;) {
            int flag = 0;
            MPI_Status ms;
            if (MPI_Iprobe(MPI_ANY_SOURCE, TAG_RESULT, MPI_COMM_WORLD, &flag, &ms) !=
                    MPI_SUCCESS || !flag)
                break;
            int n = 0;
            MPI_Get_count(&ms, MPI_BYTE, &n);
            char *junk = malloc(n > 0 ? (size_t)n : 1);
            if (!junk)
                break;
            MPI_Recv(junk, n, MPI_BYTE, ms.MPI_SOURCE, TAG_RESULT, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
            free(junk);
            if (g_lost)
                g_lost[ms.MPI_SOURCE] = 0;
        }
        /* every rank, the given-up ones too (a slow one would wait forever);
         * a send to a dead one may hold MPI_Finalize, which finalize() bounds */
        for (int r = 1; r < g_size; r++) {
            if (g_lost && g_lost[r])
                log_warn("worker rank %d was given up and has not answered since", r);
            MPI_Request rq;
            if (MPI_Isend(NULL, 0, MPI_BYTE, r, TAG_QUIT, MPI_COMM_WORLD, &rq) == MPI_SUCCESS)
                MPI_Request_free(&rq);
        }
    }
    free(g_lost);
    g_lost = NULL;
    finalize();
    for (int i = 0; i < g_n_orphans; i++)
        free(g_orphans[i]);
    free(g_orphans);
    g_orphans = NULL;
}

/* ---- workers -------------------------------------------------------------- */

struct worker {
    struct cluster_eval_setup setup;
    char data_dir[1024], supernet_path[1024];
    int have_data, have_sn, have_na;
    struct data_set train, val;
    struct na_trainer na;
    struct supernet sn;
    struct nn_pool pools[2];
};

static void worker_release(struct worker *w)
{
    if (w->have_data) {
        data_set_release(&w->train);
        data_set_release(&w->val);
    }
    if (w->have_sn)
        supernet_release(&w->sn);
    nn_pool_release(&w->pools[0]);
    nn_pool_release(&w->pools[1]);
    memset(w, 0, sizeof *w);
}

static int json_num(const cJSON *o, const char *key, double *v, struct hw_err *err)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(x))
        return hw_error(err, HW_EINVAL, "evaluation setup: '%s' is missing", key);
    *v = x->valuedouble;
    return HW_OK;
}

/* Applies a setup: (re)loads the data and the supernet when they changed. */
static int worker_setup(struct worker *w, const char *text, struct hw_err *err)
{
    cJSON *root = cJSON_Parse(text);
    if (!root)
        return hw_error(err, HW_EINVAL, "evaluation setup is not JSON");
    static const char *const keys[] = {"classes", "epochs", "subset", "val_subset", "batch",
                                       "lr", "augment", "threads", "recal", "sn_batch",
                                       "sn_val"};
    double v[11];
    int st = HW_OK;
    for (int i = 0; i < 11 && st == HW_OK; i++)
        st = json_num(root, keys[i], &v[i], err);
    const char *data = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "data"));
    const char *sn = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "supernet"));
    if (st == HW_OK && !data)
        st = hw_error(err, HW_EINVAL, "evaluation setup: 'data' is missing");
    if (st) {
        cJSON_Delete(root);
        return st;
    }
    struct cluster_eval_setup *s = &w->setup;
    s->classes = (int)v[0];
    eval_proxy_config_default(&s->proxy);
    s->proxy.epochs = (int)v[1];
    s->proxy.subset = (int)v[2];
    s->proxy.val_subset = (int)v[3];
    s->proxy.batch = (int)v[4];
    s->proxy.lr = v[5];
    s->proxy.augment = (int)v[6];
    s->threads = (int)v[7];
    s->proxy.threads = s->threads;
    s->sn_eval.recal = (int)v[8];
    s->sn_eval.batch = (int)v[9];
    s->sn_eval.val = (int)v[10];
    if (!w->have_data || strcmp(w->data_dir, data) || w->train.classes != s->classes) {
        if (w->have_data) {
            data_set_release(&w->train);
            data_set_release(&w->val);
            w->have_data = 0;
        }
        snprintf(w->data_dir, sizeof w->data_dir, "%s", data);
        if ((st = data_load_trainval(w->data_dir, s->classes, &w->train, &w->val, err)) == HW_OK)
            w->have_data = 1;
    }
    if (st == HW_OK && sn && (!w->have_sn || strcmp(w->supernet_path, sn))) {
        if (w->have_sn)
            supernet_release(&w->sn);
        w->have_sn = 0;
        snprintf(w->supernet_path, sizeof w->supernet_path, "%s", sn);
        if ((st = supernet_load(w->supernet_path, &w->sn, err)) == HW_OK)
            w->have_sn = 1;
    }
    s->supernet = sn ? w->supernet_path : NULL;
    s->proxy.train = &w->train;
    s->proxy.val = &w->val;
    w->have_na = 0;
    const cJSON *na = cJSON_GetObjectItemCaseSensitive(root, "netadapt");
    if (st == HW_OK && na) {
        static const char *const na_keys[] = {"steps", "batch", "lr", "val_subset"};
        double nv[4];
        for (int i = 0; i < 4 && st == HW_OK; i++)
            st = json_num(na, na_keys[i], &nv[i], err);
        const char *seed = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(na, "seed"));
        if (st == HW_OK && !seed)
            st = hw_error(err, HW_EINVAL, "evaluation setup: 'seed' is missing");
        if (st == HW_OK) {
            w->na = (struct na_trainer){&w->train, &w->val, (int)nv[0], (int)nv[1], nv[2],
                                        (int)nv[3], strtoull(seed, NULL, 10)};
            w->have_na = 1;
        }
    }
    cJSON_Delete(root);
    if (st == HW_OK)
        nn_set_threads(s->threads);
    return st;
}

static void worker_evaluate(struct worker *w, const struct job_head *h, const char *arch_json,
                            struct wire_result *r)
{
    struct hw_err err;
    hw_err_clear(&err);
    struct arch a;
    struct eval_result er;
    memset(&er, 0, sizeof er);
    int st = arch_from_json_string(arch_json, "job", &a, &err);
    if (st == HW_OK) {
        /* a hung evaluation ends this worker; rank 0 gives its candidate to
         * another one long before */
        if (h->limit_s > 0)
            alarm((unsigned)ceil(3 * h->limit_s + 60));
        st = w->setup.supernet
                 ? supernet_eval(&w->sn, &a, &w->setup.sn_eval, &w->train, &w->val, w->pools, &er,
                                 &err)
                 : eval_proxy(&a, &w->setup.proxy, h->seed, &er, &err);
        alarm(0);
    }
    r->status = st;
    r->acc = er.val_acc;
    r->loss = er.val_loss;
    r->train_loss = er.train_loss;
    r->wall_s = er.wall_s;
    if (st)
        snprintf(r->msg, sizeof r->msg, "%s", err.msg);
}

/* Trims and tunes one NetAdapt proposal as netadapt_iterate would here; the
 * tuned net's model bytes into *out (malloc'd). */
static void worker_netadapt(struct worker *w, const struct job_head *h, const char *body,
                            size_t len, struct wire_result *r, void **out, size_t *out_len)
{
    struct hw_err err;
    hw_err_clear(&err);
    struct na_job j;
    struct nn_net *cur = NULL, *net = NULL;
    struct na_eval e = {NAN, NAN};
    int st = HW_OK;
    if (!w->have_na)
        st = hw_error(&err, HW_EINVAL, "a NetAdapt proposal came with a setup for candidates");
    else if (len < sizeof j)
        st = hw_error(&err, HW_EINVAL, "a NetAdapt job of %zu bytes", len);
    if (st == HW_OK) {
        memcpy(&j, body, sizeof j);
        uint64_t t0 = timer_now_ns();
        if (h->limit_s > 0)
            alarm((unsigned)ceil(3 * h->limit_s + 60));
        /* the current net only gives its weights: the smallest batch */
        st = model_load_bytes(body + sizeof j, len - sizeof j, "the current net", 1, &cur, &err);
        if (st == HW_OK)
            st = netadapt_trim(cur, (enum na_kind)j.kind, j.unit, j.channels, j.max_batch, &net,
                               &err);
        if (st == HW_OK)
            st = netadapt_tune(&w->na, net, j.iteration, j.proposal, &e, &err);
        if (st == HW_OK)
            st = model_to_bytes(net, out, out_len, &err);
        /* rank 0's time limit grows with the longest job */
        r->wall_s = timer_since_s(t0);
        alarm(0);
    }
    nn_net_free(cur);
    nn_net_free(net);
    r->status = st;
    r->acc = e.acc;
    r->loss = e.loss;
    if (st)
        snprintf(r->msg, sizeof r->msg, "%s", err.msg);
}

int cluster_worker_main(void)
{
    struct worker *w = calloc(1, sizeof *w);
    if (!w) {
        fprintf(stderr, "hwnas: worker rank %d: out of memory\n", g_rank);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    char name[96];
    worker_name(name, sizeof name);
    int have_setup = 0, pool = -1;
    for (;;) {
        /* polled, not MPI_Probe: Open MPI's blocking calls spin a core */
        MPI_Status ms;
        int flag = 0;
        if (MPI_Iprobe(0, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &ms) != MPI_SUCCESS)
            break;
        if (!flag) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
            continue;
        }
        int n;
        MPI_Get_count(&ms, MPI_BYTE, &n);
        char *buf = malloc((size_t)n + 1);
        if (!buf || MPI_Recv(buf, n, MPI_BYTE, 0, ms.MPI_TAG, MPI_COMM_WORLD,
                             MPI_STATUS_IGNORE) != MPI_SUCCESS) {
            free(buf);
            break;
        }
        buf[n] = '\0';
        if (ms.MPI_TAG == TAG_QUIT) {
            free(buf);
            break;
        }
        struct wire_result r;
        memset(&r, 0, sizeof r);
        snprintf(r.worker, sizeof r.worker, "%s", name);
        void *extra = NULL;
        size_t extra_len = 0;
        struct hw_err err;
        hw_err_clear(&err);
        if (ms.MPI_TAG == TAG_SETUP && n >= (int)sizeof(int32_t)) {
            memcpy(&r.pool, buf, sizeof r.pool);
            r.trial = -1;
            r.status = worker_setup(w, buf + sizeof(int32_t), &err);
            have_setup = r.status == HW_OK;
            pool = r.pool;
            if (r.status)
                snprintf(r.msg, sizeof r.msg, "%s", err.msg);
            else
                log_info("worker %s (pid %ld): ready", name, (long)getpid());
        } else if (ms.MPI_TAG == TAG_JOB && n >= (int)sizeof(struct job_head)) {
            struct job_head h;
            memcpy(&h, buf, sizeof h);
            r.pool = h.pool;
            r.trial = h.trial;
            if (!have_setup || h.pool != pool) {
                r.status = HW_EINVAL;
                snprintf(r.msg, sizeof r.msg, "a candidate came before its evaluation setup");
            } else if (h.kind == JOB_NETADAPT) {
                worker_netadapt(w, &h, buf + sizeof h, (size_t)n - sizeof h, &r, &extra,
                                &extra_len);
            } else {
                worker_evaluate(w, &h, buf + sizeof h, &r);
            }
        } else {
            free(buf);
            continue; /* nothing this hwnas sends */
        }
        free(buf);
        char *msg = malloc(sizeof r + extra_len);
        if (!msg && extra_len) { /* rank 0 hears of it instead of the net */
            r.status = HW_ENOMEM;
            snprintf(r.msg, sizeof r.msg, "out of memory sending a result");
            extra_len = 0;
        }
        int sent;
        if (msg) {
            memcpy(msg, &r, sizeof r);
            if (extra_len)
                memcpy(msg + sizeof r, extra, extra_len);
            sent = MPI_Send(msg, (int)(sizeof r + extra_len), MPI_BYTE, 0, TAG_RESULT,
                            MPI_COMM_WORLD);
        } else {
            sent = MPI_Send(&r, (int)sizeof r, MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD);
        }
        free(msg);
        free(extra);
        if (sent != MPI_SUCCESS)
            break;
    }
    worker_release(w);
    free(w);
    g_finished = 1;
    finalize();
    return 0;
}

/* ---- rank 0: the pool ------------------------------------------------------- */

enum wstate { W_IDLE, W_BUSY, W_GIVEN_UP };

struct wslot {
    enum wstate state;
    int trial;        /* when busy */
    double since;     /* seconds on the pool's clock, when busy */
    char name[96];
    /* the job sent last, until the worker's answer shows it arrived (a
     * blocking send of a large message to a dead worker never returns) */
    MPI_Request rq;
    char *sent;
};

struct job {
    int trial;
    enum job_kind kind;
    uint64_t seed;
    char *body; /* after the job_head */
    size_t len;
};

struct cluster_pool {
    struct cluster_eval_setup setup;
    int gen;
    uint64_t t0;
    struct wslot *w; /* [g_size]; [0] unused */
    struct job *jobs; /* submitted and not collected */
    int n_jobs, cap_jobs;
    double longest_s; /* longest evaluation seen */
    int in_setup;       /* waiting for the setup's acknowledgements */
    double last_give_up; /* pool clock of the last worker given up */
};

static int g_pool_gen;

static void orphan(char *buf)
{
    char **o = realloc(g_orphans, sizeof *o * (size_t)(g_n_orphans + 1));
    if (!o)
        return; /* left to the process's end */
    g_orphans = o;
    g_orphans[g_n_orphans++] = buf;
}

static double now_s(const struct cluster_pool *cp)
{
    return timer_since_s(cp->t0);
}

static int live_workers(const struct cluster_pool *cp)
{
    int n = 0;
    for (int r = 1; r < g_size; r++)
        n += cp->w[r].state != W_GIVEN_UP;
    return n;
}

/* The time a worker may take for one candidate. Without --worker-timeout:
 * an hour until a first result says how long they take (a 10-epoch rerank
 * may take many minutes), then 10 x the longest, at least 5 minutes. */
static double limit_s(const struct cluster_pool *cp)
{
    if (cp->setup.timeout_s > 0)
        return cp->setup.timeout_s;
    return cp->longest_s > 0 ? fmax(300, 10 * cp->longest_s) : 3600;
}

/* Loading the dataset (and the supernet) is not one candidate: at least 10
 * minutes for the setup's acknowledgement. */
static double setup_limit_s(const struct cluster_pool *cp)
{
    return fmax(600, limit_s(cp));
}

static struct job *find_job(struct cluster_pool *cp, int trial)
{
    for (int i = 0; i < cp->n_jobs; i++)
        if (cp->jobs[i].trial == trial)
            return &cp->jobs[i];
    return NULL;
}

static int job_assigned(const struct cluster_pool *cp, int trial)
{
    for (int r = 1; r < g_size; r++)
        if (cp->w[r].state == W_BUSY && cp->w[r].trial == trial)
            return 1;
    return 0;
}

static int send_job(struct cluster_pool *cp, int r, const struct job *j, struct hw_err *err)
{
    size_t len = j->len;
    /* the worker ends itself only under a limit the user set */
    struct job_head h = {cp->gen, j->trial, j->kind, 0, j->seed, cp->setup.timeout_s};
    char *buf = malloc(sizeof h + len);
    if (!buf)
        return hw_error(err, HW_ENOMEM, "out of memory sending trial %d", j->trial);
    memcpy(buf, &h, sizeof h);
    memcpy(buf + sizeof h, j->body, len);
    struct wslot *w = &cp->w[r];
    if (w->sent) { /* answered since, so long received */
        MPI_Wait(&w->rq, MPI_STATUS_IGNORE);
        free(w->sent);
    }
    w->sent = buf;
    int rc = MPI_Isend(buf, (int)(sizeof h + len), MPI_BYTE, r, TAG_JOB, MPI_COMM_WORLD, &w->rq);
    if (rc != MPI_SUCCESS) {
        free(buf);
        w->sent = NULL;
        /* this worker is gone: the job waits for another */
        log_warn("worker %s: sending trial %d failed; it is given up", cp->w[r].name, j->trial);
        cp->w[r].state = W_GIVEN_UP;
        g_lost[r] = 1;
        return HW_OK;
    }
    cp->w[r].state = W_BUSY;
    cp->w[r].trial = j->trial;
    cp->w[r].since = now_s(cp);
    return HW_OK;
}

/* Hands every job no live worker holds to an idle worker. */
static int dispatch(struct cluster_pool *cp, struct hw_err *err)
{
    for (int i = 0; i < cp->n_jobs; i++) {
        if (job_assigned(cp, cp->jobs[i].trial))
            continue;
        for (int r = 1; r < g_size; r++)
            if (cp->w[r].state == W_IDLE) {
                int st = send_job(cp, r, &cp->jobs[i], err);
                if (st)
                    return st;
                if (cp->w[r].state == W_BUSY)
                    break;
            }
    }
    return HW_OK;
}

/* Queues a job (taking body) and hands it out if a worker is idle. */
static int submit(struct cluster_pool *cp, struct job j, struct hw_err *err)
{
    if (cp->n_jobs == cp->cap_jobs) {
        int cap = cp->cap_jobs ? 2 * cp->cap_jobs : 8;
        struct job *q = realloc(cp->jobs, sizeof *q * (size_t)cap);
        if (!q) {
            free(j.body);
            return hw_error(err, HW_ENOMEM, "out of memory queueing trial %d", j.trial);
        }
        cp->jobs = q;
        cp->cap_jobs = cap;
    }
    cp->jobs[cp->n_jobs++] = j;
    return dispatch(cp, err);
}

static int pool_submit(void *p, int trial, const struct arch *a, uint64_t seed,
                       struct hw_err *err)
{
    char *json = arch_to_json_string(a);
    if (!json)
        return hw_error(err, HW_ENOMEM, "out of memory writing trial %d's arch", trial);
    return submit(p, (struct job){trial, JOB_EVAL, seed, json, strlen(json) + 1}, err);
}

static void drop_job(struct cluster_pool *cp, int trial)
{
    for (int i = 0; i < cp->n_jobs; i++)
        if (cp->jobs[i].trial == trial) {
            free(cp->jobs[i].body);
            cp->jobs[i] = cp->jobs[--cp->n_jobs];
            return;
        }
}

/* Gives up the busy workers past the time limit (their jobs go to others). */
static void check_limits(struct cluster_pool *cp)
{
    double t = now_s(cp);
    for (int r = 1; r < g_size; r++) {
        /* busy on a copy another worker answered: nothing waits for it */
        if (cp->w[r].state != W_BUSY || (cp->w[r].trial < 0 && !cp->in_setup))
            continue;
        double lim = cp->in_setup ? setup_limit_s(cp) : limit_s(cp);
        if (t - cp->w[r].since > lim) {
            if (cp->in_setup) {
                log_warn("worker %s did not load its data within %.0f s; it is given up",
                         cp->w[r].name, lim);
                cp->w[r].state = W_GIVEN_UP;
                g_lost[r] = 1;
                cp->last_give_up = t;
                continue;
            }
            log_warn("worker %s did not answer trial %d within %.0f s; it is given up and the "
                     "trial goes to another worker", cp->w[r].name, cp->w[r].trial, lim);
            cp->w[r].state = W_GIVEN_UP;
            g_lost[r] = 1;
            cp->last_give_up = t;
        }
    }
}

/* Waits between polls: from 0.5 ms, doubling while nothing comes, up to
 * 1/500 of the longest evaluation seen (1-20 ms), so polling costs rank 0
 * little CPU and answers wait a small fraction of an evaluation. */
static void nap(const struct cluster_pool *cp, double *wait_s)
{
    double cap = fmin(0.02, fmax(0.001, cp->longest_s > 0 ? cp->longest_s / 500 : 0.01));
    *wait_s = *wait_s <= 0 ? 0.0005 : fmin(cap, 2 * *wait_s);
    struct timespec ts = {0, (long)(*wait_s * 1e9)};
    nanosleep(&ts, NULL);
}

/* Waits for one message from a worker with tag TAG_RESULT into *r (what
 * follows the result, a NetAdapt net's bytes, into *extra: malloc'd, of
 * *extra_len bytes, the caller frees it), giving up workers past the limit;
 * HW_EINTR when *stop is set, an error when no worker is left for what is
 * still to do. */
static int receive(struct cluster_pool *cp, struct wire_result *r, int *from, void **extra,
                   size_t *extra_len, struct hw_err *err)
{
    double wait_s = 0;
    for (;;) {
        int flag = 0;
        MPI_Status ms;
        if (MPI_Iprobe(MPI_ANY_SOURCE, TAG_RESULT, MPI_COMM_WORLD, &flag, &ms) != MPI_SUCCESS)
            return hw_error(err, HW_EIO, "MPI: probing for results failed");
        if (flag) {
            memset(r, 0, sizeof *r);
            int n = 0;
            MPI_Get_count(&ms, MPI_BYTE, &n);
            char *buf = n >= (int)sizeof *r ? malloc((size_t)n) : NULL;
            if (!buf) {
                char junk[8];
                MPI_Recv(junk, 0, MPI_BYTE, ms.MPI_SOURCE, TAG_RESULT, MPI_COMM_WORLD,
                         MPI_STATUS_IGNORE);
                if (n >= (int)sizeof *r)
                    return hw_error(err, HW_ENOMEM, "out of memory receiving %d bytes", n);
                return hw_error(err, HW_EINVAL, "worker rank %d sent a result of %d bytes, "
                                "not %zu or more: is it the same hwnas build?", ms.MPI_SOURCE, n,
                                sizeof *r);
            }
            if (MPI_Recv(buf, n, MPI_BYTE, ms.MPI_SOURCE, TAG_RESULT, MPI_COMM_WORLD,
                         MPI_STATUS_IGNORE) != MPI_SUCCESS) {
                free(buf);
                return hw_error(err, HW_EIO, "MPI: receiving a result from rank %d failed",
                                ms.MPI_SOURCE);
            }
            memcpy(r, buf, sizeof *r);
            *extra_len = (size_t)n - sizeof *r;
            memmove(buf, buf + sizeof *r, *extra_len);
            *extra = buf;
            r->worker[sizeof r->worker - 1] = '\0';
            r->msg[sizeof r->msg - 1] = '\0';
            *from = ms.MPI_SOURCE;
            g_lost[*from] = 0;
            return HW_OK;
        }
        if (cp->setup.stop && *cp->setup.stop)
            return hw_error(err, HW_EINTR, "stopped while %d candidate%s were evaluated by "
                            "workers", cp->n_jobs, cp->n_jobs == 1 ? "" : "s");
        check_limits(cp);
        /* a worker given up may still answer (slow, not dead): with none
         * left, wait one more limit for that before failing */
        double lim = cp->in_setup ? setup_limit_s(cp) : limit_s(cp);
        if (live_workers(cp) == 0 && now_s(cp) - cp->last_give_up > lim)
            return hw_error(err, HW_EIO, "all %d workers were given up and none answered "
                            "within %.0f s more; resume when they are back", g_size - 1, lim);
        int st = dispatch(cp, err);
        if (st)
            return st;
        nap(cp, &wait_s);
    }
}

/* The next result of a job still wanted into *r and its trailing bytes into
 * *extra (malloc'd, the caller frees); answers of earlier pools and of
 * copies another worker answered first are dropped. */
static int collect_one(struct cluster_pool *cp, struct wire_result *r, void **extra,
                       size_t *extra_len, struct hw_err *err)
{
    for (;;) {
        if (cp->n_jobs == 0)
            return hw_error(err, HW_EINVAL, "cluster: nothing submitted to collect");
        int from, st = receive(cp, r, &from, extra, extra_len, err);
        if (st)
            return st;
        struct wslot *w = &cp->w[from];
        snprintf(w->name, sizeof w->name, "%s", r->worker);
        int mine = r->pool == cp->gen && r->trial >= 0;
        if (w->state == W_GIVEN_UP)
            log_warn("worker %s answered again (trial %d)%s", w->name, r->trial,
                     mine && find_job(cp, r->trial) ? "" : "; that answer is dropped");
        w->state = W_IDLE; /* one job at a time: an answer frees the worker */
        if (!mine || !find_job(cp, r->trial)) {
            free(*extra); /* an answer of an earlier pool, or one already given by another */
            continue;
        }
        if (r->status) {
            free(*extra);
            return hw_error(err, r->status, "worker %s, trial %d: %s", r->worker, r->trial,
                            r->msg);
        }
        /* another worker may still hold a copy of it: its answer is dropped */
        for (int q = 1; q < g_size; q++)
            if (q != from && cp->w[q].state == W_BUSY && cp->w[q].trial == r->trial)
                cp->w[q].trial = -1;
        drop_job(cp, r->trial);
        if (r->wall_s > cp->longest_s)
            cp->longest_s = r->wall_s;
        if ((st = dispatch(cp, err)))
            free(*extra);
        return st;
    }
}

static int pool_collect(void *p, int *trial, struct search_eval *out, struct hw_err *err)
{
    struct wire_result r;
    void *extra;
    size_t extra_len;
    int st = collect_one(p, &r, &extra, &extra_len, err);
    if (st)
        return st;
    free(extra);
    *trial = r.trial;
    out->acc = r.acc;
    out->loss = r.loss;
    out->train_loss = r.train_loss;
    out->wall_s = r.wall_s;
    snprintf(out->worker, sizeof out->worker, "%s", r.worker);
    return HW_OK;
}

/* Jobs handed out and not collected: their answers will be dropped (no
 * worker counts as holding them any more). */
static void abandon_jobs(struct cluster_pool *cp)
{
    for (int i = 0; i < cp->n_jobs; i++)
        free(cp->jobs[i].body);
    cp->n_jobs = 0;
    for (int r = 1; r < g_size; r++)
        if (cp->w[r].state == W_BUSY)
            cp->w[r].trial = -1;
}

int cluster_na_farm(void *ctx, struct nn_net *cur, int iteration, int max_batch,
                    const struct na_proposal *props, int n, na_done_fn done, void *dctx,
                    struct hw_err *err)
{
    struct cluster_pool *cp = ctx;
    if (!cp->setup.netadapt)
        return hw_error(err, HW_EINVAL, "cluster: this pool was opened for candidates, not "
                        "NetAdapt");
    void *model;
    size_t len;
    int st = model_to_bytes(cur, &model, &len, err);
    /* trials unique within the pool: a late answer of an earlier iteration
     * is never taken for one of this */
    int base = iteration * NA_MAX_PROPOSALS;
    for (int i = 0; i < n && st == HW_OK; i++) {
        struct na_job j = {iteration, i, (int32_t)props[i].kind, props[i].unit,
                           props[i].channels_after, max_batch};
        char *body = malloc(sizeof j + len);
        if (!body) {
            st = hw_error(err, HW_ENOMEM, "out of memory sending NetAdapt proposals");
            break;
        }
        memcpy(body, &j, sizeof j);
        memcpy(body + sizeof j, model, len);
        st = submit(cp, (struct job){base + i, JOB_NETADAPT, 0, body, sizeof j + len}, err);
    }
    free(model);
    for (int got = 0; got < n && st == HW_OK; got++) {
        struct wire_result r;
        void *net;
        size_t net_len;
        if ((st = collect_one(cp, &r, &net, &net_len, err)))
            break;
        struct na_eval e = {r.acc, r.loss};
        st = done(dctx, r.trial - base, &e, net, net_len, err);
        free(net);
    }
    if (st)
        abandon_jobs(cp);
    /* a worker's "not found" is a failure here, not "no proposal can cut" */
    if (st == HW_ENOTFOUND) {
        char msg[HW_ERR_MSG_MAX];
        snprintf(msg, sizeof msg, "%s", err ? err->msg : "not found");
        st = hw_error(err, HW_EIO, "%s", msg);
    }
    return st;
}

static char *setup_json(const struct cluster_eval_setup *s)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "data", s->data_dir);
    cJSON_AddNumberToObject(o, "classes", s->classes);
    cJSON_AddNumberToObject(o, "epochs", s->proxy.epochs);
    cJSON_AddNumberToObject(o, "subset", s->proxy.subset);
    cJSON_AddNumberToObject(o, "val_subset", s->proxy.val_subset);
    cJSON_AddNumberToObject(o, "batch", s->proxy.batch);
    cJSON_AddNumberToObject(o, "lr", s->proxy.lr);
    cJSON_AddNumberToObject(o, "augment", s->proxy.augment);
    cJSON_AddNumberToObject(o, "threads", s->threads);
    if (s->supernet)
        cJSON_AddStringToObject(o, "supernet", s->supernet);
    cJSON_AddNumberToObject(o, "recal", s->sn_eval.recal);
    cJSON_AddNumberToObject(o, "sn_batch", s->sn_eval.batch);
    cJSON_AddNumberToObject(o, "sn_val", s->sn_eval.val);
    if (s->netadapt) {
        const struct na_trainer *t = s->netadapt;
        cJSON *na = cJSON_AddObjectToObject(o, "netadapt");
        char seed[24];
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)t->seed);
        cJSON_AddNumberToObject(na, "steps", t->steps);
        cJSON_AddNumberToObject(na, "batch", t->batch);
        cJSON_AddNumberToObject(na, "lr", t->lr);
        cJSON_AddNumberToObject(na, "val_subset", t->val_subset);
        cJSON_AddStringToObject(na, "seed", seed);
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

void cluster_pool_close(struct cluster_pool *cp)
{
    if (!cp)
        return;
    /* a job sent to a worker that answered it has arrived; one sent to a
     * worker given up may never: its buffer is left to the process's end */
    for (int r = 1; cp->w && r < g_size; r++)
        if (cp->w[r].sent) {
            int done = 0;
            if (cp->w[r].state != W_GIVEN_UP)
                MPI_Test(&cp->w[r].rq, &done, MPI_STATUS_IGNORE);
            if (done)
                free(cp->w[r].sent);
            else
                orphan(cp->w[r].sent);
        }
    for (int i = 0; i < cp->n_jobs; i++)
        free(cp->jobs[i].body);
    free(cp->jobs);
    free(cp->w);
    free(cp);
}

int cluster_pool_open(struct cluster_pool **out, const struct cluster_eval_setup *setup,
                      struct search_pool *pool, struct hw_err *err)
{
    *out = NULL;
    if (!g_active || g_rank != 0)
        return hw_error(err, HW_EINVAL, "cluster: no workers (not run by mpirun -np N > 1)");
    struct cluster_pool *cp = calloc(1, sizeof *cp);
    if (cp)
        cp->w = calloc((size_t)g_size, sizeof *cp->w);
    char *text = setup_json(setup);
    if (!cp || !cp->w || !text) {
        free(text);
        cluster_pool_close(cp);
        return hw_error(err, HW_ENOMEM, "out of memory opening the cluster pool");
    }
    cp->setup = *setup;
    cp->gen = ++g_pool_gen;
    cp->t0 = timer_now_ns();
    size_t len = strlen(text) + 1;
    char *buf = malloc(sizeof(int32_t) + len);
    int st = HW_OK;
    if (!buf)
        st = hw_error(err, HW_ENOMEM, "out of memory opening the cluster pool");
    for (int r = 1; r < g_size && st == HW_OK; r++) {
        int32_t gen = cp->gen;
        memcpy(buf, &gen, sizeof gen);
        memcpy(buf + sizeof gen, text, len);
        snprintf(cp->w[r].name, sizeof cp->w[r].name, "rank %d", r);
        cp->w[r].trial = -1;
        if (g_lost[r]) { /* given up before and silent since */
            cp->w[r].state = W_GIVEN_UP;
            continue;
        }
        cp->w[r].state = W_BUSY; /* until it acknowledges the setup */
        if (MPI_Send(buf, (int)(sizeof gen + len), MPI_BYTE, r, TAG_SETUP, MPI_COMM_WORLD) !=
            MPI_SUCCESS)
            st = hw_error(err, HW_EIO, "MPI: sending the evaluation setup to rank %d failed", r);
    }
    free(buf);
    free(text);
    /* every worker loads its data: the first answers say whether it can */
    cp->in_setup = 1;
    int acked = 0;
    while (st == HW_OK && acked + (g_size - 1 - live_workers(cp)) < g_size - 1) {
        struct wire_result r;
        int from;
        void *extra;
        size_t extra_len;
        if ((st = receive(cp, &r, &from, &extra, &extra_len, err)))
            break;
        free(extra);
        if (r.pool != cp->gen || r.trial != -1)
            continue; /* a late answer to an earlier pool */
        snprintf(cp->w[from].name, sizeof cp->w[from].name, "%s", r.worker);
        if (r.status)
            st = hw_error(err, r.status, "worker %s: %s", r.worker, r.msg);
        cp->w[from].state = W_IDLE;
        acked++;
    }
    cp->in_setup = 0;
    if (st == HW_OK && acked == 0)
        st = hw_error(err, HW_EIO, "none of the %d workers is available (each was given up "
                      "before)", g_size - 1);
    if (st) {
        cluster_pool_close(cp);
        return st;
    }
    if (pool) {
        pool->slots = g_size - 1;
        pool->submit = pool_submit;
        pool->collect = pool_collect;
        pool->ctx = cp;
    }
    *out = cp;
    return HW_OK;
}

#endif
