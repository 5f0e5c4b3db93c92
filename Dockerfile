# The kgitops image that deploy/ runs: `docker build -t kgitops:0.1.0 .` (see docs/ci.md).
# Stage 1 builds the wheel from this checkout; stage 2 installs only the wheel, so the image holds no sources.
FROM python:3.11-slim AS build
WORKDIR /src
COPY . .
RUN pip install --no-cache-dir build && python -m build --wheel --outdir /dist .

FROM python:3.11-slim
# git and an SSH client for Git sources (deploy keys over ssh://); nothing else beyond the Python base.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git openssh-client ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /dist/*.whl /tmp/
RUN pip install --no-cache-dir /tmp/*.whl && rm /tmp/*.whl
# A fixed non-root user; deploy/deployment.yaml runs as the same uid and gid.
RUN groupadd --gid 10001 kgitops \
 && useradd --uid 10001 --gid 10001 --home-dir /var/lib/kgitops --create-home --shell /usr/sbin/nologin kgitops
ENV HOME=/var/lib/kgitops \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /var/lib/kgitops
# the embedded engine's state, status files and Git checkouts
VOLUME ["/var/lib/kgitops"]
# `kgitops watch --metrics-addr 0.0.0.0:9090`: Prometheus /metrics and /healthz
EXPOSE 9090
ENTRYPOINT ["kgitops"]
CMD ["--help"]
