#include "cli/json_out.h"

#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "db/db.h"

cJSON *cli_json_root(void)
{
    cJSON *o = cJSON_CreateObject();
    if (o && (!cJSON_AddNumberToObject(o, "version", CLI_JSON_VERSION) ||
              !cJSON_AddStringToObject(o, "hwnas_version", HWNAS_VERSION))) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

int cli_json_print(cJSON *root)
{
    char *s = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!s) {
        fprintf(stderr, "hwnas: out of memory formatting JSON\n");
        return CLI_EXIT_FAIL;
    }
    printf("%s\n", s);
    cJSON_free(s);
    return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

cJSON *cli_json_candidate(const struct db_candidate *c)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "trial", c->trial);
    cJSON_AddStringToObject(o, "status", db_cand_status_name(c->status));
    cJSON_AddNumberToObject(o, "predicted_ms", c->predicted_ms);
    cJSON_AddNumberToObject(o, "val_acc_pct", 100 * c->val_acc);
    cJSON_AddNumberToObject(o, "val_loss", c->val_loss);
    cJSON_AddNumberToObject(o, "train_loss", c->train_loss);
    cJSON_AddNumberToObject(o, "reward", c->reward);
    cJSON_AddNumberToObject(o, "macs", (double)c->macs);
    cJSON_AddNumberToObject(o, "params", (double)c->params);
    cJSON_AddNumberToObject(o, "wall_s", c->wall_s);
    cJSON_AddStringToObject(o, "evaluator", c->evaluator[0] ? c->evaluator : "proxy");
    if (c->worker[0])
        cJSON_AddStringToObject(o, "worker", c->worker);
    else
        cJSON_AddNullToObject(o, "worker");
    cJSON_AddStringToObject(o, "arch_hash", c->arch_hash);
    return o;
}

cJSON *cli_json_run(const struct db_run *r, int candidates)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "id", (double)r->id);
    cJSON_AddStringToObject(o, "name", r->name);
    cJSON_AddStringToObject(o, "space", r->space);
    cJSON_AddStringToObject(o, "controller", r->controller);
    cJSON_AddStringToObject(o, "status", db_run_status_name(r->status));
    cJSON_AddNumberToObject(o, "target_ms", r->target_ms);
    cJSON_AddNumberToObject(o, "w_under", r->w_alpha);
    cJSON_AddNumberToObject(o, "w_over", r->w_beta);
    cJSON_AddNumberToObject(o, "seed", (double)r->seed);
    cJSON_AddNumberToObject(o, "trials_max", r->trials_max);
    cJSON_AddNumberToObject(o, "time_budget_s", r->time_budget_s);
    cJSON_AddNumberToObject(o, "device_id", (double)r->device_id);
    cJSON_AddNumberToObject(o, "candidates", candidates);
    cJSON_AddStringToObject(o, "created_at", r->created_at);
    cJSON_AddStringToObject(o, "updated_at", r->updated_at);
    return o;
}

cJSON *cli_json_rerank(const struct db_rerank *rr)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "trial", rr->trial);
    cJSON_AddNumberToObject(o, "val_acc_pct", 100 * rr->val_acc);
    cJSON_AddNumberToObject(o, "epochs", rr->epochs);
    cJSON_AddNumberToObject(o, "subset", rr->subset);
    cJSON_AddNumberToObject(o, "seed", (double)rr->seed);
    cJSON_AddNumberToObject(o, "wall_s", rr->wall_s);
    return o;
}
