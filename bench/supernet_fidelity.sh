#!/bin/sh
# Ranking quality of a supernet: Kendall tau between its scores of the 12
# "wide" fidelity archs (bench_train archs 12 wide) and their 10-epoch
# stand-alone accuracies (bench/data/fidelity-wide.txt), by each score the
# search can use (validation accuracy, exp(-validation loss), exp(-train
# loss)), and the median seconds per subnet evaluation.
#   sh bench/supernet_fidelity.sh SUPERNET [RECAL] [VAL] [SET=wide]
# SET near: the archs of bench/data/fidelity-near/ with a 10-epoch accuracy
# in bench/data/fidelity-near.txt (or $NEAR_RESULTS), against the mean of
# their seeds (issue 30's second set, archs at 0.5-0.7x fmnist-ref's
# latency: where a search decides); NEAR_SEEDS=2 takes only archs with both.
# The supernet must be over a space holding the fmnist archs (fmnist or
# bench/data/fmnist-head.json). Run from the repository after make bench.
set -eu
sn=${1:?usage: supernet_fidelity.sh SUPERNET [RECAL] [VAL] [SET]}
recal=${2:-2000}
val=${3:-5000}
set=${4:-wide}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
case $set in
wide)
    build/bench/bench_train archs 12 wide "$tmp" >/dev/null
    tail -n +2 bench/data/fidelity-wide.txt >"$tmp/full"
    ;;
near)
    # archs with enough seeds, in name order, and their mean accuracy
    res=${NEAR_RESULTS:-bench/data/fidelity-near.txt}
    for f in bench/data/fidelity-near/near*.json; do
        a=$(basename "$f" .json)
        awk -v a="$a" -v need="${NEAR_SEEDS:-1}" '$1 == a && ($2 == 1 || $2 == 2) && !($2 in v) { v[$2] = $3; s += $3; k++ }
            END { if (k >= need && k > 0) printf "%.3f\n", s / k; else exit 1 }' \
            "$res" >>"$tmp/full" && cp "$f" "$tmp/"
    done
    echo "near set: $(wc -l <"$tmp/full") archs from $res (NEAR_SEEDS=${NEAR_SEEDS:-1})"
    ;;
*) echo "supernet_fidelity: SET $set is not wide or near" >&2; exit 2 ;;
esac
./hwnas supernet eval "$sn" "$tmp"/*.json --recal "$recal" --val "$val" --json -q >"$tmp/scores"
# columns: full acc, supernet acc, -val loss, -train loss, seconds (one line
# per subnet of the JSON document, whose keys come in this order)
awk -F: '{ v = $2; gsub(/[ \t,]/, "", v) }
/"val_acc_pct"/ { a = v } /"val_loss"/ { l = v } /"train_loss"/ { t = v }
/"eval_s"/ { print a, l, t, v }' "$tmp/scores" | paste -d' ' "$tmp/full" - >"$tmp/table"
echo "arch  10-epoch  supernet acc  val loss  train loss  seconds"
ls "$tmp"/*.json | sed 's|.*/||; s|\.json$||' >"$tmp/names"
paste -d" " "$tmp/names" "$tmp/table" | awk '{printf "%-7s %6.2f    %6.2f      %.4f    %.4f     %.2f\n", $1, $2, $3, $4, $5, $6}'
awk -v recal="$recal" -v val="$val" '
function tau(col, sign,   i, j, c, d, a, b) {
    c = d = 0
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) {
        a = full[i] - full[j]; b = sign * (v[i, col] - v[j, col])
        if (a * b > 0) c++; else if (a * b < 0) d++
    }
    return (c - d) / (n * (n - 1) / 2)
}
{ n++; full[n] = $1; for (k = 2; k <= 5; k++) v[n, k] = $k }
END {
    printf "Kendall tau against 10-epoch accuracy (%d archs, recal %d, val %d):\n", n, recal, val
    printf "  by accuracy %.2f, by validation loss %.2f, by train loss %.2f\n", tau(2, 1), tau(3, -1), tau(4, -1)
}' "$tmp/table"
awk '{print $5}' "$tmp/table" | sort -g | awk '{t[NR] = $1} END {
    printf "median evaluation %.2f s (fastest %.2f, slowest %.2f)\n", (t[int((NR + 1) / 2)] + t[int(NR / 2) + 1]) / 2, t[1], t[NR] }'
