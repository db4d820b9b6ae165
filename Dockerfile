# techbridge: one build stage, then a slim runtime image per service.
#   docker build --target intake -t techbridge/intake .
# The build stage runs the same commands as scripts/build-release (CI runs that
# script, so the compile this file does is tested even where no engine runs).

FROM debian:12 AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential cmake pkg-config \
      libzmq3-dev libprotobuf-c-dev protobuf-c-compiler libpq-dev libjansson-dev uuid-dev \
      libicu-dev libstemmer-dev libmicrohttpd-dev libsodium-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN scripts/build-release /src/build-release /out

FROM debian:12-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends libzmq5 libprotobuf-c1 libpq5 libjansson4 libuuid1 \
      libicu72 libstemmer0d libmicrohttpd12 libsodium23 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --no-create-home --shell /usr/sbin/nologin techbridge
USER techbridge
ENV TB_LOG_FORMAT=json

FROM runtime AS intake
COPY --from=build /out/tb-intake /usr/local/bin/tb-intake
EXPOSE 7101 7102
ENTRYPOINT ["/usr/local/bin/tb-intake"]

FROM runtime AS matching
COPY --from=build /out/tb-matching /usr/local/bin/tb-matching
EXPOSE 7103 7104
ENTRYPOINT ["/usr/local/bin/tb-matching"]

FROM runtime AS notification
COPY --from=build /out/tb-notification /usr/local/bin/tb-notification
EXPOSE 7105 7106
ENTRYPOINT ["/usr/local/bin/tb-notification"]

FROM runtime AS gateway
COPY --from=build /out/tb-gateway /usr/local/bin/tb-gateway
EXPOSE 7110
ENTRYPOINT ["/usr/local/bin/tb-gateway"]

FROM runtime AS tbctl
COPY --from=build /out/tbctl /usr/local/bin/tbctl
# The shipped thesaurus, for `tbctl thesaurus load /usr/share/techbridge/thesaurus/*.tbt`.
COPY deploy/thesaurus/*.tbt /usr/share/techbridge/thesaurus/
ENTRYPOINT ["/usr/local/bin/tbctl"]
