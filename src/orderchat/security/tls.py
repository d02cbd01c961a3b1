"""Client-side TLS for connections to a server that runs with supplied certificates."""

from __future__ import annotations

import ssl
from pathlib import Path


def client_tls_context(ca_file: Path | str | None, cert_file: Path | str | None = None, key_file: Path | str | None = None) -> ssl.SSLContext:
    """Verify the server against `ca_file` (the system's CAs when None); present a client
    certificate when the server asks for one (`tls_verify`)."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_file) if ca_file else None)
    if cert_file is not None:
        context.load_cert_chain(str(cert_file), str(key_file) if key_file else None)
    return context
