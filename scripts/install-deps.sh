#!/bin/sh
# Installs what hwnas needs, only when something is missing: Debian packages,
# then ONNX Runtime for the export check (npm, into tests/ort/node_modules).
set -e
PKGS="libopenblas-dev libsqlite3-dev libcjson-dev check zlib1g-dev pkg-config dataset-fashion-mnist
      libonnx-dev libprotobuf-c-dev protobuf-c-compiler python3-onnx"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# Node may come from elsewhere (nodesource bundles npm): only a missing command is installed.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
if [ -n "$missing" ]; then
    echo "install-deps: installing$missing"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
fi
# onnxruntime-node's install script fetches optional GPU parts from a host
# that may be unreachable; the CPU library ships inside the package.
if [ ! -f tests/ort/node_modules/onnxruntime-node/package.json ]; then
    echo "install-deps: installing onnxruntime-node into tests/ort"
    (cd tests/ort && npm ci --ignore-scripts --no-audit --no-fund)
fi
