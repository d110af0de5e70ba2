/* The OpenBLAS kernels hwnas runs with (cli/cli.h). */
#include "cli/cli.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* OpenBLAS picks its kernels when it is loaded, from the CPU models it
 * knows: it takes an unlisted AVX-512 Xeon for a Prescott (SSE3) and a Zen 4
 * for a Haswell (AVX2), several times slower at the sgemm of training than
 * its SkylakeX kernels on the same CPU. So when the CPU has the AVX-512
 * subsets those kernels use and OpenBLAS loaded weaker ones, hwnas runs
 * itself again with OPENBLAS_CORETYPE=SkylakeX, once. A core type set by
 * the user is kept. The latency fingerprint records the core in use. */
static int core_is_avx512(const char *core)
{
    static const char *const avx512_cores[] = {"skylakex", "cooperlake", "sapphirerapids"};
    for (size_t i = 0; core && i < sizeof avx512_cores / sizeof avx512_cores[0]; i++)
        if (strcasecmp(core, avx512_cores[i]) == 0)
            return 1;
    return 0;
}

static int cpu_runs_skylakex_kernels(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#else /* OpenBLAS's choice stands on other architectures */
    return 0;
#endif
}

void cli_choose_blas_core(char **argv)
{
    if (getenv("OPENBLAS_CORETYPE") || getenv("HWNAS_BLAS_CHOSEN"))
        return;
    if (core_is_avx512(openblas_get_corename()) || !cpu_runs_skylakex_kernels())
        return;
    setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
    setenv("HWNAS_BLAS_CHOSEN", "1", 1);
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with the kernels loaded */
    unsetenv("OPENBLAS_CORETYPE");
}

int cli_blas_core_note(char *buf, size_t size)
{
    const char *set = getenv("OPENBLAS_CORETYPE");
    if (!set || getenv("HWNAS_BLAS_CHOSEN") || core_is_avx512(openblas_get_corename()) ||
        !cpu_runs_skylakex_kernels())
        return 0;
    snprintf(buf, size,
             "note: OPENBLAS_CORETYPE=%s is set in the environment, so OpenBLAS runs its %s "
             "kernels; this CPU has the AVX-512 its SkylakeX kernels need (about 2x the "
             "sgemm rate). Unset OPENBLAS_CORETYPE to let hwnas choose them; the table is "
             "kept per core type.",
             set, openblas_get_corename());
    return 1;
}
