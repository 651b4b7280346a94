# latchkey in a container: docs/deployment.md says how to build, run and back it up.
#
#   docker build -t latchkey .
#   docker run -d --name latchkey -p 8080:8080 -v latchkey-data:/data \
#     -e LATCHKEY_PUBLIC_URL=https://id.example.com latchkey
#
# The build stage is Debian 12 (bookworm), as the runtime image is: the binary links the
# glibc it was built against. RUST_VERSION is the toolchain the lockfile needs at least
# (1.89: uuid, rusqlite) and the project is tested with; --build-arg RUST_VERSION=1.xx picks
# another.
ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
# .dockerignore lets only the sources in: Cargo.toml, Cargo.lock, .cargo/ and crates/.
COPY . .
# The registry and target caches outlive the build, so a rebuild after a source change
# compiles only the workspace's own crates. The binary is stripped (the release profile keeps
# line tables for backtraces: stripping takes the binary from about 127 MiB to 25 MiB).
RUN --mount=type=cache,id=latchkey-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=latchkey-target,target=/src/target,sharing=locked \
    cargo build --release --locked -p latchkey \
    && mkdir -p /out/data \
    && strip -o /out/latchkey target/release/latchkey \
    && /out/latchkey --version

# Distroless: glibc, libgcc, CA certificates and time zones; no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/latchkey /usr/local/bin/latchkey
# /data is the store and, beside it, its master key file (latchkey.master.key): owned by the
# non-root user, so that a new named volume is too.
COPY --from=build --chown=65532:65532 /out/data /data
ENV LATCHKEY_DB=sqlite:///data/latchkey.db \
    LATCHKEY_LISTEN=0.0.0.0:8080 \
    LATCHKEY_MANAGEMENT_LISTEN=0.0.0.0:9000
VOLUME ["/data"]
WORKDIR /data
# 65532 is distroless's "nonroot" user.
USER 65532:65532
# 8080: OpenID Connect, OAuth 2.0, the admin API and the login pages.
# 9000: the management listener, /health/live, /health/ready and /metrics.
EXPOSE 8080 9000
# No shell or curl in the image: the binary probes its own management listener. A container
# that moves LATCHKEY_MANAGEMENT_LISTEN gives the check the new URL (docs/deployment.md).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/latchkey", "health", "--url", "http://127.0.0.1:9000/health/ready"]
# SIGTERM (docker stop) drains open requests and stops.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/latchkey"]
CMD ["serve"]
