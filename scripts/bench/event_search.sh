#!/bin/bash
# event_search.sh [EVENTS]: `looks_like` on GET /events/faces/ over EVENTS (default 1M) stored
# events with vectors, through a release gateway-api (docs/benchmarks.md, "Event search").
# Seeds a fresh database, starts gateway-api, waits for its event index to load, then times
# 200 searches without and with other filters, and reports the gateway's resident memory next
# to an idle one with EVENT_SEARCH.KEEP_VECTORS = "none".
set -euo pipefail
cd "$(dirname "$0")/../.."
B=target/release
events=${1:-1000000}
name=evsearch; iport=18511; gport=18512
scripts/bench/mkconf.sh $name flat $iport $gport >/dev/null
db=postgres://postgres@127.0.0.1:5432/ffsec_bench_$name
$B/gateway-api --config /tmp/bench/$name.toml migrate
$B/ffsec-loadgen seed-events --database-url $db --count "$events" --days 10 --cameras 20
probes=$($B/ffsec-loadgen seed-event-vectors --database-url $db --probes 200 | tee /dev/stderr | awk '/^probe dossier faces/ {print $4}')
first=${probes%%..=*}; last=${probes##*..=}

rss() { awk '/^VmRSS/ {print $2 / 1024 " MiB"}' /proc/$1/status; }
uptime
started_at=$(date +%s.%N)
$B/gateway-api --config /tmp/bench/$name.toml > /tmp/bench/$name.gateway.log 2>&1 &
gw=$!
trap 'kill $gw 2>/dev/null || true' EXIT
for _ in $(seq 600); do
  grep -q 'event search index load done' /tmp/bench/$name.gateway.log && break; sleep 0.5
done
grep 'event search index load done' /tmp/bench/$name.gateway.log | tail -1
echo "gateway-api with the index loaded: $(rss $gw) resident (started $(echo "$(date +%s.%N) - $started_at" | bc) s ago)"
export ADMIN_PASSWORD=bench-admin-pw
base=http://127.0.0.1:$gport
$B/ffsec-loadgen event-search --base $base --first "$first" --last "$last"
$B/ffsec-loadgen event-search --base $base --first "$first" --last "$last" --extra '&cameras=3'
$B/ffsec-loadgen event-search --base $base --first "$first" --last "$last" \
  --extra "&created_date_gte=$(date -u -d '3 days ago' +%Y-%m-%dT%H:%M:%SZ)&matched=false"
echo "gateway-api after the searches: $(rss $gw) resident"
# looks_like on dossiers, the same probes over 100k seeded dossier faces. The seed writes to
# PostgreSQL behind gateway-api's back (no gallery notices), so the gateway is restarted to load
# them into its dossier index.
$B/ffsec-loadgen seed --database-url $db --cameras 1 --faces 100000 >/dev/null
kill $gw; wait $gw 2>/dev/null || true
$B/gateway-api --config /tmp/bench/$name.toml > /tmp/bench/$name.gateway-dossiers.log 2>&1 &
gw=$!
for _ in $(seq 600); do
  grep -q 'dossier search index loaded' /tmp/bench/$name.gateway-dossiers.log && break; sleep 0.5
done
grep 'dossier search index loaded' /tmp/bench/$name.gateway-dossiers.log | tail -1
$B/ffsec-loadgen event-search --base $base --first "$first" --last "$((first + 49))" --path /dossiers/
kill $gw; wait $gw 2>/dev/null || true

# The same gateway without event search, for the memory the index costs.
sed -i 's/^\[LOGGING\]/[EVENT_SEARCH]\nKEEP_VECTORS = "none"\n[LOGGING]/' /tmp/bench/$name.toml
$B/gateway-api --config /tmp/bench/$name.toml > /tmp/bench/$name.gateway-none.log 2>&1 &
gw=$!
for _ in $(seq 120); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' $base/health)" = 200 ] && break; sleep 0.5
done
echo "gateway-api with KEEP_VECTORS = none: $(rss $gw) resident"
uptime
