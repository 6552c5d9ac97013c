#!/bin/bash
# p1.sh NAME INDEX GALLERY [INGEST_PORT GATEWAY_PORT] : fresh DB + prefix, seed, ingest, broker
# anchor, closed-loop run, stage metrics, and the CPU each process spent per accepted face.
# LOADGEN_ARGS are added to `ffsec-loadgen run` (e.g. --reqwest-form); CONCURRENCY sets its requests in flight (64).
# PERF=1 also records `perf record -g` of ingest and of the load generator (/tmp/bench/NAME.*.perf).
set -e
cd "$(dirname "$0")/../.."
name=$1; index=$2; gallery=$3; iport=${4:-18391}; gport=${5:-18392}
B=${B:-target/release}
source scripts/bench/prepare.sh
prepare_run
start_service facerouter-ingest ingest; ING=$started
trap "kill $ING 2>/dev/null || true" EXIT
echo "ingest pid $ING"
wait_loaded
$B/ffsec-loadgen broker --count 100000
# CPU seconds (user + system) of a pid: the difference over the run is its share, which other load
# on a shared machine inflates far less than it deflates throughput.
cpu() { awk -v t=$(getconf CLK_TCK) '{printf "%.2f", ($14+$15)/t}' /proc/$1/stat 2>/dev/null || echo 0; }
# Busy seconds of the whole machine (kernel threads such as jbd2 included; other users too).
busy() { awk -v t=$(getconf CLK_TCK) '/^cpu / {printf "%.2f", ($2+$3+$4+$7+$8)/t}' /proc/stat; }
BEAM=$(pgrep -o beam.smp || true)
(sleep 10; top -b -n1 -w 160 | head -14 > /tmp/bench/$name.top) & T=$!
i0=$(cpu $ING); r0=$(cpu ${BEAM:-0}); m0=$(busy)
$B/ffsec-loadgen run --url http://127.0.0.1:$iport/video-detector/frame/ --token bench-token \
    --cameras 1,2,3,4,5,6,7,8,9,10 --seconds 20 --concurrency ${CONCURRENCY:-64} --gallery $gallery --match-ratio 0.2 \
    ${LOADGEN_ARGS:-} > /tmp/bench/$name.run & L=$!
if [ "${PERF:-}" = 1 ]; then
  sleep 4
  perf record -F 499 -g -o /tmp/bench/$name.ingest.perf -p $ING -- sleep 10 2>/dev/null & P1=$!
  perf record -F 499 -g -o /tmp/bench/$name.loadgen.perf -p $L -- sleep 10 2>/dev/null & P2=$!
fi
# The load generator's last sample before it exits (a zombie reads as 0, so keep the largest).
l1=0; while kill -0 $L 2>/dev/null; do c=$(cpu $L); l1=$(echo "if ($c > $l1) $c else $l1" | bc); sleep 0.2; done
wait $L; cat /tmp/bench/$name.run
i1=$(cpu $ING); r1=$(cpu ${BEAM:-0}); m1=$(busy); wait $T ${P1:-} ${P2:-}
accepted=$(awk '/^accepted:/ {print $2}' /tmp/bench/$name.run)
awk -v n=$accepted -v i=$(echo "$i1 - $i0" | bc) -v l=$l1 -v r=$(echo "$r1 - $r0" | bc) -v m=$(echo "$m1 - $m0" | bc) 'BEGIN {
  printf "cpu s during run: ingest %.1f loadgen %.1f rabbitmq %.1f; per accepted face: ingest %.0f us, loadgen %.0f us, rabbitmq %.0f us, these three %.0f us, whole machine %.0f us\n",
    i, l, r, i/n*1e6, l/n*1e6, r/n*1e6, (i+l+r)/n*1e6, m/n*1e6 }'
$B/ffsec-loadgen broker --count 100000
uptime
curl -s http://127.0.0.1:$iport/metrics | grep -E 'ffsec_ingest_(stage_seconds|search_batch_size|publish_batch_size)_(sum|count)'
kill $ING; wait $ING || true
