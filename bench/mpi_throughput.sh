#!/bin/sh
# Search throughput under Open MPI on this machine: candidates per hour of
# one search in one process (2 training threads), and under mpirun with 1
# worker (2 threads) and 2 workers (1 thread each), the same proxy and seed;
# plus the coordinator's (rank 0's) CPU time per candidate as a share of a
# proxy training, which hwnas search prints under mpirun. --bind-to none:
# Open MPI binds each rank to one core by default when it starts two or
# fewer, which squeezes a worker's two training threads onto one core.
#   sh bench/mpi_throughput.sh [TRIALS] [PROXY_SUBSET]
# Run from the repository after make (profiles fmnist into a scratch
# database first, about a minute).
set -eu
trials=${1:-12}
subset=${2:-10000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
db="$tmp/b.db"
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1}
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
./hwnas profile --space fmnist --db "$db" --quiet >/dev/null
flags="--space fmnist --target-ms 0.3 --controller evolution --trials $trials --seed 7
       --proxy-epochs 1 --proxy-subset $subset --db $db --quiet"
now() { date +%s.%N; }
run() { # name, threads, launcher...
    name=$1 threads=$2
    shift 2
    t0=$(now)
    "$@" ./hwnas search $flags --train-threads "$threads" --name "$name" >"$tmp/$name.out" 2>&1
    t1=$(now)
    n=$(./hwnas runs show "$name" --db "$db" | sed -n 's/.*trials \([0-9]*\) of.*/\1/p')
    coord=$(sed -n 's/^coordinator (rank 0): //p' "$tmp/$name.out")
    awk -v n="$n" -v a="$t0" -v b="$t1" -v name="$name" -v c="${coord:--}" \
        'BEGIN { printf "%-22s %3d candidates in %6.1f s = %6.0f per hour   %s\n", name, n, b - a, 3600 * n / (b - a), c }'
}
echo "fmnist, evolution, $trials candidates, proxy 1 epoch x $subset images, $(nproc) cores"
run serial-2threads 2
run mpi-1worker-2threads 2 mpirun --oversubscribe --bind-to none -np 2
run mpi-2workers-1thread 1 mpirun --oversubscribe --bind-to none -np 3
# the same candidates, whatever evaluated them
for r in mpi-1worker-2threads mpi-2workers-1thread; do
    a=$(./hwnas runs show serial-2threads --db "$db" --top 1000 | awk '$1 ~ /^[0-9]+$/ {print $1, $3}' | sort -n | md5sum)
    b=$(./hwnas runs show "$r" --db "$db" --top 1000 | awk '$1 ~ /^[0-9]+$/ {print $1, $3}' | sort -n | md5sum)
    [ "$a" = "$b" ] && echo "$r: same archs and predicted latencies as serial" || echo "$r: archs differ from serial"
done
