# inviter's container image: a static binary (pure-Go SQLite, CGO_ENABLED=0)
# on distroless/static, which holds CA certificates and runs as the
# non-root user 65532. Build:
#   docker build --build-arg VERSION=$(git describe --tags --always) \
#     --build-arg COMMIT=$(git rev-parse HEAD) -t inviter .
# Run (SQLite in a volume; a fleet sets INVITER_DB=postgres://…):
#   docker run -p 8080:8080 -v inviter-data:/var/lib/inviter \
#     -e SAIL_BASE_URL -e SAIL_CLIENT_ID -e SAIL_CLIENT_SECRET -e INVITER_WEBHOOK_TOKEN inviter
FROM docker.io/library/golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=
RUN BUILD_TIME=$(date -u +%Y-%m-%dT%H:%M:%SZ) && \
    CGO_ENABLED=0 go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT} -X main.buildTime=${BUILD_TIME}" \
      -o /out/inviter ./cmd/inviter && \
    mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/inviter /inviter
COPY --from=build --chown=65532:65532 /out/data /var/lib/inviter
USER 65532:65532
ENV INVITER_DB=/var/lib/inviter/inviter.db \
    INVITER_LISTEN=:8080 \
    INVITER_LOG_FORMAT=json
VOLUME /var/lib/inviter
# 8080: the webhook and the probes (/healthz, /readyz). The status page and
# /metrics stay on the admin listener (127.0.0.1:9090 by default): reach it
# with kubectl port-forward, or set INVITER_ADMIN_LISTEN=:9090 on a private
# network only.
EXPOSE 8080
ENTRYPOINT ["/inviter"]
CMD ["serve"]
