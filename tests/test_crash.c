/* The crash matrix, reduced (tests/crash_matrix.h): every long command
 * killed with SIGKILL at two random moments, then resumed or run again, ends
 * with a sound database, whole output files, nothing finished lost or
 * stored twice, and the result of a run never interrupted. The moments come
 * from $HWNAS_CRASH_SEED (default: the clock), which a failure names. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "tests/crash_matrix.h"

START_TEST(test_crash_matrix)
{
    const char *seed = getenv("HWNAS_CRASH_SEED");
    /* the moments within 80 % of a run or of a unit of work: a run faster
     * than the reference (a shared machine) still meets its kills */
    struct crash_opts o = {.seed = seed ? strtoull(seed, NULL, 10) : (uint64_t)time(NULL),
                           .kills = 2, .span = 0.8, .full = 0};
    struct crash_tally t;
    crash_matrix_run(_i, &o, &t);
    /* the whole report on stderr: Check refuses long messages */
    if (t.report)
        fprintf(stderr, "%s", t.report);
    ck_assert_msg(crash_tally_clean(&t) && t.kills > 0, "%s (seed %llu): %d of %d kills made; "
                  "%.1000s", t.command, (unsigned long long)o.seed, t.kills, t.planned,
                  t.report ? t.report : "");
    crash_tally_release(&t);
}
END_TEST

Suite *suite_crash(void)
{
    Suite *s = suite_create("crash");
    TCase *tc = tcase_create("crash_matrix_run");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_crash_matrix, 0, crash_matrix_size(0));
    suite_add_tcase(s, tc);
    return s;
}
