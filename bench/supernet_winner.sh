#!/bin/sh
# A search winner against fmnist-ref, both trained stand-alone with
# fmnist-ref's 10-epoch recipe (hwnas train defaults) on seeds 1..SEEDS, two
# trainings at a time on one thread each; test accuracy of each (the only
# place the test set is read), and each net's latency measured end to end
# (fastest of 200 runs, one thread) in the same run.
#   sh bench/supernet_winner.sh WINNER.json DB [SEEDS=3] [OUT=winner-bench]
set -eu
win=${1:?usage: supernet_winner.sh WINNER.json DB [SEEDS] [OUT]}
db=${2:?}
seeds=${3:-3}
out=${4:-winner-bench}
mkdir -p "$out"
train() { # arch name seed
    ./hwnas train "$1" --seed "$3" --threads 1 --quiet --out "$out/$2-s$3.hwm" >/dev/null
}
for s in $(seq 1 "$seeds"); do
    train "$win" winner "$s" &
    train fmnist-ref ref "$s"
    wait
done
for n in winner ref; do
    for s in $(seq 1 "$seeds"); do
        printf '%s seed %s: ' "$n" "$s"
        ./hwnas eval "$out/$n-s$s.hwm" --split test --quiet
    done
done
for a in "$win" fmnist-ref; do
    printf '%s: ' "$a"
    ./hwnas latency "$a" --measure --runs 200 --db "$db" --json --quiet |
        grep -E '"(predicted_us|measured_min_us|min_us)"' | tr -d '\n\t ' ; echo
done
