#!/bin/sh
# The "near" fidelity set: archs where a latency-constrained search actually
# decides (predicted 0.5-0.7 x fmnist-ref's latency), each trained
# stand-alone with fmnist-ref's 10-epoch recipe (hwnas train defaults, one
# thread) on seeds 1..SEEDS; the final validation accuracy of each training
# is appended to RESULTS as "arch seed accuracy seconds". Resumable: a
# training already in RESULTS is skipped, so after a kill run it again.
# SLICE/NSLICES shares the work between instances (instance SLICE takes
# the trainings whose index mod NSLICES is SLICE).
#   sh bench/fidelity_near.sh train DIR RESULTS [SEEDS=2] [SLICE=0] [NSLICES=1]
#   sh bench/fidelity_near.sh report DIR RESULTS
# DIR holds the archs (bench/data/fidelity-near/, made by
#   build/bench/bench_train near DB bench/data/fmnist-head.json 24 DIR).
# report prints each arch's accuracies, the seeds' own Kendall tau (it
# bounds what any proxy can reach) and writes nothing.
# $HWNAS: the hwnas binary (default ./hwnas; copy it elsewhere if you
# rebuild while this runs).
set -eu
mode=${1:?usage: fidelity_near.sh train|report DIR RESULTS [SEEDS] [SLICE] [NSLICES]}
dir=${2:?}
res=${3:?}
hw=${HWNAS:-./hwnas}
touch "$res"
archs=$(ls "$dir" | sed -n 's/\.json$//p' | sort)
n=$(echo "$archs" | wc -l)
case $mode in
train)
    seeds=${4:-2}
    slice=${5:-0}
    nslices=${6:-1}
    # A stride coprime with n spreads partial results over the latency range.
    stride=5
    while [ $((n % stride)) -eq 0 ]; do stride=$((stride + 2)); done
    job=0
    for i in $(seq 0 $((n - 1))); do
        a=$(echo "$archs" | sed -n "$((i * stride % n + 1))p")
        for s in $(seq 1 "$seeds"); do
            job=$((job + 1))
            [ $((job % nslices)) -eq "$slice" ] || continue
            grep -q "^$a $s " "$res" && continue
            t0=$(date +%s)
            acc=$("$hw" train "$dir/$a.json" --seed "$s" --threads 1 --json --quiet |
                  awk -F: '/^\t"val_acc_pct"/ { v = $2; gsub(/[ \t,]/, "", v); print v }')
            [ -n "$acc" ] || { echo "fidelity_near: training $a seed $s failed" >&2; exit 1; }
            echo "$a $s $acc $(($(date +%s) - t0))" >>"$res"
            echo "$a seed $s: $acc % ($(($(date +%s) - t0)) s)"
        done
    done
    ;;
report)
    echo "$archs" | awk -v res="$res" '
    BEGIN { while ((getline l < res) > 0) { split(l, f, " "); acc[f[1], f[2]] = f[3] } }
    { a[++n] = $1 }
    END {
        printf "arch     seed 1   seed 2   mean\n"
        for (i = 1; i <= n; i++) {
            x = acc[a[i], 1]; y = acc[a[i], 2]
            printf "%s  %7s  %7s", a[i], x == "" ? "-" : x, y == "" ? "-" : y
            if (x != "" && y != "") { printf "  %6.2f", (x + y) / 2; both[++m] = i }
            printf "\n"
        }
        c = d = 0
        for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) {
            p = a[both[i]]; q = a[both[j]]
            u = acc[p, 1] - acc[q, 1]; v = acc[p, 2] - acc[q, 2]
            if (u * v > 0) c++; else if (u * v < 0) d++
        }
        if (m > 1)
            printf "seeds 1 and 2 agree at Kendall tau %.2f over %d archs\n", (c - d) / (m * (m - 1) / 2), m
    }'
    ;;
*) echo "fidelity_near: mode $mode is not train or report" >&2; exit 2 ;;
esac
