#!/bin/sh
# A/B of two hwnas binaries' latency tables on this machine: each profiles a
# space into its own database, then the NEW binary validates both tables
# alternately, seed by seed, so the machine's drift hits both alike. With
# OWN=1 each binary validates its own table instead (for a change in what is
# measured, such as the timing statistic).
#   OLD=path/to/old/hwnas NEW=./hwnas sh bench/profile_ab.sh [SPACE] [SAMPLES] ["SEEDS"]
# (defaults: fmnist, 100, "11 12"). Databases go to $DIR (default ./profile-ab).
set -e
OLD=${OLD:?set OLD to the baseline hwnas binary}
NEW=${NEW:-./hwnas}
DIR=${DIR:-profile-ab}
sp=${1:-fmnist}
n=${2:-100}
seeds=${3:-"11 12"}
mkdir -p "$DIR"
for v in old new; do
    rm -f "$DIR/$v-$sp.db" "$DIR/$v-$sp.db-wal" "$DIR/$v-$sp.db-shm"
done
echo "== profile old ($(date +%H:%M:%S))"
$OLD profile --space "$sp" --db "$DIR/old-$sp.db" | tail -2
echo "== profile new ($(date +%H:%M:%S))"
$NEW profile --space "$sp" --db "$DIR/new-$sp.db" | tail -2
for s in $seeds; do
    for v in old new; do
        bin=$NEW
        [ "${OWN:-0}" = 1 ] && [ $v = old ] && bin=$OLD
        echo "== validate $v, seed $s ($bin)"
        $bin validate --space "$sp" --samples "$n" --seed "$s" --db "$DIR/$v-$sp.db" | sed -n 2,5p
    done
done
