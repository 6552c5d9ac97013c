#!/bin/bash
# p1.sh NAME INDEX GALLERY : fresh DB + prefix, seed, ingest, broker anchor, closed-loop run, stage metrics
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
(sleep 10; top -b -n1 -w 160 | head -14 > /tmp/bench/$name.top) &
$B/ffsec-loadgen run --url http://127.0.0.1:$iport/video-detector/frame/ --token bench-token \
    --cameras 1,2,3,4,5,6,7,8,9,10 --seconds 20 --concurrency 64 --gallery $gallery --match-ratio 0.2
$B/ffsec-loadgen broker --count 100000
uptime
curl -s http://127.0.0.1:$iport/metrics | grep -E 'ffsec_ingest_(stage_seconds|search_batch_size)_(sum|count)'
kill $ING; wait $ING || true
