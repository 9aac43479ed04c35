# Hangar's image: everything is installed at build time; the container only starts the server.
# Build: docker build -t hangar:local .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir hangar && touch hangar/__init__.py && pip install . && pip uninstall -y hangar && rm -rf hangar build

COPY hangar ./hangar
COPY migrations ./migrations
COPY config ./config
# Editable: the migrations directory is found beside the package.
RUN pip install --no-deps -e . && useradd --create-home --uid 10001 hangar && mkdir -p /app/data /run/hangar \
    && chown -R hangar /app/data /app/config /run/hangar
USER hangar

EXPOSE 8000
HEALTHCHECK --interval=5s --timeout=3s --retries=6 \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live', timeout=2)"
ENTRYPOINT ["hangar"]
CMD ["serve", "--config", "config/hangar.yaml", "--host", "0.0.0.0", "--port", "8000", "--insecure"]
