"""What the benchmarks share: a free local port and a scratch warehouse of their own."""

from __future__ import annotations

import os
import socket
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scratch_warehouse(state: Path, port: int | None = None):
    """Paths, the bootstrapped warehouse's admin URL and the embedded server to stop (None
    for LUMBUNG_WAREHOUSE_URL). The embedded server gets ``port`` (default a free one) and
    its data under ``state``."""
    if not os.environ.get("LUMBUNG_WAREHOUSE_URL"):
        state.mkdir(parents=True, exist_ok=True)
        state.parent.chmod(0o755)  # as root the server runs as its own user
        os.environ["LUMBUNG_PG_PORT"] = str(port or free_port())
    os.environ["LUMBUNG_STATE_DIR"] = str(state)
    from lumbung.config import Paths
    from lumbung.warehouse import bootstrap, embedded_server, uses_embedded, warehouse_url

    paths = Paths.from_env()
    url = warehouse_url(paths)
    bootstrap(paths, url)
    return paths, url, (embedded_server(paths) if uses_embedded() else None)
