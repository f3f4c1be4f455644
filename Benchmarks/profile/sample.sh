#!/bin/bash
# Samples the main thread's stack of a running process with gdb, every INTERVAL_US
# (default 10,000) µs of its CPU time (ITIMER_PROF; see gdb-sample.py).
#   Benchmarks/profile/sample.sh PID SAMPLES OUT.txt
# then: python3 Benchmarks/profile/analyze.py OUT.txt
# The process pauses for a few ms per sample; shares of CPU time, not absolute times, are
# what this gives (and timings the process makes meanwhile are void).
set -eu
pid=$1; samples=$2; out=$3
here=$(cd "$(dirname "$0")" && pwd)
SAMPLES=$samples OUT=$out gdb -p "$pid" -batch -x "$here/gdb-sample.py" > "$out.gdb.log" 2>&1 || true
echo "$(grep -vc '^#' "$out") samples in $out"
