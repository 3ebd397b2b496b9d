# syntax=docker/dockerfile:1
#
# Rotor's container image, in three stages:
#
#   builder  the Rust toolchain: builds `rotor` in release and the example
#            plugins for wasm32-wasip2;
#   plugins  the built plugins alone in /plugins, on a small base with a
#            shell and `cp`, for an init container that fills a volume
#            (docker build --target plugins -t rotor-plugins .);
#   runtime  (the default) the binary, the plugins in /plugins and a default
#            config, run as an unprivileged user.
#
#   docker build -t rotor .
#   docker run --rm -p 10001:10001 -p 9901:9901 \
#       -e ROTOR_PROXY_SECRET=… -e ROTOR_ADMIN_TOKEN=… -e ROTOR_JWT_SECRET=… rotor
#
# Mount your own plugins over /plugins and your own config over
# /etc/rotor/rotor.toml (or pass `serve --config <path>`).

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=trixie

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
WORKDIR /src
RUN rustup target add wasm32-wasip2
COPY . .
# The cache mounts keep the crate registry and the build directory between
# builds; the results are copied out of target/ inside the same step, since
# a cache mount is not part of the image. Test fixtures (test-*.wasm)
# misbehave on purpose and, like the benchmark's (bench-*.wasm), stay out
# of the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin rotor \
 && scripts/build-plugins \
 && mkdir -p /out/plugins \
 && cp target/release/rotor /out/rotor \
 && cp plugins/dist/*.wasm /out/plugins/ \
 && rm -f /out/plugins/test-*.wasm /out/plugins/bench-*.wasm

FROM busybox:stable AS plugins
COPY --from=builder /out/plugins/ /plugins/

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# ca-certificates: for an https:// Centrifugo API. curl: for the health check
# below and for operators calling the admin endpoints from inside the
# container (`docker compose exec rotor curl …`).
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 rotor \
 && useradd --system --uid 10001 --gid rotor --no-create-home --home-dir /nonexistent rotor
COPY --from=builder /out/rotor /usr/local/bin/rotor
COPY --from=builder /out/plugins/ /plugins/
COPY deploy/docker/rotor.toml /etc/rotor/rotor.toml
# A numeric user, so Kubernetes can check `runAsNonRoot` without a passwd lookup.
USER 10001:10001
# 10001: the gRPC proxy Centrifugo calls (and grpc.health.v1.Health).
# 9901: the admin listener (/healthz, /readyz, /metrics, /admin/*).
EXPOSE 10001 9901
ENV RUST_LOG=rotor=info
# Liveness for `docker run` and compose; Kubernetes uses its own probes.
# The admin listener comes up after every plugin has compiled, hence the
# start period.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["curl", "--fail", "--silent", "--output", "/dev/null", "http://127.0.0.1:9901/readyz"]
ENTRYPOINT ["rotor"]
CMD ["serve", "--config", "/etc/rotor/rotor.toml"]
