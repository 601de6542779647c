# The helmdeck image: `helmdeck backup run` in a Kubernetes CronJob (`helmdeck backup
# schedule`), or any other command. Multi-stage: built with the Rust toolchain, run on Debian
# slim as a non-root user (uid 10001, as the CronJob's securityContext expects).
#
#   docker build -t registry.example/helmdeck:0.1.0 .
#
# Not built in helmdeck's own CI: there is no container engine where its tests run (see
# README, "What is verified against the real thing").

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS builder
# librdkafka (built by rdkafka-sys) and libgit2/libssh2 link OpenSSL and zlib.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      pkg-config libssl-dev zlib1g-dev cmake \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin helmdeck \
 && install -m 0755 target/release/helmdeck /usr/local/bin/helmdeck

FROM debian:${DEBIAN_RELEASE}-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libssl3 zlib1g \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 10001 helmdeck \
 && useradd --uid 10001 --gid 10001 --home-dir /home/helmdeck --create-home \
      --shell /usr/sbin/nologin helmdeck
COPY --from=builder /usr/local/bin/helmdeck /usr/local/bin/helmdeck
USER 10001:10001
ENV HOME=/home/helmdeck
WORKDIR /home/helmdeck
ENTRYPOINT ["helmdeck"]
CMD ["--help"]
