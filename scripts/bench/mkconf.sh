#!/bin/bash
# mkconf.sh NAME INDEX INGEST_PORT GATEWAY_PORT -> /tmp/bench/NAME.toml, fresh DB ffsec_bench_NAME
# EXTRA_TOML (optional) is appended, e.g. EXTRA_TOML=$'[EVENT_SEARCH]\nKEEP_VECTORS = "none"'.
# MEDIA_LAYOUT (optional) sets FACEROUTER.MEDIA_LAYOUT ("files", the default, or "packs").
# INGEST_WORKERS (optional) sets INGEST.workers (default 2).
# PREFETCH and RECORDER_PREFETCH (optional) set RABBITMQ.PREFETCH (default 64) and RECORDER_PREFETCH (1024).
set -e
mkdir -p /tmp/bench
name=$1; index=$2; iport=$3; gport=$4
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS ffsec_bench_$name" 
psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE ffsec_bench_$name"
rm -rf /tmp/bench/media_$name; mkdir -p /tmp/bench/media_$name
cat > /tmp/bench/$name.toml <<T
MEDIA_ROOT = "/tmp/bench/media_$name"
[DATABASES.default]
NAME = "ffsec_bench_$name"
[FFSECURITY]
VIDEO_DETECTOR_TOKEN = "bench-token"
EXTERNAL_ADDRESS = "http://127.0.0.1:$gport"
[INGEST]
workers = ${INGEST_WORKERS:-2}
port = $iport
[SERVER]
workers = 2
port = $gport
[RABBITMQ]
PREFIX = "bench_$name"
PREFETCH = ${PREFETCH:-64}
RECORDER_PREFETCH = ${RECORDER_PREFETCH:-1024}
[AUTH]
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "bench-admin-pw"
[LOGGING]
LEVEL = "warn,facerouter_ingest=info,gateway_api=info"
[FACEROUTER]
GALLERY_INDEX = "$index"
MEDIA_LAYOUT = "${MEDIA_LAYOUT:-files}"
T
[ -n "${EXTRA_TOML:-}" ] && printf '%s\n' "$EXTRA_TOML" >> /tmp/bench/$name.toml
echo /tmp/bench/$name.toml
