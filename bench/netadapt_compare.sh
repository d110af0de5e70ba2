#!/bin/sh
# NetAdapt against a uniform width multiplier at the same measured latency
# (issue 35), at RATIOS x fmnist-ref's predicted latency, SEEDS seeds each:
#   1. fmnist-ref trained E0 epochs (seed s): the starting model;
#   2. hwnas netadapt to RATIO x fmnist-ref's predicted latency (proposals
#      ranked by validation loss after STEPS-step fine-tunes, DELTA of L0 per
#      iteration), then E1 epochs of long fine-tune;
#   3. fmnist-ref with the uniform width multiplier whose measured latency
#      is the largest not above NetAdapt's result (bench_netadapt width),
#      trained from scratch for E0 + E1 epochs (the same total);
#   4. with SEARCH (an arch JSON per ratio, SEARCH.RATIO.json, e.g. a
#      search's exported winner), that arch trained E0 + E1 epochs too.
# Test accuracy of each model (the only place the test set is read) and its
# measured latency (fastest of 200 runs, 1 thread), then the table: mean and
# spread over the seeds per ratio and method.
#   make bench && sh bench/netadapt_compare.sh OUT [SEEDS=3] [RATIOS="0.8 0.6"]
#        [E0=10] [E1=5] [DELTA=0.02] [STEPS=400] [SEARCH=]
# Resumable: every finished model is kept in OUT and skipped by a rerun; a
# killed NetAdapt run resumes (hwnas netadapt --resume). Hours on 2 cores.
# Small smoke run: sh bench/netadapt_compare.sh /tmp/nac 1 0.9 1 1 0.05 20
set -eu
out=${1:?usage: netadapt_compare.sh OUT [SEEDS] [RATIOS] [E0] [E1] [DELTA] [STEPS] [SEARCH]}
seeds=${2:-3}
ratios=${3:-0.8 0.6}
e0=${4:-10}
e1=${5:-5}
delta=${6:-0.02}
steps=${7:-400}
search=${8:-}
hw=${HWNAS:-./hwnas}
mkdir -p "$out"
db="$out/table.db"
log() { echo "netadapt_compare: $*" >&2; }
# the latency table of this machine, once
if [ ! -s "$out/ref_us" ]; then
    "$hw" profile --space fmnist --db "$db" --quiet
    "$hw" latency fmnist-ref --db "$db" --json --quiet |
        awk -F: '/"predicted_us"/ { v = $2; gsub(/[ \t,]/, "", v); print v }' >"$out/ref_us"
fi
ref_us=$(cat "$out/ref_us")
measure() { # model -> fastest of 200 runs in ms
    "$hw" latency "$1" --measure --runs 200 --db "$db" --json --quiet |
        awk -F: '/"min_us"/ { v = $2; gsub(/[ \t,]/, "", v); printf "%.4f\n", v / 1000 }'
}
test_acc() { # model -> test accuracy in percent
    "$hw" eval "$1" --split test --json --quiet |
        awk -F: '/"accuracy_pct"|"acc_pct"|"test_acc_pct"/ { v = $2; gsub(/[ \t,]/, "", v); print v; exit }'
}
train() { # arch epochs seed out
    [ -s "$4" ] && return 0
    log "training $1, $2 epochs, seed $3 -> $4"
    "$hw" train "$1" --epochs "$2" --seed "$3" --quiet --out "$4.tmp" >/dev/null
    mv "$4.tmp" "$4"
}
for s in $(seq 1 "$seeds"); do
    train fmnist-ref "$e0" "$s" "$out/ref-s$s.hwm"
done
total=$((e0 + e1))
for r in $ratios; do
    target=$(awk -v us="$ref_us" -v r="$r" 'BEGIN { printf "%.4f", r * us / 1000 }')
    for s in $(seq 1 "$seeds"); do
        na="$out/na-$r-s$s.hwm"
        if [ ! -s "$na" ]; then
            ndb="$out/na-$r-s$s.db"
            [ -s "$ndb" ] || cp "$db" "$ndb"
            id=$("$hw" netadapt list --db "$ndb" --json |
                 awk -F: '/"id"/ { v = $2; gsub(/[ \t,]/, "", v); print v; exit }')
            mkdir -p "$out/na-$r-s$s"
            if [ -n "$id" ]; then
                log "resuming NetAdapt run $id ($r x, seed $s)"
                "$hw" netadapt --resume "$id" --db "$ndb" --quiet >/dev/null
            else
                log "NetAdapt to $target ms ($r x fmnist-ref's $ref_us us), seed $s"
                "$hw" netadapt --model "$out/ref-s$s.hwm" --target-ms "$target" --delta "$delta" \
                    --short-steps "$steps" --score loss --long-epochs "$e1" --seed "$s" \
                    --workdir "$out/na-$r-s$s" --out "$na.tmp" --db "$ndb" --quiet >/dev/null
            fi
            [ -s "$na.tmp" ] && mv "$na.tmp" "$na"
            [ -s "$na" ] || { log "NetAdapt ($r x, seed $s) left no model"; exit 1; }
        fi
        [ -s "$na.ms" ] || measure "$na" >"$na.ms"
        wj="$out/width-$r-s$s.json"
        [ -s "$wj" ] || build/bench/bench_netadapt width "$(cat "$na.ms")" "$wj" >&2
        train "$wj" "$total" "$s" "$out/width-$r-s$s.hwm"
        if [ -n "$search" ] && [ -f "$search.$r.json" ]; then
            train "$search.$r.json" "$total" "$s" "$out/search-$r-s$s.hwm"
        fi
    done
done
# one line per model: method ratio seed test% measured-ms
: >"$out/results.txt"
for r in $ratios; do
    for s in $(seq 1 "$seeds"); do
        for m in na width search; do
            f="$out/$m-$r-s$s.hwm"
            [ -s "$f" ] || continue
            [ -s "$f.ms" ] || measure "$f" >"$f.ms"
            [ -s "$f.test" ] || test_acc "$f" >"$f.test"
            echo "$m $r $s $(cat "$f.test") $(cat "$f.ms")" >>"$out/results.txt"
        done
    done
done
for s in $(seq 1 "$seeds"); do
    f="$out/ref-s$s.hwm"
    [ -s "$f.ms" ] || measure "$f" >"$f.ms"
    [ -s "$f.test" ] || test_acc "$f" >"$f.test"
    echo "ref 1.0 $s $(cat "$f.test") $(cat "$f.ms")" >>"$out/results.txt"
done
echo "method   ratio  seeds  test % mean  (min..max)      measured ms mean"
awk '{ k = $1 " " $2; n[k]++; a[k] += $4; t[k] += $5
       if (!(k in lo) || $4 < lo[k]) lo[k] = $4; if (!(k in hi) || $4 > hi[k]) hi[k] = $4 }
     END { for (k in n) { split(k, p, " ")
         printf "%-8s %5s  %5d  %11.2f  (%.2f..%.2f)  %10.4f\n", p[1], p[2], n[k], a[k] / n[k], lo[k], hi[k], t[k] / n[k] } }' \
    "$out/results.txt" | sort -b -k2,2gr -k1,1
echo "(fmnist-ref trained $e0 epochs; NetAdapt $e0 + its fine-tunes + $e1; width and search $total from scratch)"
