# Hangar from the hashed lock file: the image gets exactly the versions the suite was run with.
# Everything is installed at build time; a container only starts the server.
FROM python:3.11-slim
WORKDIR /app
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY hangar ./hangar
COPY migrations ./migrations
COPY config ./config
# Editable, so the package finds migrations/ beside it as it does in a checkout. /run/hangar is
# where docker-compose's replicas share their secret key (a named volume copies this ownership).
RUN pip install --no-cache-dir --no-deps -e . && useradd --create-home hangar \
    && mkdir -p /data /run/hangar && chown hangar /data /run/hangar
USER hangar
ENV HANGAR_DB_URL=sqlite+aiosqlite:////data/hangar.db
EXPOSE 8000
HEALTHCHECK --interval=5s --timeout=3s --retries=6 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2)"
# Serving on 0.0.0.0 needs auth on: mount a config with auth.enabled and set HANGAR_ADMIN_KEY.
CMD ["hangar", "serve", "--config", "/config/hangar.yaml", "--host", "0.0.0.0", "--port", "8000"]
