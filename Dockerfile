# syntax=docker/dockerfile:1
# api2mcp in a container: built with the Rust image, run as a non-root user on a slim Debian base.
#   docker build -t api2mcp .
#   docker run --rm -p 8080:8080 -v "$PWD/examples/petstore:/config:ro" api2mcp
# The configuration is read from /config/api2mcp.yaml (mount it, or bake it in with a derived image);
# every option can also come from the environment (API2MCP_CONFIG, API2MCP_SPEC, API2MCP_LISTEN, ...).

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
# The cache mounts keep the registry and the target directory between builds; the binary is copied out
# of the cache so the next stage can take it.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --profile dist --locked --bin api2mcp \
    && install -D -m 0755 target/dist/api2mcp /out/api2mcp

FROM debian:bookworm-slim
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="api2mcp" \
      org.opencontainers.image.description="Declarative OpenAPI-to-MCP adapter: REST APIs as MCP tools" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}"
# CA certificates for https upstreams and spec URLs; nothing else is needed at run time.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin api2mcp
COPY --from=build /out/api2mcp /usr/local/bin/api2mcp
WORKDIR /config
# Listen on every interface inside the container; publish the port to choose who can reach it.
# Add the host names clients use with API2MCP_ALLOWED_HOSTS (DNS-rebinding protection).
ENV API2MCP_LISTEN=0.0.0.0:8080 \
    API2MCP_CONFIG=/config/api2mcp.yaml \
    RUST_LOG=info
EXPOSE 8080
USER 10001:10001
# No curl in the image: the binary asks its own /ready (on API2MCP_LISTEN, loopback for 0.0.0.0).
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 CMD ["api2mcp", "healthcheck"]
ENTRYPOINT ["api2mcp"]
CMD ["serve"]
