# The one `billing` executable, every role a subcommand (the Helm chart runs `billing webhook|worker|api|
# usage-reporter|migrate`). Build: docker build -t stripe-billing:0.1.0 .
#
# Stage 1 builds on Debian 12 with the same packages as scripts/install-deps.sh (tests are not built here: CI runs
# them through scripts/test.sh); stage 2 has only the runtime libraries and runs as a non-root user.
FROM debian:12-slim AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config ca-certificates \
      libpoco-dev librdkafka-dev nlohmann-json3-dev libsimdjson-dev libpq-dev libssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY cmake cmake
COPY common common
COPY webhook webhook
COPY stripe stripe
COPY schema schema
COPY sync sync
COPY usage usage
COPY subscription subscription
COPY workers workers
COPY web web
COPY api api
COPY app app
COPY bench bench
COPY tests tests
# -O2 without -g: the debug info would be stripped anyway, and generating it is much of the compile time.
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" -DBILLING_TESTS=OFF \
    && cmake --build build --target billing --parallel \
    && strip --strip-debug build/app/billing

FROM debian:12-slim
# Runtime libraries only (the executable's NEEDED entries; tests/cli/dockerfile_test.sh checks the list against the
# built binary): Poco, librdkafka, libpq, simdjson, OpenSSL, and the CA store for TLS to Stripe and Kafka.
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libpoconet80 libpoconetssl80 libpocojson80 libpocojwt80 libpocofoundation80 \
      librdkafka1 librdkafka++1 libpq5 libsimdjson14 libssl3 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 billing && useradd --system --uid 10001 --gid billing --no-create-home billing
COPY --from=build /src/build/app/billing /usr/local/bin/billing
USER 10001:10001
EXPOSE 8080 8081 8082 8083
ENTRYPOINT ["/usr/local/bin/billing"]
CMD ["--help"]
