# syntax=docker/dockerfile:1
# Build: docker build -t cleanrooms-exporter .
# Run:   docker run -p 19431:19431 -v "$PWD/config.yaml:/etc/cleanrooms-exporter/config.yaml:ro" cleanrooms-exporter

FROM python:3.11-slim-bookworm AS build
WORKDIR /src
RUN pip install --no-cache-dir build==1.2.2
COPY pyproject.toml README.md config.example.yaml ./
COPY exporter ./exporter
RUN python -m build --wheel --outdir /dist

FROM python:3.11-slim-bookworm
LABEL org.opencontainers.image.title="cleanrooms-exporter" \
      org.opencontainers.image.description="Prometheus exporter for AWS Clean Rooms" \
      org.opencontainers.image.licenses="Apache-2.0"
# Two malloc arenas: with one per core, memory grows with every large scrape until it
# levels off at a ceiling that scales with the node's cores.
ENV PYTHONDONTWRITEBYTECODE=1 \
    MALLOC_ARENA_MAX=2 \
    PYTHONUNBUFFERED=1
COPY --from=build /dist/*.whl /tmp/
# The auth extra brings bcrypt, for basic_auth_users in --web.config.file; the demo
# stack (examples/demo-stack) builds with EXTRAS=auth,demo to run --demo. The
# wheel is this project's own, built above: there is no version to pin.
ARG EXTRAS=auth
# The default configuration lists no accounts: the exporter polls the account of the
# default credential chain (AWS_* variables, or the container's role) in AWS_REGION.
# Mount your own over it (docs/container.md).
# hadolint ignore=DL3013
RUN wheel="$(find /tmp -name '*.whl')" && pip install --no-cache-dir "${wheel}[${EXTRAS}]" && rm "$wheel" \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin exporter \
    && mkdir -p /etc/cleanrooms-exporter \
    && printf '%s\n' \
       '# No accounts: the exporter polls the account of the default credential chain' \
       '# (AWS_* variables, or the container role) in AWS_REGION, else us-east-1.' \
       '# Mount your configuration over this file: see docs/container.md.' \
       > /etc/cleanrooms-exporter/config.yaml
USER 10001
EXPOSE 19431
# Asks /-/healthy on the exporter's own --web.listen-address, over HTTPS when its
# --web.config.file turns TLS on: it reads the exporter's flags from its command line
# (process 1, or the process an init such as `docker run --init` runs).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["python", "-m", "exporter.web.healthcheck"]
ENTRYPOINT ["cleanrooms-exporter"]
CMD ["--config.file=/etc/cleanrooms-exporter/config.yaml"]
