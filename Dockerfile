# syntax=docker/dockerfile:1
# api2mcp in a container: built with the Rust image, run as a non-root user on a slim Debian base.
#   docker build -t api2mcp .
#   docker run --rm --network host -e API2MCP_LISTEN=127.0.0.1:8080 -v "$PWD/examples/petstore:/config:ro" api2mcp
# The configuration is read from /config/api2mcp.yaml (mount it, or bake it in with a derived image);
# every option can also come from the environment (API2MCP_CONFIG, API2MCP_SPEC, API2MCP_LISTEN, ...).
#
# Base images are pinned by digest (the tag says which release it is; the digest is what is pulled).
# Refresh both together: docker buildx imagetools inspect rust:1.91-slim-bookworm (and debian:bookworm-slim).
# Both can be replaced at build time (--build-arg RUST_IMAGE=... --build-arg RUNTIME_IMAGE=...), e.g. by the
# local stand-ins bench/image-bases makes where no registry is reachable; the defaults stay the pinned ones.
ARG RUST_IMAGE=rust:1.91-slim-bookworm@sha256:8514999d4786ef12efe89239e86b3d0a021b94b9d35108c8efe6c79ca7dc1a65
ARG RUNTIME_IMAGE=debian:bookworm-slim@sha256:7b140f374b289a7c2befc338f42ebe6441b7ea838a042bbd5acbfca6ec875818

FROM ${RUST_IMAGE} AS chef
# cargo-chef turns the manifests into a recipe, so the dependencies build in a layer of their own.
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

FROM chef AS plan
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS build
# Dependencies only: this layer is rebuilt when Cargo.toml or Cargo.lock change, not when the code does.
COPY --from=plan /src/recipe.json recipe.json
RUN cargo chef cook --profile dist --locked --recipe-path recipe.json --bin api2mcp
COPY . .
RUN cargo build --profile dist --locked --bin api2mcp \
    && install -D -m 0755 target/dist/api2mcp /out/api2mcp

FROM ${RUNTIME_IMAGE}
# The version label is Cargo.toml's package version: a label cannot be read from a file at build time,
# so a test (tests/integration/docs.rs) fails when this default and Cargo.toml disagree.
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="api2mcp" \
      org.opencontainers.image.description="Declarative OpenAPI-to-MCP adapter: REST APIs as MCP tools" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
# CA certificates for https upstreams and spec URLs; nothing else is needed at run time.
# A group and a user 10001 so file ownership and `id` show names, not bare numbers.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 api2mcp \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin api2mcp
COPY --from=build /out/api2mcp /usr/local/bin/api2mcp
WORKDIR /config
# Listen on every interface inside the container; publish the port to choose who can reach it.
# Add the host names clients use with API2MCP_ALLOWED_HOSTS (DNS-rebinding protection).
# MALLOC_MMAP_THRESHOLD_: glibc returns freed response buffers to the OS (specs/limits.md).
ENV API2MCP_LISTEN=0.0.0.0:8080 \
    MALLOC_MMAP_THRESHOLD_=262144 \
    API2MCP_CONFIG=/config/api2mcp.yaml \
    RUST_LOG=info
EXPOSE 8080
USER 10001:10001
# No curl in the image: the binary asks its own /ready (on API2MCP_LISTEN, loopback for 0.0.0.0).
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 CMD ["api2mcp", "healthcheck"]
ENTRYPOINT ["api2mcp"]
CMD ["serve"]
