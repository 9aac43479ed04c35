"""One client TLS context for every outgoing HTTP client of the process."""

from __future__ import annotations

import functools
import ssl

import httpx


@functools.cache
def shared_tls_context() -> ssl.SSLContext:
    """httpx's defaults (certifi's CA bundle, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``), built once.

    Building a context loads the whole CA bundle, about 19 ms of CPU: a client per remote
    provider start paid that every time, more than registering the provider itself. A context
    is safe to share between connections and clients."""
    return httpx.create_ssl_context()
