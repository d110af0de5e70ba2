#!/bin/sh
# Installs what hwnas needs, only when something is missing: Debian packages,
# then ONNX Runtime for the export check (npm, into tests/ort/node_modules).
#   install-deps.sh           the host build and its tests
#   install-deps.sh aarch64   the cross build for 64-bit ARM and qemu to test it
#   install-deps.sh anchors   the peers bench/kernels.sh compares with: XNNPACK,
#                             PyTorch (large: only for the benchmarks)
#   install-deps.sh build     what compiling needs (plain make): a quick check;
#                             as root the missing ones are installed, otherwise
#                             one line names them and make deps
set -e
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
if [ "$1" = build ]; then
    missing=""
    for p in libopenblas-dev libsqlite3-dev libcjson-dev check zlib1g-dev pkg-config \
             libonnx-dev libprotobuf-c-dev protobuf-c-compiler libopenmpi-dev; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    [ -z "$missing" ] && exit 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "hwnas: missing Debian packages:$missing; run 'sudo make deps' (installs them and the test tools), then make" >&2
        exit 1
    fi
    echo "install-deps: installing$missing"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing
    exit 0
fi
if [ "$1" = anchors ]; then
    missing=""
    for p in libxnnpack-dev libpthreadpool-dev python3-torch python3-torchvision; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    [ -z "$missing" ] && exit 0
    echo "install-deps: installing$missing"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
    exit 0
fi
if [ "$1" = aarch64 ]; then
    PKGS="gcc-aarch64-linux-gnu qemu-user libopenblas-dev:arm64 libsqlite3-dev:arm64
          libcjson-dev:arm64 check:arm64 zlib1g-dev:arm64 libprotobuf-c-dev:arm64"
    missing=""
    for p in $PKGS; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
    done
    [ -z "$missing" ] && exit 0
    echo "install-deps: installing$missing"
    dpkg --print-foreign-architectures | grep -qx arm64 || $SUDO dpkg --add-architecture arm64
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
    exit 0
fi
# chromium: tests/test_report.c opens the run report headless.
PKGS="libopenblas-dev libsqlite3-dev libcjson-dev check zlib1g-dev pkg-config dataset-fashion-mnist
      libonnx-dev libprotobuf-c-dev protobuf-c-compiler python3-onnx libopenmpi-dev openmpi-bin
      chromium"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# Node may come from elsewhere (nodesource's nodejs bundles npm and conflicts
# with Debian's npm): only a missing command is installed, node first.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
if [ -n "$missing" ]; then
    echo "install-deps: installing$missing"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "install-deps: installing npm"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q npm
fi
# onnxruntime-node's install script fetches optional GPU parts from a host
# that may be unreachable; the CPU library ships inside the package. The
# version is the one tests/ort/package.json pins (reinstalled when it moves).
ORT="$(dirname "$0")/../tests/ort"
want=$(sed -n 's/.*"onnxruntime-node": *"\([^"]*\)".*/\1/p' "$ORT/package.json")
have=$(sed -n 's/^  "version": *"\([^"]*\)".*/\1/p' "$ORT/node_modules/onnxruntime-node/package.json" 2>/dev/null || true)
if [ "$want" != "$have" ]; then
    echo "install-deps: installing onnxruntime-node $want into tests/ort"
    (cd "$ORT" && npm ci --ignore-scripts --no-audit --no-fund)
fi
