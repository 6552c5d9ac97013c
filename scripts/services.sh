# Sourced by up.sh and test.sh: make sure PostgreSQL and RabbitMQ run on their default local ports,
# installing and starting them when they do not. Idempotent: a running service is left alone.

PG_HOST=${PG_HOST:-127.0.0.1}
AMQP_PORT=${AMQP_PORT:-5672}

log() { printf '[ffsec] %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

apt_install() {
  if [ "$(id -u)" -ne 0 ]; then
    log "need to install $*: run as root or install them yourself"
    return 1
  fi
  log "installing $* from Debian's packages"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_postgres() {
  if pg_isready -q -h "$PG_HOST" 2>/dev/null; then return 0; fi
  command -v pg_ctlcluster >/dev/null 2>&1 || apt_install postgresql postgresql-client || return 1
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  log "starting PostgreSQL $version"
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 60); do
    pg_isready -q -h "$PG_HOST" && return 0
    sleep 0.5
  done
  log "PostgreSQL did not come up on $PG_HOST:5432"
  return 1
}

ensure_rabbitmq() {
  if port_open 127.0.0.1 "$AMQP_PORT" && rabbitmqctl -q status >/dev/null 2>&1; then return 0; fi
  command -v rabbitmq-server >/dev/null 2>&1 || apt_install rabbitmq-server || return 1
  if ! port_open 127.0.0.1 "$AMQP_PORT"; then
    log "starting RabbitMQ"
    rabbitmq-server -detached >/dev/null 2>&1 || true
  fi
  # await_startup fails while the node is still booting, so poll it.
  for _ in $(seq 1 120); do
    if rabbitmqctl -q await_startup >/dev/null 2>&1 && port_open 127.0.0.1 "$AMQP_PORT"; then return 0; fi
    sleep 1
  done
  log "RabbitMQ did not come up on 127.0.0.1:$AMQP_PORT"
  return 1
}

ensure_rust() {
  if command -v cargo >/dev/null 2>&1; then return 0; fi
  if [ -x "$HOME/.cargo/bin/cargo" ]; then export PATH="$HOME/.cargo/bin:$PATH"; return 0; fi
  log "cargo not found: install Rust (rustup) first"
  return 1
}

# Validators of the deployment files (tests/e2e/deploy_files.rs), which run without a Docker
# engine or a cluster: Debian's docker-compose (v1, `config` needs no engine), systemd-analyze and
# kubernetes-validate from PyPI (it bundles the Kubernetes API schemas, so it runs offline).
ensure_deploy_validators() {
  local missing=()
  command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
  command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
  if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}" || return 1; fi
  if ! command -v kubernetes-validate >/dev/null 2>&1; then
    log "installing kubernetes-validate (pip install kubernetes-validate)"
    python3 -m pip install --quiet kubernetes-validate || return 1
    command -v pyenv >/dev/null 2>&1 && pyenv rehash
  fi
  return 0
}

# The console's browser test (tests/e2e/console.rs): Debian's Chromium, driven by playwright-core
# from the npm registry at the version tests/browser/package-lock.json pins. Playwright's own
# browser download is never used (the machine may have no internet beyond the registries).
ensure_browser_test() {
  if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" -ne 0 ]; then
      log "need Debian's chromium for the console test: run as root or install it yourself"
      return 1
    fi
    log "installing chromium from Debian's packages"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null || return 1
  fi
  command -v npm >/dev/null 2>&1 || apt_install nodejs npm || return 1
  local dir
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/browser"
  if [ ! -f "$dir/node_modules/playwright-core/package.json" ] ||
     ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.ffsec-installed-lock" 2>/dev/null; then
    log "installing the console test's npm packages (npm ci in tests/browser)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error && cp package-lock.json node_modules/.ffsec-installed-lock) || return 1
  fi
  return 0
}
