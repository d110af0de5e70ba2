/* Candidate evaluation over many processes and machines with Open MPI.
 *
 * Run under `mpirun -np N hwnas CMD ...`, rank 0 runs CMD as it would run
 * alone (the controller, the database: its only writer) and ranks 1..N-1 are
 * workers: they wait for an evaluation setup (dataset folder, proxy or
 * supernet settings), then evaluate what rank 0 sends (an arch and a seed)
 * and send back the scores, losses and wall time. To a search the workers
 * are one more evaluator pool (search/run.h) with one slot per worker.
 *
 * hwnas starts MPI only when mpirun launched it with more than one process
 * (Open MPI's OMPI_COMM_WORLD_SIZE says so); otherwise, and in a build without
 * Open MPI, every command works in this one process. Workers read the
 * dataset (and the supernet file) from their own disks at the paths rank 0
 * uses; they never open the database.
 *
 * Faults: a worker that does not answer within the time limit of a candidate
 * is given up (its candidate goes to another worker; a late answer is
 * ignored and the worker is used again), and a worker kills itself when one
 * evaluation runs far past the limit, so a hung worker cannot hold the job.
 * With `mpirun --enable-recovery` a dead worker costs only its candidate;
 * without it Open MPI ends the whole job, and `hwnas search --resume`
 * evaluates the lost candidates again.
 *
 * NetAdapt farms out the proposals of each iteration the same way: a worker
 * gets the current net's weights and one proposal, trims and fine-tunes it
 * and sends back its accuracy and weights (cluster_na_farm).
 *
 * This is the only part of hwnas that includes mpi.h. */
#ifndef HWNAS_CLUSTER_CLUSTER_H
#define HWNAS_CLUSTER_CLUSTER_H

#include <signal.h>

#include "evaluator/proxy.h"
#include "netadapt/finetune.h"
#include "netadapt/netadapt.h"
#include "search/run.h"
#include "supernet/supernet.h"
#include "util/err.h"

/* Starts MPI when mpirun launched this process among several; call first
 * in main. A build without Open MPI launched that way fails (HW_EINVAL,
 * saying so): every rank would run the whole command. */
int cluster_init(int *argc, char ***argv, struct hw_err *err);
/* 1 when MPI runs with workers (size > 1). */
int cluster_active(void);
int cluster_rank(void);
int cluster_size(void);
/* Whether this build links Open MPI. */
int cluster_built_with_mpi(void);
/* Ranks >= 1: serve evaluations until rank 0 says to stop; the exit code. */
int cluster_worker_main(void);
/* Rank 0: tells the workers to stop and ends MPI (idempotent; a no-op
 * without MPI). If MPI_Finalize hangs (a dead worker), the process exits
 * after a few seconds with the status given to cluster_set_exit_status. */
void cluster_finish(void);
void cluster_set_exit_status(int status);

/* What workers need to evaluate candidates as this process would. */
struct cluster_eval_setup {
    const char *data_dir; /* absolute: the same path on every machine */
    int classes;
    struct eval_proxy_config proxy;   /* its train/val/data_dir are not sent */
    const char *supernet;             /* NULL: the proxy evaluates */
    struct supernet_eval_config sn_eval;
    const struct na_trainer *netadapt; /* set: the workers tune NetAdapt proposals with its
                                          settings (its train/val are not sent) */
    int threads;                      /* nn threads per worker */
    double timeout_s;   /* per candidate; 0: max(300 s, 10 x the longest so far) */
    volatile sig_atomic_t *stop;      /* a collect that waits returns HW_EINTR when set */
};

struct cluster_pool;

/* Sends the setup to every worker and waits for each to load its data
 * (an error names the worker and what failed), then fills *pool (may be
 * NULL for NetAdapt): one slot per worker. Rank 0 only, with
 * cluster_active(). */
int cluster_pool_open(struct cluster_pool **out, const struct cluster_eval_setup *setup,
                      struct search_pool *pool, struct hw_err *err);
/* na_farm_fn (netadapt.h) with ctx the pool, opened with setup->netadapt:
 * one proposal per free worker, each trimmed and tuned there. */
int cluster_na_farm(void *ctx, struct nn_net *cur, int iteration, int max_batch,
                    const struct na_proposal *props, int n, na_done_fn done, void *dctx,
                    struct hw_err *err);

/* Candidates handed out and not collected are abandoned (the workers finish
 * them; their answers are dropped). */
void cluster_pool_close(struct cluster_pool *cp);

#endif
