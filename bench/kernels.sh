#!/bin/sh
# hwnas's kernels beside the peers, in one run (issue 36): MobileNetV3-Large
# and -Small inference (batch 1, one thread) against XNNPACK
# (../shared/anchors/xnnpack, Debian libxnnpack-dev) and ONNX Runtime
# (bench_onnx: the same nets exported by hwnas, onnxruntime-node), then
# fmnist-ref training images/s (batch 128, 2 threads) against PyTorch
# (../shared/anchors/torch_train_fmnist.py, Debian python3-torch). ROUNDS
# interleaved rounds; each figure is the best of its rounds (the machine is
# shared: neighbours only ever slow a run). Ratios are hwnas / peer for
# times (below 1: hwnas faster) and hwnas / PyTorch for images/s.
#   make bench bench-deps && sh bench/kernels.sh [ROUNDS=3] [TORCH_EPOCHS=1] [ANCHORS=../shared/anchors]
# (TORCH_EPOCHS 0: inference only)
# A missing peer is skipped with the command that installs it.
set -eu
rounds=${1:-3}
tepochs=${2:-1}
anchors=${3:-../shared/anchors}
# OpenBLAS's kernels as hwnas chooses them (cli/blas_core.c): SkylakeX on a CPU
# with AVX-512 F/BW/DQ/VL, whatever OPENBLAS_CORETYPE the environment sets
# (hwnas keeps a user's setting; this bench measures its own choice).
flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
if echo "$flags" | grep -qw avx512f && echo "$flags" | grep -qw avx512bw &&
   echo "$flags" | grep -qw avx512dq && echo "$flags" | grep -qw avx512vl; then
    [ "${OPENBLAS_CORETYPE:-SkylakeX}" = SkylakeX ] ||
        echo "(OPENBLAS_CORETYPE=$OPENBLAS_CORETYPE in the environment: measuring with SkylakeX, hwnas's own choice here)"
    export OPENBLAS_CORETYPE=SkylakeX
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
xnn=build/bench/xnn_mbv3
if [ ! -x "$xnn" ] && [ -f "$anchors/xnnpack/xnn_mbv3.c" ] && [ -e /usr/include/xnnpack.h ]; then
    gcc -O2 -std=c11 "$anchors/xnnpack/xnn_mbv3.c" -o "$xnn" -lXNNPACK -lm
fi
[ -x "$xnn" ] || echo "(XNNPACK skipped: make bench-deps installs it)"
ort=1
[ -d tests/ort/node_modules/onnxruntime-node ] || {
    ort=0
    echo "(ONNX Runtime skipped: make deps installs onnxruntime-node in tests/ort)"
}
for r in $(seq 1 "$rounds"); do
    echo "round $r/$rounds" >&2
    build/bench/bench_nn 300 >"$out/nn.$r"
    [ -x "$xnn" ] && "$xnn" -m both -r 300 >"$out/xnn.$r" 2>&1
    [ "$ort" = 1 ] && build/bench/bench_onnx --samples 0 --rounds 1 >"$out/ort.$r" 2>/dev/null
done
# best (lowest) of the rounds: hwnas min/median, XNNPACK min/median, ORT median
best() { sort -g | head -1; }
row() { # name in bench_nn, name in xnn, name in bench_onnx
    hmin=$(cat "$out"/nn.* | awk -v n="$1" '$1 == n && /latency/ { for (i = 1; i < NF; i++) if ($i == "min") print $(i + 1) }' | best)
    hmed=$(cat "$out"/nn.* | awk -v n="$1" '$1 == n && /latency/ { for (i = 1; i < NF; i++) if ($i == "median") print $(i + 1) }' | best)
    xmin=$(cat "$out"/xnn.* 2>/dev/null | awk -v n="$2" '$1 == "RESULT" && $2 == n { sub("min_ms=", "", $3); print $3 }' | best)
    xmed=$(cat "$out"/xnn.* 2>/dev/null | awk -v n="$2" '$1 == "RESULT" && $2 == n { sub("median_ms=", "", $4); print $4 }' | best)
    omed=$(cat "$out"/ort.* 2>/dev/null | awk -v n="$3" '$1 == n { print $4 / 1000 }' | best)
    hmedo=$(cat "$out"/ort.* 2>/dev/null | awk -v n="$3" '$1 == n { print $3 / 1000 }' | best)
    awk -v n="$1" -v hmin="$hmin" -v hmed="$hmed" -v xmin="${xmin:-}" -v xmed="${xmed:-}" \
        -v omed="${omed:-}" -v hmedo="${hmedo:-}" 'BEGIN {
        printf "%-18s %7.3f %7.3f", n, hmin, hmed
        if (xmin != "") printf "   %7.3f %7.3f   %5.2f %5.2f", xmin, xmed, hmin / xmin, hmed / xmed
        else printf "   %7s %7s   %5s %5s", "-", "-", "-", "-"
        if (omed != "") printf "   %7.3f %7.3f  %5.2f", hmedo, omed, hmedo / omed
        printf "\n" }'
}
echo
echo "inference, batch 1, 1 thread, ms (best of $rounds rounds)"
echo "                     hwnas            XNNPACK         hwnas/XNNPACK   hwnas(*)  ORT   hwnas/ORT"
echo "net                  min  median      min  median     min  median     median  median"
row mobilenetv3-large mobilenet_v3_large mobilenetv3-large
row mobilenetv3-small mobilenet_v3_small mobilenetv3-small
echo "(*) hwnas's median as bench_onnx times it, beside ONNX Runtime on the same exported net"
echo
echo "per op kind, summed medians inside whole passes (round 1; Large, then Small):"
grep -h 'per op in sequence' "$out"/nn.1 | sed 's/^ */  /'
grep -h 'weights streamed' "$out"/nn.1 | sed 's/^ */  /
echo
[ "$tepochs" -gt 0 ] || exit 0   # TORCH_EPOCHS 0: inference only
echo "training fmnist-ref, batch 128, 2 threads"
build/bench/bench_nn train 300 | sed 's/^/  kernels only: /'
# the whole training loop (data, augmentation, SGD) as hwnas train runs it,
# against the PyTorch script's loop: both count training images only
./hwnas train fmnist-ref --epochs "$tepochs" --threads 2 --json --quiet >"$out/train"
hw=$(awk -F: '/"img_per_s"/ { v = $2; gsub(/[ \t,]/, "", v); print v }' "$out/train" | tail -1)
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
    /usr/bin/python3 "$anchors/torch_train_fmnist.py" 2 "$tepochs" >"$out/torch" 2>&1 || true
    pt=$(awk '{ for (i = 1; i < NF; i++) if ($i == "img/s") print $(i + 1) }' "$out/torch" | tail -1)
    if [ -n "$pt" ]; then
        awk -v h="$hw" -v p="$pt" -v e="$tepochs" 'BEGIN {
            printf "  %d epoch(s): hwnas train %.0f images/s, PyTorch %.0f images/s: %.2fx\n", e, h, p, h / p }'
    else
        echo "PyTorch anchor printed no images/s:"; cat "$out/torch"
    fi
else
    echo "  hwnas train $hw images/s (PyTorch skipped: make bench-deps installs it)"
fi
