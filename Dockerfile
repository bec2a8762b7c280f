# Multi-stage build: compile with the Rust toolchain, run on a small Debian image as a
# non-root user. SQLite and libpq are built from source by cargo (bundled features).
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends pkg-config libssl-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY migrations migrations
COPY benches benches
RUN cargo build --release --locked --bins

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libssl3 && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/passerelle --create-home --uid 10001 passerelle
COPY --from=build /src/target/release/passerelle /usr/local/bin/passerelle
COPY --from=build /src/target/release/digiposte-sim /usr/local/bin/digiposte-sim
USER passerelle
WORKDIR /var/lib/passerelle
ENV PASSERELLE_BIND=0.0.0.0:8080 \
    PASSERELLE_DATA_DIR=/var/lib/passerelle/data \
    PASSERELLE_LOG_FORMAT=json
EXPOSE 8080
VOLUME ["/var/lib/passerelle/data"]
HEALTHCHECK --interval=30s --timeout=3s CMD ["passerelle", "health"]
ENTRYPOINT ["passerelle"]
CMD ["serve"]
