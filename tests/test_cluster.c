/* Searches under mpirun, as a user runs them: rank 0 searches and stores,
 * ranks 1..N-1 evaluate. Every candidate is stored once with the scores a
 * serial run gives the same arch and seed; one worker gives the serial
 * sequence; a worker killed mid-run costs only its candidate; a job whose
 * rank 0 is killed resumes with nothing finished lost. */
#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster/cluster.h"
#include "db/db.h"
#include "tests/cli_run.h"

/* evolution with a population larger than the run proposes at random: its
 * proposals do not depend on the order results arrive in */
#define FLAGS "--space %s/tiny.json --target-ms 0.05 --seed 4 --proxy-epochs 1 " \
              "--proxy-val 256 --train-threads 1 --db %s/t.db --quiet"

static char dir[64];

static void setup_dir(void)
{
    ck_assert_int_eq(cli_tiny_dir(dir, "mpi"), 0);
    /* CI runs as root; mpirun refuses that unless told (tests only) */
    setenv("OMPI_ALLOW_RUN_AS_ROOT", "1", 1);
    setenv("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1", 1);
    /* make asan: Open MPI leaves allocations at exit in components it has
     * unloaded, which LeakSanitizer can neither name nor suppress, so the
     * processes of this suite run without leak checks (the search loop's
     * pool is leak-checked in-process by test_search_pool) */
    if (getenv("HWNAS_ASAN"))
        setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
}

/* The end of a process's stderr, which says why it failed (Check refuses
 * long messages). */
static const char *tail(const char *text)
{
    size_t n = strlen(text);
    return text + (n > 1500 ? n - 1500 : 0);
}

/* Runs hwnas with args (under `mpirun --oversubscribe -np np` when np > 0),
 * expecting exit 0, into *r (the caller releases it). */
static void run_args(int np, struct cli_run *r, const char *args)
{
    char runner[64];
    snprintf(runner, sizeof runner, "mpirun --oversubscribe -np %d", np);
    if (np > 0)
        setenv("HWNAS_RUNNER", runner, 1);
    int rc = cli_run(r, args);
    unsetenv("HWNAS_RUNNER");
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(r->status == 0, "%s hwnas %.300s: exit %d: ...%s", np > 0 ? runner : "", args,
                  r->status, tail(r->err));
}

/* The same with args from fmt, returning what it printed on stderr (free it). */
static char *run_ok(int np, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *run_ok(int np, const char *fmt, ...)
{
    char args[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof args, fmt, ap);
    va_end(ap);
    struct cli_run r;
    run_args(np, &r, args);
    free(r.out);
    return r.err;
}

struct history {
    int n, pending;
    int gaps; /* trials missing below the last stored one (pending ones) */
    char text[8192]; /* "hash:acc:loss," per trial */
    int by_worker[4]; /* evaluated candidates per rank 0..3 (0: this process) */
};

/* dir/t.db, and run name of it in *r. */
static struct db *open_run(const char *name, struct db_run *r)
{
    char path[128];
    snprintf(path, sizeof path, "%s/t.db", dir);
    struct db *db;
    struct hw_err e;
    ck_assert_msg(db_open(&db, path, DB_OPEN_EXISTING, &e) == HW_OK, "%s", e.msg);
    ck_assert_msg(db_run_lookup(db, name, r, &e) == HW_OK, "%s", e.msg);
    return db;
}

static void history_of(const char *name, struct history *h)
{
    struct db_run r;
    struct hw_err e;
    struct db *db = open_run(name, &r);
    struct db_candidate *cs;
    int n, used;
    ck_assert_int_eq(db_candidate_list(db, r.id, DB_ORDER_TRIAL, 0, &cs, &n, &e), HW_OK);
    ck_assert_int_eq(db_trials_used(db, r.id, &used, &e), HW_OK);
    memset(h, 0, sizeof *h);
    h->n = n;
    h->pending = used - n;
    for (int i = 0; i < n; i++) {
        h->gaps += cs[i].trial != i && (i == 0 || cs[i].trial != cs[i - 1].trial + 1);
        size_t len = strlen(h->text);
        snprintf(h->text + len, sizeof h->text - len, "%.16s:%.6f:%.6f,", cs[i].arch_hash,
                 cs[i].val_acc, cs[i].val_loss);
        if (cs[i].status == DB_CAND_OK) {
            const char *colon = strrchr(cs[i].worker, ':');
            int rank = colon ? atoi(colon + 1) : 0;
            ck_assert(rank >= 0 && rank < 4);
            h->by_worker[rank]++;
        }
    }
    db_candidate_list_free(cs, n);
    db_run_release(&r);
    db_close(db);
}

/* "trial:acc," of run name's reranks, in trial order. */
static void reranks_of(const char *name, char *buf, size_t size)
{
    struct db_run r;
    struct hw_err e;
    struct db *db = open_run(name, &r);
    struct db_rerank *rr;
    int n;
    ck_assert_int_eq(db_rerank_list(db, r.id, &rr, &n, &e), HW_OK);
    ck_assert_int_eq(n, 4);
    buf[0] = '\0';
    for (int t = 0; t < 100; t++)
        for (int i = 0; i < n; i++)
            if (rr[i].trial == t)
                snprintf(buf + strlen(buf), size - strlen(buf), "%d:%.6f,", t, rr[i].val_acc);
    free(rr);
    db_run_release(&r);
    db_close(db);
}

START_TEST(test_mpi_search)
{
    ck_assert(cluster_built_with_mpi());
    setup_dir();
    free(run_ok(0, "profile --space %s/tiny.json --db %s/t.db --runs 3 --warmup 1 --quiet", dir,
                dir));
    /* two workers: the serial run's candidates and scores, all stored once,
     * evaluated by both */
    free(run_ok(0, "search " FLAGS " --controller evolution --trials 12 --proxy-subset 256 "
                   "--name ser", dir, dir));
    free(run_ok(3, "search " FLAGS " --controller evolution --trials 12 --proxy-subset 256 "
                   "--name par", dir, dir));
    struct history ser, par;
    history_of("ser", &ser);
    history_of("par", &par);
    ck_assert_int_eq(par.n, 12);
    ck_assert_int_eq(par.pending, 0);
    ck_assert_int_eq(par.gaps, 0);
    ck_assert_str_eq(par.text, ser.text);
    ck_assert_int_eq(ser.by_worker[0], par.by_worker[1] + par.by_worker[2]);
    ck_assert_int_gt(par.by_worker[1], 0);
    ck_assert_int_gt(par.by_worker[2], 0);
    ck_assert_int_eq(par.by_worker[0], 0);
    /* one worker: rl learns from each result before its next proposal, so
     * its sequence is the serial one only if the loop keeps that order */
    free(run_ok(0, "search " FLAGS " --controller rl --trials 10 --proxy-subset 256 --name rs",
                dir, dir));
    free(run_ok(2, "search " FLAGS " --controller rl --trials 10 --proxy-subset 256 --name r1",
                dir, dir));
    history_of("rs", &ser);
    history_of("r1", &par);
    ck_assert_str_eq(par.text, ser.text);
    ck_assert_int_eq(par.by_worker[1], ser.by_worker[0]);
    /* the supernet evaluator on a worker: the serial scores, and with one
     * worker the serial sequence */
    free(run_ok(0, "supernet train --space %s/tiny.json --epochs 1 --subset 1000 --out "
                   "%s/sn.bin --quiet", dir, dir));
    free(run_ok(0, "search " FLAGS " --controller rl --trials 12 --evaluator supernet "
                   "--supernet %s/sn.bin --sn-recal 200 --sn-val 500 --name ss", dir, dir, dir));
    free(run_ok(2, "search " FLAGS " --controller rl --trials 12 --evaluator supernet "
                   "--supernet %s/sn.bin --sn-recal 200 --sn-val 500 --name s1", dir, dir, dir));
    history_of("ss", &ser);
    history_of("s1", &par);
    ck_assert_str_eq(par.text, ser.text);
    ck_assert_int_eq(par.by_worker[1], ser.by_worker[0]);
    /* runs show names the worker of each candidate */
    struct cli_run r;
    char args[256];
    snprintf(args, sizeof args, "runs show par --db %s/t.db --top 12", dir);
    ck_assert_int_eq(cli_run(&r, args), 0);
    ck_assert_msg(r.status == 0 && strstr(r.out, "worker") && strstr(r.out, ":1\n") &&
                      strstr(r.out, ":2\n"), "%s%s", r.out, r.err);
    cli_run_release(&r);
    /* runs rerank: the workers train the top candidates, with the serial
     * results */
    free(run_ok(0, "runs rerank ser --top 4 --epochs 1 --subset 1000 --threads 1 --any-latency "
                   "--db %s/t.db", dir));
    char *out_err = run_ok(3, "runs rerank par --top 4 --epochs 1 --subset 1000 --threads 1 "
                              "--any-latency --db %s/t.db", dir);
    free(out_err);
    char rs[256], rp[256];
    reranks_of("ser", rs, sizeof rs);
    reranks_of("par", rp, sizeof rp);
    ck_assert_str_eq(rs, rp);
    ck_assert_int_gt(strlen(rs), 40);
    /* other commands run as usual on rank 0 under mpirun */
    char *err = run_ok(3, "runs list --db %s/t.db", dir);
    free(err);
}
END_TEST

/* Starts "mpirun <mpi_flags> hwnas search <args>" in the background, output
 * in dir/<tag>.out/.err; returns mpirun's pid. */
static pid_t start_mpi(const char *mpi_flags, const char *args, const char *tag)
{
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "cd '%s' && exec mpirun --oversubscribe %s '%s' search %s "
                 ">%s/%s.out 2>%s/%s.err", getenv("HWNAS_ROOT"), mpi_flags,
                 getenv("HWNAS_BIN"), args, dir, tag, dir, tag);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Waits until both workers said they are ready; their pids by rank. */
static void worker_pids(const char *tag, pid_t pids[3])
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s.err", dir, tag);
    pids[1] = pids[2] = 0;
    for (int i = 0; i < 600 && !(pids[1] && pids[2]); i++) {
        usleep(50000);
        FILE *f = fopen(path, "r");
        char line[512];
        while (f && fgets(line, sizeof line, f)) {
            const char *w = strstr(line, "worker "), *p = strstr(line, "(pid ");
            const char *colon = w ? strchr(w, ':') : NULL;
            if (w && p && colon && strstr(line, "ready")) {
                int rank = atoi(colon + 1);
                if (rank == 1 || rank == 2)
                    pids[rank] = (pid_t)atol(p + 5);
            }
        }
        if (f)
            fclose(f);
    }
    ck_assert_msg(pids[1] && pids[2], "workers never became ready (%s)", path);
}

/* The child of mpirun that is neither worker: rank 0. */
static pid_t rank0_pid(pid_t mpirun, const pid_t workers[3])
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    pid_t found = 0;
    while (d && (de = readdir(d))) {
        pid_t p = (pid_t)atol(de->d_name);
        if (p <= 0 || p == workers[1] || p == workers[2])
            continue;
        char path[64], buf[512];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)p);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        const char *rp = strrchr(buf, ')'); /* "pid (comm) state ppid ..." */
        int ppid = 0;
        char state;
        if (rp && sscanf(rp + 1, " %c %d", &state, &ppid) == 2 && ppid == mpirun &&
            strstr(buf, "(hwnas)"))
            found = p;
    }
    if (d)
        closedir(d);
    ck_assert_msg(found, "rank 0 of mpirun %d not found", (int)mpirun);
    return found;
}

static int wait_exit(pid_t pid, int seconds)
{
    int st;
    for (int i = 0; i < seconds * 20; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(50000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    ck_abort_msg("mpirun %d did not end within %d s", (int)pid, seconds);
    return -1;
}

static void wait_candidates(const char *name, int at_least)
{
    struct history h;
    for (int i = 0; i < 1200; i++) {
        usleep(50000);
        char path[128];
        snprintf(path, sizeof path, "%s/t.db", dir);
        struct db *db;
        struct db_run r;
        int n = 0;
        if (db_open(&db, path, DB_OPEN_EXISTING, NULL) == HW_OK) {
            if (db_run_lookup(db, name, &r, NULL) == HW_OK) {
                db_candidate_count(db, r.id, &n, NULL);
                db_run_release(&r);
            }
            db_close(db);
        }
        if (n >= at_least)
            return;
    }
    history_of(name, &h);
    ck_abort_msg("run %s has %d candidates, waited for %d", name, h.n, at_least);
}

static char *slurp_err(const char *tag)
{
    char path[128];
    snprintf(path, sizeof path, "%s/%s.err", dir, tag);
    FILE *f = fopen(path, "r");
    char *buf = calloc(1, 65536);
    if (f) {
        size_t n = fread(buf, 1, 65535, f);
        buf[n] = '\0';
        fclose(f);
    }
    return buf;
}

START_TEST(test_mpi_faults)
{
    setup_dir();
    free(run_ok(0, "profile --space %s/tiny.json --db %s/t.db --runs 3 --warmup 1 --quiet", dir,
                dir));
    char args[1024];
    /* candidates of about a second each, so the kills land mid-run */
    snprintf(args, sizeof args, FLAGS " --controller evolution --trials 10 --proxy-subset 4000",
             dir, dir);
    free(run_ok(0, "search %s --name ser", args));
    struct history ser, h;
    history_of("ser", &ser);

    /* a worker killed mid-run (mpirun --enable-recovery keeps the job):
     * the other takes its candidate after the time limit */
    char a2[1100];
    /* under ASan a candidate takes seconds */
    snprintf(a2, sizeof a2, "%s --name kw --worker-timeout %s", args,
             getenv("HWNAS_ASAN") ? "30s" : "3s");
    pid_t mp = start_mpi("--enable-recovery -np 3", a2, "kw");
    pid_t pids[3];
    worker_pids("kw", pids);
    wait_candidates("kw", 2);
    kill(pids[2], SIGKILL);
    int st = wait_exit(mp, getenv("HWNAS_ASAN") ? 400 : 120);
    char *err = slurp_err("kw");
    ck_assert_msg(st == 0, "exit %d: %s", st, tail(err));
    /* the killed one (rank 2) was given up */
    ck_assert_msg(strstr(err, ":2 did not answer trial") &&
                      strstr(err, "is given up and the trial goes to another worker"), "%s", tail(err));
    free(err);
    history_of("kw", &h);
    ck_assert_int_eq(h.n, 10);
    ck_assert_int_eq(h.pending, 0);
    ck_assert_int_eq(h.gaps, 0);
    ck_assert_str_eq(h.text, ser.text);

    /* a worker that hangs (stopped) past the limit, then comes back: its
     * candidate went to the other, its late answer is dropped or taken, and
     * it works again; enough trials that the run is still going when it
     * returns (under ASan the 30 s limit let the other worker finish 30) */
    char a3[1100];
    int ks_trials = getenv("HWNAS_ASAN") ? 80 : 30;
    snprintf(a3, sizeof a3, FLAGS " --controller evolution --trials %d --proxy-subset 4000 "
             "--name ks --worker-timeout %s", dir, dir, ks_trials,
             getenv("HWNAS_ASAN") ? "30s" : "3s");
    mp = start_mpi("--enable-recovery -np 3", a3, "ks");
    worker_pids("ks", pids);
    wait_candidates("ks", 2);
    kill(pids[2], SIGSTOP);
    for (int i = 0; i < 1200; i++) { /* until rank 0 gives it up */
        usleep(50000);
        err = slurp_err("ks");
        int given_up = strstr(err, ":2 did not answer trial") != NULL;
        free(err);
        if (given_up)
            break;
    }
    kill(pids[2], SIGCONT);
    st = wait_exit(mp, getenv("HWNAS_ASAN") ? 400 : 120);
    err = slurp_err("ks");
    ck_assert_msg(st == 0 && strstr(err, ":2 did not answer trial") &&
                      strstr(err, ":2 answered again"), "exit %d: %s", st, tail(err));
    free(err);
    history_of("ks", &h);
    ck_assert_int_eq(h.n, ks_trials);
    ck_assert_int_eq(h.pending, 0);
    ck_assert_int_eq(h.gaps, 0);
    /* its first 10 candidates are the serial 10-trial run's */
    ck_assert_int_eq(strncmp(h.text, ser.text, strlen(ser.text)), 0);

    /* rank 0 killed: Open MPI ends the job; a resume evaluates what was in
     * flight again and finishes with the serial run's candidates */
    snprintf(a2, sizeof a2, "%s --name k0", args);
    mp = start_mpi("-np 3", a2, "k0");
    worker_pids("k0", pids);
    wait_candidates("k0", 3);
    kill(rank0_pid(mp, pids), SIGKILL);
    st = wait_exit(mp, getenv("HWNAS_ASAN") ? 200 : 60);
    ck_assert_int_ne(st, 0);
    history_of("k0", &h);
    ck_assert_int_lt(h.n, 10);
    ck_assert_int_gt(h.pending, 0); /* the candidates the workers held */
    char *e2 = run_ok(3, "search --resume k0 --db %s/t.db --quiet --train-threads 1", dir);
    free(e2);
    history_of("k0", &h);
    ck_assert_int_eq(h.n, 10);
    ck_assert_int_eq(h.pending, 0);
    ck_assert_int_eq(h.gaps, 0);
    ck_assert_str_eq(h.text, ser.text);
}
END_TEST

/* NetAdapt under mpirun: the workers trim and tune every proposal, and the
 * run makes the serial run's choices with the same accuracies, ending in the
 * same model file byte for byte. */
START_TEST(test_mpi_netadapt)
{
    setup_dir();
    char why[1024], a_db[128], b_db[128];
    double l0_ms;
    snprintf(a_db, sizeof a_db, "%s/a.db", dir);
    snprintf(b_db, sizeof b_db, "%s/b.db", dir);
    ck_assert_msg(cli_na_fixture(dir, a_db, &l0_ms, why, sizeof why) == 0, "%s", why);
#define NA_FLAGS "netadapt --model %s/m.hwm --target-ms %.6f --delta 0.02 --short-steps 30 " \
                 "--val-subset 1000 --long-epochs 0 --seed 3 --train-threads 1 --quiet " \
                 "--workdir %s --db %s --out %s/%s.hwm"
    free(run_ok(0, NA_FLAGS, dir, 0.85 * l0_ms, dir, a_db, dir, "serial"));
    /* the keys the serial run measured on demand, so both predict alike */
    free(run_ok(0, "lut export --db %s --out %s/lut.json", a_db, dir));
    free(run_ok(0, "lut import %s/lut.json --db %s", dir, b_db));
    char args[1024];
    snprintf(args, sizeof args, NA_FLAGS, dir, 0.85 * l0_ms, dir, b_db, dir, "mpi");
    struct cli_run r;
    run_args(3, &r, args);
    ck_assert_msg(strstr(r.out, "tuning proposals on 2 MPI workers"), "%s", r.out);
    cli_run_release(&r);
    char *ha = cli_na_history(a_db), *hb = cli_na_history(b_db);
    ck_assert_ptr_nonnull(ha);
    ck_assert_ptr_nonnull(hb);
    int status = -1, iterations = 0;
    ck_assert_int_eq(sscanf(ha, "status %d, %d iterations", &status, &iterations), 2);
    ck_assert_int_eq(status, DB_RUN_DONE);
    ck_assert_int_ge(iterations, 2);
    ck_assert_str_eq(ha, hb);
    free(ha);
    free(hb);
    char cmp[512];
    snprintf(cmp, sizeof cmp, "cmp -s %s/serial.hwm %s/mpi.hwm", dir, dir);
    ck_assert_int_eq(system(cmp), 0);
#undef NA_FLAGS
}
END_TEST

Suite *suite_cluster(void)
{
    Suite *s = suite_create("cluster");
    TCase *tc = tcase_create("cluster");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_mpi_search);
    tcase_add_test(tc, test_mpi_faults);
    tcase_add_test(tc, test_mpi_netadapt);
    suite_add_tcase(s, tc);
    return s;
}
