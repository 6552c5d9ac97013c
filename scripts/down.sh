#!/usr/bin/env bash
# Stops the services scripts/up.sh started (PostgreSQL and RabbitMQ are left running).
set -euo pipefail
cd "$(dirname "$0")/.."
for service in gateway-api facerouter-ingest webhook-dispatcher; do
  pidfile=".ffsec/$service.pid"
  [ -f "$pidfile" ] || continue
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid"
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    echo "stopped $service"
  fi
  rm -f "$pidfile"
done
