#!/bin/sh
# make fuzz-run: runs each libFuzzer target for SECONDS from a fresh copy of
# its committed seeds (tests/fuzz/corpus/<name>; new units go to the copy in
# build/fuzz/run, never to the committed folder), with leak detection on and
# UBSan fatal. Prints each target's executions and coverage; exits 1 when any
# target reported a crash, leak, timeout, out-of-memory or sanitizer error
# (its log and the input that did it stay in build/fuzz/run).
# usage: sh tests/fuzz/run.sh SECONDS build/fuzz/fuzz_NAME...
set -u
export LC_ALL=C # the logs quote raw input bytes
secs=$1
shift
work=build/fuzz/run
rm -rf "$work"
mkdir -p "$work/artifacts"
failed=0
# the value after " NAME " in a libFuzzer status line
field() { echo "$1" | sed -n "s/.* $2 \([^ ]*\).*/\1/p"; }
table="target           result  executions  exec/s  cov (seeds -> end)  ft (seeds -> end)  corpus"
for bin in "$@"; do
    name=${bin##*/fuzz_}
    corpus=$work/corpus/$name
    log=$work/$name.log
    mkdir -p "$corpus"
    cp tests/fuzz/corpus/"$name"/* "$corpus"/ || exit 1
    echo "== fuzz_$name: $secs s from $(ls "$corpus" | wc -l) seeds"
    ASAN_OPTIONS=detect_leaks=1 \
        UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
        OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 \
        "$bin" -max_total_time="$secs" -print_final_stats=1 -detect_leaks=1 -timeout=30 \
        -artifact_prefix="$work/artifacts/$name-" "$corpus" >"$log" 2>&1
    rc=$?
    result=ok
    if [ $rc -ne 0 ] || grep -q -e 'ERROR: ' -e 'runtime error: ' "$log"; then
        result=FAILED
        failed=1
        tail -n 40 "$log"
        echo "fuzz_$name: FAILED (exit $rc); log $log, input in $work/artifacts/"
    fi
    # "#N INITED cov: C ft: F corp: ..." after the seeds, "#N DONE ..." at the end
    # (the last status line when the run was cut short).
    first=$(grep -m1 'INITED cov:' "$log")
    last=$(grep "^#[0-9]" "$log" | grep " cov: " | tail -n 1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    row=$(printf '%-16s %-7s %10s %7s  %7s -> %-7s  %7s -> %-7s  %s' "fuzz_$name" "$result" \
        "${execs:-?}" "${rate:-?}" "$(field "$first" cov:)" "$(field "$last" cov:)" \
        "$(field "$first" ft:)" "$(field "$last" ft:)" "$(field "$last" corp:)")
    echo "$row"
    table="$table
$row"
done
echo
echo "$table"
exit $failed
