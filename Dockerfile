# syntax=docker/dockerfile:1
# custos container image: built from source in a Rust image, run in a slim Debian one as
# the non-root user custos. See docs/zh/install.md (容器镜像 / container image).
#
#   docker build -t custos .
#   docker run -d -p 8080:8080 -v custos-data:/var/lib/custos \
#       -e CUSTOS_ADMIN_PASSWORD='…' custos

FROM rust:1-bookworm AS build
WORKDIR /src
# Stamped into `custos --version` (the build has no .git to ask).
ARG SOURCE_DATE_EPOCH
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p custos \
    && install -D -m 0755 target/release/custos /out/custos

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tzdata postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 custos \
    && useradd --system --uid 10001 --gid custos --home-dir /var/lib/custos \
        --no-create-home --shell /usr/sbin/nologin custos \
    && install -d -m 0700 -o custos -g custos /var/lib/custos /srv/custos
COPY --from=build /out/custos /usr/bin/custos
# postgresql-client: on PostgreSQL, custos keeps a pg_dump of the database before it runs
# the migrations of a new version (docs/upgrade.md); it must not be older than the server.
# The data directory (SQLite database, pii.key, exports, audit checkpoints) is the volume;
# /srv/custos is for what several servers share (the compose example's exports and audit
# checkpoints), made here so that a volume mounted there starts owned by custos. Listen
# on all addresses inside the container.
ENV CUSTOS_DATA_DIR=/var/lib/custos \
    CUSTOS_LISTEN=0.0.0.0:8080 \
    TZ=Asia/Shanghai
USER custos
VOLUME ["/var/lib/custos"]
EXPOSE 8080
# No curl in the image: the binary asks its own /readyz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/usr/bin/custos", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/custos"]
CMD ["serve"]
