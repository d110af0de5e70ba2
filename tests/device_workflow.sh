#!/bin/sh
# The device workflow of issue 34, end to end, with an emulated aarch64 hwnas
# standing in for the board (make check-aarch64 runs it):
#   on the device: hwnas profile, hwnas lut export
#   at home:       hwnas lut import, then latency and search with --device;
#                  measuring into the device's table here is refused, naming
#                  the fingerprint part that differs.
# usage: device_workflow.sh HOME_HWNAS "DEVICE_RUNNER" DEVICE_HWNAS
# Latencies under emulation mean nothing; only the workflow is checked.
set -eu
HOME_BIN=$1
DEV="$2 $3"
work=$(mktemp -d /tmp/hwnas-device-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail() {
    echo "device workflow: $*" >&2
    exit 1
}
cat > "$work/space.json" <<'EOF'
{"version":1,"name":"device-check","input":{"h":28,"w":28,"c":1},"classes":10,
 "stem":{"k":3,"stride":2,"out":8,"act":"relu"},
 "head":{"conv_out":32,"conv_act":"hswish","fc_hidden":0,"fc_act":"relu","dropout":0},
 "blocks":[{"stride":2,"width":16,"kernel":[3,5],"expansion":[1,2],"se":[0,1],
            "act":["relu","hswish"],"layers":[1],"width_mult":[1.0]}]}
EOF

# --- on the device
$DEV profile --space "$work/space.json" --runs 1 --warmup 0 --rounds 1 --calib-samples 0 \
    --db "$work/dev.db" --quiet > "$work/profile.out" 2>&1 || { cat "$work/profile.out"; fail "profile"; }
$DEV lut list --db "$work/dev.db" > "$work/devlist.out"
grep -q "aarch64" "$work/devlist.out" || fail "the device's fingerprint lacks aarch64: $(cat "$work/devlist.out")"
$DEV lut export --out "$work/dev-lut.json" --db "$work/dev.db" --quiet

# --- at home
$HOME_BIN lut import "$work/dev-lut.json" --db "$work/home.db" --quiet
id=$($HOME_BIN lut list --db "$work/home.db" | awk '$1 ~ /^[0-9]+$/ && /aarch64/ { print $1 }')
[ -n "$id" ] || fail "the imported device is not listed"
$HOME_BIN space sample "$work/space.json" --seed 3 > "$work/arch.json"
$HOME_BIN latency "$work/arch.json" --device "$id" --db "$work/home.db" --json > "$work/lat.json"
grep -q '"predicted_us"' "$work/lat.json" || fail "no prediction from the device's table"
grep -q "\"device\":[[:space:]]*$id," "$work/lat.json" || fail "the prediction is not the device's"
if $HOME_BIN latency "$work/arch.json" --device "$id" --measure --db "$work/home.db" \
    > "$work/refused.out" 2>&1; then
    fail "measuring into the aarch64 table on this machine was allowed"
fi
grep -q "architecture: table has 'aarch64'" "$work/refused.out" ||
    fail "refusal does not name the architecture: $(cat "$work/refused.out")"
$HOME_BIN search --space "$work/space.json" --device "$id" --target-ms 1000 --trials 2 \
    --proxy-epochs 1 --proxy-subset 256 --proxy-val 256 --db "$work/home.db" --name dev1 \
    --quiet > "$work/search.out" 2>&1 || { cat "$work/search.out"; fail "search --device"; }
$HOME_BIN runs show dev1 --db "$work/home.db" > "$work/show.out"
grep -q "device $id" "$work/show.out" || fail "the run does not use device $id: $(head -5 "$work/show.out")"
echo "device workflow: profiled on aarch64 (emulated), imported as device $id, predicted, searched; measuring refused ok"
