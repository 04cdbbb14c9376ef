# Whisper container image.
#
#   docker build -t whisper .
#   docker run -p 8080:8080 -v whisper-data:/data whisper            # SQLite in /data/whisper.db
#   docker run -p 8080:8080 -e DATABASE_URL=postgres://… whisper      # PostgreSQL
#
# Configuration is by environment variable (WHISPER_*, DATABASE_URL) or flag,
# see settings in server/config.go or `docker run whisper -h`.

# ---- Stage 1: build ---------------------------------------------------------
# Compiles a fully static binary: CGO is off (the SQLite driver is pure Go), so
# the result runs on an image with no libc. The module download is its own
# layer, keyed on go.mod/go.sum only, so source edits do not re-download.
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN go build -trimpath -ldflags="-s -w" -o /out/whisper ./server \
 && mkdir -p /out/data

# ---- Stage 2: runtime -------------------------------------------------------
# Distroless static: CA certificates, tzdata and /etc/passwd, nothing else (no
# shell, no package manager). The :nonroot variant runs as uid/gid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/whisper /whisper
# /data holds the default SQLite database (whisper.db, relative to the working
# directory). It is created owned by the nonroot user so the server can write
# there, and declared a volume so the data outlives the container.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
WORKDIR /data
VOLUME /data
ENV WHISPER_ADDR=:8080
EXPOSE 8080
# No shell or curl here, so the binary checks itself: `whisper healthcheck`
# GETs http://127.0.0.1:<port of -addr or WHISPER_ADDR>/readyz and exits 0 or 1.
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 CMD ["/whisper", "healthcheck"]
ENTRYPOINT ["/whisper"]
