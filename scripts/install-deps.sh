#!/bin/sh
# Installs the Debian packages hwnas needs, only when one is missing.
set -e
PKGS="libopenblas-dev libsqlite3-dev libcjson-dev check zlib1g-dev pkg-config dataset-fashion-mnist"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $missing
