#!/bin/sh
# Two builds of bench_nn (e.g. before and after a kernel change: build the
# old commit with `make BUILD=/tmp/old bench` in a worktree) timed in
# ROUNDS interleaved rounds; per binary and net, the fastest run and the
# best median over the rounds (1 thread; OpenBLAS SkylakeX kernels, as
# hwnas picks them on an AVX-512 CPU). NET: all (MobileNetV3-Large and
# -Small) or fmnist-ref.
#   sh bench/nn_ab.sh OLD_BENCH_NN NEW_BENCH_NN [ROUNDS=4] [NET=all]
set -eu
old=${1:?usage: nn_ab.sh OLD_BENCH_NN NEW_BENCH_NN [ROUNDS] [NET]}
new=${2:?}
rounds=${3:-4}
net=${4:-all}
arg=150
[ "$net" = fmnist-ref ] && arg="fmnist-ref 400"
for r in $(seq 1 "$rounds"); do
    for b in "$old" "$new"; do
        # shellcheck disable=SC2086
        OPENBLAS_CORETYPE=SkylakeX "$b" $arg 2>/dev/null | awk -v b="$b" '/latency/ { print b, $1, $6, $9 }'
    done
done | awk '{ k = $1 " " $2; if (!(k in mn) || $4 < mn[k]) mn[k] = $4; if (!(k in md) || $3 < md[k]) md[k] = $3 }
    END { for (k in mn) printf "%s  min %.3f ms  best median %.3f ms\n", k, mn[k], md[k] }' | sort
