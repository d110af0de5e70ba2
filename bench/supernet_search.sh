#!/bin/sh
# Controllers on the supernet evaluator: rl, evolution and random, SEEDS
# seeds each, TRIALS candidates per run, under a hard target of 0.6 x
# fmnist-ref's predicted latency (training cap 1 x target), then each run's
# best-reward-so-far curve (bench_curves). Two runs at a time, one thread
# each (two cores). Needs a latency table of the space in DB ('hwnas
# profile --space SPACE --db DB') and a supernet of the same space.
#   sh bench/supernet_search.sh SUPERNET SPACE DB [TRIALS=1000] [SEEDS=3]
set -eu
sn=${1:?usage: supernet_search.sh SUPERNET SPACE DB [TRIALS] [SEEDS]}
space=${2:?}
db=${3:?}
trials=${4:-1000}
seeds=${5:-3}
ref_us=$(./hwnas latency fmnist-ref --db "$db" --json --quiet | grep '"predicted_us"' | tr -dc '0-9.')
target=$(awk -v us="$ref_us" 'BEGIN { printf "%.4f", 0.6 * us / 1000 }')
echo "target $target ms (0.6 x fmnist-ref's predicted $ref_us us), $trials trials per run"
stamp=$(date +%H%M%S)
runs=""
queue() { # runs its arguments' (controller seed) pairs one after another
    while [ $# -gt 1 ]; do
        ./hwnas search --space "$space" --db "$db" --target-ms "$target" --hard --max-over 1 \
            --controller "$1" --seed "$2" --trials "$trials" --evaluator supernet \
            --supernet "$sn" --train-threads 1 --name "sn-$1-s$2-$stamp" --quiet >/dev/null
        shift 2
    done
}
a="" b=""
i=0
for s in $(seq 1 "$seeds"); do
    for c in rl evolution random; do
        if [ $((i % 2)) -eq 0 ]; then a="$a $c $s"; else b="$b $c $s"; fi
        runs="$runs sn-$c-s$s-$stamp"
        i=$((i + 1))
    done
done
start=$(date +%s)
queue $a &
queue $b
wait
echo "wall time $(( $(date +%s) - start )) s for $i runs"
build/bench/bench_curves "$db" $runs
