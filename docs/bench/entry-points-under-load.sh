#!/usr/bin/env bash
# The U-Net step time of `java -jar` against what ./daguerre runs (OMP_WAIT_POLICY=PASSIVE), under
# a competing load of two busy loops, alternating in one run so that both see the same machine.
#   docs/bench/entry-points-under-load.sh JAR [JAR ...]   (e.g. a jar built before a change, then after)
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 JAR [JAR ...]" >&2; exit 2; }
sh -c 'while :; do :; done' & load1=$!
sh -c 'while :; do :; done' & load2=$!
trap 'kill $load1 $load2' EXIT
bench() { "$@" bench --random tiny --size 32 --repeats 3 --warmups 1 --image-steps 5 2>/dev/null \
    | grep -E '^(omp_wait_policy|threads|default\.unet_step_s\.64) ' | tr '\n' ' '; echo; }
for round in 1 2; do
  for jar in "$@"; do
    echo "round $round $jar java -jar:   $(bench env -u OMP_WAIT_POLICY java -jar "$jar")"
    echo "round $round $jar ./daguerre: $(bench env OMP_WAIT_POLICY=PASSIVE java -jar "$jar")"
  done
done
