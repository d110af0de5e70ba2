/* The random controller: uniform tokens; rewards teach it nothing, so its
 * whole state is the common part (RNG and counters). */
#include "search/ctrl_impl.h"

static int random_init(struct ctrl *c, struct hw_err *err) { return HW_OK; }
static int random_report(struct ctrl *c, const int *tokens, double reward, struct hw_err *err)
{
    return HW_OK;
}
static int random_save(const struct ctrl *c, struct ctrl_buf *b) { return HW_OK; }
static int random_load(struct ctrl *c, struct ctrl_reader *r, struct hw_err *err) { return HW_OK; }
static void random_release(struct ctrl *c) {}

const struct ctrl_ops ctrl_random_ops = {
    .init = random_init,
    .propose = ctrl_random_tokens,
    .report = random_report,
    .save = random_save,
    .load = random_load,
    .release = random_release,
};
