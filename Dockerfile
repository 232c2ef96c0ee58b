# sockgate in Docker. The build stage installs the toolchain from Debian (Emscripten
# included, for the console's WebAssembly module), builds the server and the console
# assets and runs the tests that need no browser; the runtime stage holds only the three
# shared libraries the server links (and netbase, for service names as ports), the stripped
# binary, the console assets and the health check, and runs as a non-root user.
#
#   docker build -t sockgate .
#   docker run --rm -p 8080:8080 sockgate     (prints the console URL with a generated token)
#
# Flags given to `docker run` are appended to the entrypoint: the listen address comes
# from SOCKGATE_LISTEN, so `docker run sockgate --token T` still listens on 0.0.0.0:8080.
# Written for the classic builder as well as BuildKit: no heredocs, no BuildKit-only flags.

FROM debian:bookworm-slim AS build
WORKDIR /src
# The package list is the one `make test` installs on a fresh machine (build, test and wasm
# groups; not the browser one). Copied alone, so this layer stays cached until it changes.
# netbase gives /etc/services, which a full Debian has and a container does not: without it
# a port given as a service name ("http") does not resolve.
COPY scripts/ensure-deps.sh scripts/
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends netbase \
    && scripts/ensure-deps.sh build test wasm \
    && rm -rf /var/lib/apt/lists/*
COPY . .
# Unit and integration test binaries on the optimised build, then the node tests of the
# WebAssembly module (docker.mk: docker-image-test). Named on the command line as well as
# included, in case the Makefile does not include docker.mk; the file guards itself.
# SOCKGATE_SKIP_TESTS may name test binaries to leave out ("test_events"); the log says so.
ARG SOCKGATE_SKIP_TESTS=
RUN make -j"$(nproc)" all \
    && make -f Makefile -f docker.mk docker-image-test DOCKER_SKIP_TESTS="$SOCKGATE_SKIP_TESTS" \
    && install -D -s -m 0755 build/sockgate /out/usr/local/bin/sockgate \
    && install -D -m 0755 tests/docker/healthcheck.sh /out/usr/local/bin/sockgate-healthcheck \
    && mkdir -p /out/usr/share/sockgate \
    && cp -r build/web /out/usr/share/sockgate/web

FROM debian:bookworm-slim
# GnuTLS comes with libmicrohttpd; ca-certificates gives TLS sockets the system's CAs.
# apt's package caches (pkgcache.bin, srcpkgcache.bin) are 77 MB; the image keeps none.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libmicrohttpd12 libcjson1 libc-ares2 netbase ca-certificates \
    && apt-get clean \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old \
        /var/log/apt /var/log/dpkg.log \
    && useradd --system --user-group --uid 10001 --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin sockgate
COPY --from=build /out/ /
ENV SOCKGATE_LISTEN=0.0.0.0:8080 \
    SOCKGATE_WEB_DIR=/usr/share/sockgate/web
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
    CMD ["/usr/local/bin/sockgate-healthcheck"]
ENTRYPOINT ["sockgate"]
CMD []
