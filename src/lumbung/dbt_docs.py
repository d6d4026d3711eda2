"""The dbt docs site (models, columns, tests, lineage, exposures) in the state folder, and a
small server for it on 127.0.0.1 (`lumbung docs`)."""

from __future__ import annotations

import functools
import logging
import os
import shutil
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from lumbung.config import Paths, PgUrl

log = logging.getLogger(__name__)

DEFAULT_PORT = 8089
HOST = "127.0.0.1"
# static_index.html embeds the manifest and catalog: it opens from disk, offline.
SITE_FILES = ("index.html", "static_index.html", "manifest.json", "catalog.json")


def docs_dir(paths: Paths) -> Path:
    return paths.state / "dbt" / "docs"


def docs_port() -> int:
    return int(os.environ.get("LUMBUNG_DOCS_PORT", DEFAULT_PORT))


def generate(paths: Paths, warehouse: PgUrl) -> Path:
    """`dbt docs generate` on the warehouse as it is now; the site copied to the docs
    folder, so that the next build's target does not half-replace it."""
    from lumbung.dbt_runner import run_dbt

    run_dbt(paths, warehouse, "docs", "generate", "--static")
    out = docs_dir(paths)
    staging = out.with_name("docs.new")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in SITE_FILES:
        shutil.copy2(paths.dbt_target / name, staging / name)
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return out / "static_index.html"


def serve(paths: Paths, port: int) -> None:
    """Serve the docs folder until interrupted."""
    folder = docs_dir(paths)
    if not (folder / "index.html").exists():
        raise FileNotFoundError(f"no dbt docs in {folder} yet: `lumbung run` generates them")
    handler = functools.partial(_QuietHandler, directory=str(folder))
    with ThreadingHTTPServer((HOST, port), handler) as server:
        print(f"dbt docs on http://{HOST}:{port}/ (Ctrl-C stops)", flush=True)
        server.serve_forever()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:
        log.debug(format, *args)
