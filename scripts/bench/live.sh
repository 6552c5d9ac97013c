#!/bin/bash
# live.sh NAME INDEX GALLERY MODE : gateway-api + ingest on a fresh DB/prefix, then
#   MODE=p2: 1 unfiltered client, ingest at 1000/s
#   MODE=p5: closed-loop P1 run without, then with 1000 filtered clients (FILTERS env), then without again
# CAMERAS=N (default 10): cameras seeded and posted from, faces spread evenly over them.
set -e
cd "$(dirname "$0")/../.."
name=$1; index=$2; gallery=$3; mode=$4; iport=18491; gport=18492
B=${B:-target/release}
export ADMIN_PASSWORD=bench-admin-pw
source scripts/bench/prepare.sh
prepare_run
start_service gateway-api gw; GW=$started
start_service facerouter-ingest ingest; ING=$started
trap "kill $GW $ING 2>/dev/null || true" EXIT
echo "gateway pid $GW ingest pid $ING"
wait_loaded gateway
# CPU seconds (user + system) used so far by gateway-api and ingest: their share of a run is the
# difference, which other load on a shared machine does not inflate the way it does throughput.
cpu() { for p in $GW $ING $L; do [ -e /proc/$p/stat ] && awk -v t=$(getconf CLK_TCK) '{printf "%.2f ", ($14+$15)/t}' /proc/$p/stat; done; true; }
cpu_run() { a=($(cpu)); $RUN "$@"; b=($(cpu)); echo "cpu s during run: gateway-api $(echo "${b[0]} - ${a[0]}" | bc) ingest $(echo "${b[1]} - ${a[1]}" | bc)${b[2]:+ live clients $(echo "${b[2]} - ${a[2]}" | bc)}"; }
RUN="$B/ffsec-loadgen run --url http://127.0.0.1:$iport/video-detector/frame/ --token bench-token --cameras $(seq -s, ${CAMERAS:-10}) --gallery $gallery --match-ratio 0.2"
$B/ffsec-loadgen broker --count 100000
if [ "$mode" = p2 ]; then
  $B/ffsec-loadgen live --addr 127.0.0.1:$gport --clients 1 --seconds 30 &
  L=$!; sleep 2
  cpu_run --rate 1000 --seconds 25
  wait $L
else
  cpu_run --seconds 20 --concurrency 64
  # P5_ROUNDS=N: N rounds of (with clients, without), so that the drop is a mean over several
  # phases rather than one pair: on a shared two-core host one 20 s phase swings by ±10 %.
  for round in $(seq ${P5_ROUNDS:-1}); do
    sleep 3
    # LIVE_NICE=19 runs the clients at the lowest CPU priority: on a shared two-core host that is
    # the nearest to clients on machines of their own (they read late, but read everything).
    # LIVE_IDLE=1 runs them under SCHED_IDLE instead: they get only CPU time nothing else wants.
    sched=(nice -n ${LIVE_NICE:-0}); [ -n "$LIVE_IDLE" ] && sched=(chrt --idle 0)
    "${sched[@]}" $B/ffsec-loadgen live --addr 127.0.0.1:$gport --clients 1000 --seconds ${LIVE_SECONDS:-45} --filters "$FILTERS" &
    L=$!
    for i in $(seq 60); do c=$(curl -s http://127.0.0.1:$gport/metrics | awk '/^ffsec_websocket_clients/ {print $2}'); [ "$c" = 1000 ] && break; sleep 1; done
    echo "websocket clients: $c"; sleep 2
    (sleep 10; top -b -n1 -w 160 | head -14 > /tmp/bench/$name.top) &
    # PERF=1: a 15 s CPU profile of gateway-api while the clients are on.
    [ -n "$PERF" ] && [ $round = 1 ] && (sleep 2; perf record -F ${PERF_HZ:-199} -p $GW -o /tmp/bench/$name.perf.data -- sleep 15 >/tmp/bench/$name.perf.log 2>&1) &
    cpu_run --seconds 20 --concurrency 64
    wait $L
    sleep 3
    cpu_run --seconds 20 --concurrency 64
  done
fi
$B/ffsec-loadgen broker --count 100000
uptime
curl -s http://127.0.0.1:$iport/metrics | grep -E 'ffsec_ingest_stage_seconds_(sum|count)'
curl -s http://127.0.0.1:$gport/metrics | grep -E "recorder_batch_seconds_(sum|count)|recorder_events_total|websocket|event_age_seconds"
