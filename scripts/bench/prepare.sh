# Sourced by p1.sh and live.sh: one benchmark run's fresh database and bus prefix, seeded, with
# the services started and their gallery loaded. Needs name, index, gallery, iport, gport and B.

# Writes /tmp/bench/$name.toml, migrates a fresh database and seeds $CAMERAS cameras (default 10, ids
# 1..N in the fresh database) and $gallery faces.
prepare_run() {
  drop_bench_queues
  scripts/bench/mkconf.sh "$name" "$index" "$iport" "$gport" >/dev/null
  uptime
  $B/gateway-api --config /tmp/bench/$name.toml migrate
  $B/ffsec-loadgen seed --database-url postgres://postgres@127.0.0.1:5432/ffsec_bench_$name \
    --cameras "${CAMERAS:-10}" --faces "$gallery"
}

# Starts `$1` (a service binary) in the background, logging to /tmp/bench/$name.$2.log; its pid
# is left in $started.
start_service() {
  $B/$1 --config /tmp/bench/$name.toml > /tmp/bench/$name.$2.log 2>&1 &
  started=$!
}

# Waits (up to 2 minutes) until ingest holds the whole gallery, and gateway-api, when $gport is
# served by one ($1 = "gateway"), answers /health.
wait_loaded() {
  local n h=200
  for _ in $(seq 120); do
    n=$(curl -s http://127.0.0.1:$iport/metrics | awk '/^ffsec_ingest_gallery_faces/ {print $2}')
    [ "$1" = gateway ] && h=$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$gport/health)
    [ "$n" = "$gallery" ] && [ "$h" = 200 ] && break; sleep 1
  done
  echo "gallery loaded: $n faces${1:+; gateway health $h}"
}

# Deletes the durable queues earlier runs left (their recorder and webhook queues keep every event
# with no consumer, and a broker holding 180k persisted messages ran at half its rate). Runs are
# serialised by /tmp/ffsec-bench.lock, so no other run is using them.
drop_bench_queues() {
  rabbitmqctl list_queues -q name 2>/dev/null | grep -E '^bench_' | xargs -r -P 4 -n 1 rabbitmqctl delete_queue -q >/dev/null 2>&1 || true
}
