# Build stage: the release binary. libclang is for the rocksdb crate's bindgen.
FROM rust:1-slim-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libclang-dev g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY .cargo ./.cargo
COPY crates ./crates
COPY src ./src
COPY schemas ./schemas
RUN cargo build --release --locked

# Run stage: a slim Debian with only the binary, as a non-root user, data in a volume.
FROM debian:bookworm-slim
RUN useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin lotline \
 && mkdir -p /data && chown lotline:lotline /data
COPY --from=build /src/target/release/lotline /usr/local/bin/lotline
USER lotline
VOLUME ["/data"]
EXPOSE 8080
# Set LOTLINE_ORIGIN (the log's name) on first start: the default derives from the hostname,
# which is random in a container, and the origin is fixed once the log exists.
ENV LOTLINE_DATA=/data LOTLINE_LISTEN=0.0.0.0:8080 LOTLINE_LOG_FORMAT=json
ENTRYPOINT ["lotline"]
CMD ["serve"]
