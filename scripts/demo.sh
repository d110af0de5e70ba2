#!/bin/sh
# make demo: the whole hwnas workflow on the embedded default (Fashion-MNIST
# space), small enough to finish in minutes on a 2-core machine.
#   1. profile this CPU into a latency table        (hwnas profile)
#   2. check the table against whole-network timings (hwnas validate)
#   3. search under a latency target with a supernet   (hwnas supernet train, search, runs rerank)
#   4. show the accuracy/latency front, write the report (hwnas runs pareto, runs report)
#   5. export the winner, train it for real, and write it as ONNX (hwnas export)
# Everything lands in ./hwnas-demo.db (SQLite) and ./demo-out/.
set -e
HWNAS=${HWNAS:-./hwnas}
DB=${DEMO_DB:-hwnas-demo.db}
OUT=${DEMO_OUT:-demo-out}
TRIALS=${DEMO_TRIALS:-300}
FINAL_EPOCHS=${DEMO_FINAL_EPOCHS:-2}
mkdir -p "$OUT"
step() { printf '\n== %s\n' "$*"; }

step "1/5 profiling this CPU for the fmnist space (re-running skips measured keys)"
$HWNAS profile --space fmnist --db "$DB"

step "2/5 validating the table: predicted vs measured latency of 20 sampled networks"
$HWNAS validate --space fmnist --samples 20 --db "$DB"

# The target: 0.6 x the predicted latency of the hand-designed fmnist-ref,
# which falls in the middle of the space's latency range.
ref_us=$($HWNAS latency fmnist-ref --db "$DB" --json --quiet | grep '"predicted_us"' | tr -dc '0-9.')
target=$(awk -v us="$ref_us" 'BEGIN { printf "%.4f", 0.6 * us / 1000 }')
ref_us=$(awk -v us="$ref_us" 'BEGIN { printf "%.1f", us }')
step "3/5 searching: target ${target} ms (0.6 x fmnist-ref's predicted ${ref_us} us), $TRIALS trials"
name="demo-$(date +%Y%m%d-%H%M%S)"
# A small weight-sharing supernet over the whole space (2 epochs on 10,000
# training images, ~2 minutes), then each candidate scored with its weights
# in well under a second: BN recalibrated on training images, validation
# loss on 2,000 validation images (never the test set). --hard --max-over 1:
# a budget, not a preference; proposals predicted over it are redrawn
# unscored. The 3 best distinct candidates are then trained stand-alone for
# an epoch (--rerank), and the winner is picked on that.
$HWNAS supernet train --space fmnist --epochs 2 --subset 10000 --out "$OUT/supernet.hwsn" --force
$HWNAS search --space fmnist --target-ms "$target" --hard --max-over 1 --controller evolution \
    --population 30 --sample-size 5 --trials "$TRIALS" --evaluator supernet \
    --supernet "$OUT/supernet.hwsn" --sn-recal 1000 --sn-val 2000 --name "$name" --db "$DB"
$HWNAS runs rerank "$name" --top 3 --epochs 1 --subset 20000 --db "$DB"

step "4/5 the accuracy/latency front and the run's HTML report"
$HWNAS runs pareto "$name" --db "$DB" --svg "$OUT/pareto.svg"
# One page with all of it (reward over trials, the front, the table's
# validation from step 2, the top candidates): open it in a browser.
$HWNAS runs report "$name" --db "$DB" --html "$OUT/report.html"

step "5/5 exporting the winner and training it for $FINAL_EPOCHS epochs on the 50k split"
$HWNAS export "$name" --reranked --format json --out "$OUT/winner.json" --db "$DB"
$HWNAS export "$name" --reranked --format timm --out "$OUT/winner.timm.txt" --db "$DB"
$HWNAS export "$name" --reranked --format mnasnet --out "$OUT/winner.mnasnet.txt" --db "$DB"
$HWNAS export "$name" --reranked --train-final "$FINAL_EPOCHS" --model "$OUT/winner.hwm" --db "$DB"
# The deployable model: graph and weights, runs under ONNX Runtime as it is.
$HWNAS export "$OUT/winner.hwm" --format onnx --out "$OUT/winner.onnx"
$HWNAS latency "$OUT/winner.json" --measure --db "$DB"
printf '\ndemo done: database %s, outputs in %s/ (supernet.hwsn, winner.json, winner.timm.txt, winner.mnasnet.txt, winner.hwm, winner.onnx, pareto.svg)\nreport: %s/report.html (open it in a browser)\n' "$DB" "$OUT" "$OUT"
