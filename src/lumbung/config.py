"""Where things live and how to reach the warehouse, from the environment.

Every setting has a default that works on a fresh clone; each can be overridden by one
environment variable (documented in README.md, "Configuration").
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

DEFAULT_PG_PORT = 55432
WAREHOUSE_DB = "lumbung"
AIRFLOW_DB = "lumbung_airflow"
SUPERUSER = "lumbung"
BI_ROLE = "lumbung_bi"
WAREHOUSE_CONN_ID = "lumbung_warehouse"


def _repo_root() -> Path:
    env = os.environ.get("LUMBUNG_HOME")
    if env:
        return Path(env).resolve()
    # src/lumbung/config.py -> repo root (editable install or source checkout)
    return Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Paths:
    """Filesystem layout of one Lumbung installation."""

    root: Path

    @classmethod
    def from_env(cls) -> Paths:
        return cls(_repo_root())

    @cached_property
    def state(self) -> Path:
        """Git-ignored folder for everything a run produces (database, logs, reports)."""
        return Path(os.environ.get("LUMBUNG_STATE_DIR", self.root / ".lumbung")).resolve()

    @property
    def pgdata(self) -> Path:
        return Path(os.environ.get("LUMBUNG_PGDATA", self.state / "postgres" / "data")).resolve()

    @property
    def secrets_file(self) -> Path:
        return self.state / "secrets.json"

    @property
    def airflow_home(self) -> Path:
        return self.state / "airflow"

    @property
    def dbt_project(self) -> Path:
        return self.root / "dbt_project"

    @property
    def dbt_target(self) -> Path:
        return self.state / "dbt" / "target"

    @property
    def dbt_logs(self) -> Path:
        return self.state / "dbt" / "logs"

    @property
    def dags(self) -> Path:
        return self.root / "dags"

    @property
    def plugins(self) -> Path:
        return self.root / "plugins"

    @property
    def expectations(self) -> Path:
        return self.root / "expectations"

    @property
    def gx_docs(self) -> Path:
        return self.state / "quality" / "data_docs"

    @property
    def reports(self) -> Path:
        """Auditor outputs (quality report, regency workbooks), one folder per run."""
        return self.state / "reports"

    @property
    def landing(self) -> Path:
        return Path(os.environ.get("LUMBUNG_LANDING_DIR", self.root / "data" / "landing")).resolve()


def pg_port() -> int:
    return int(os.environ.get("LUMBUNG_PG_PORT", DEFAULT_PG_PORT))


def external_warehouse_url() -> str | None:
    """The URL of a Postgres the operator chose instead of the embedded one, if any."""
    return os.environ.get("LUMBUNG_WAREHOUSE_URL") or None


@dataclass(frozen=True)
class PgUrl:
    """A libpq URL split into the parts dbt, GX and Airflow each want."""

    user: str
    password: str
    host: str
    port: int
    dbname: str

    @classmethod
    def parse(cls, url: str) -> PgUrl:
        parts = urlsplit(url)
        if parts.scheme not in {"postgresql", "postgres"} and not parts.scheme.startswith(
            "postgresql+"
        ):
            raise ValueError(f"not a PostgreSQL URL: {redact(url)}")
        return cls(
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            dbname=parts.path.lstrip("/") or "postgres",
        )

    def url(self, scheme: str = "postgresql") -> str:
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        return urlunsplit((scheme, f"{auth}@{self.host}:{self.port}", f"/{self.dbname}", "", ""))

    def with_db(self, dbname: str) -> PgUrl:
        return PgUrl(self.user, self.password, self.host, self.port, dbname)

    def with_user(self, user: str, password: str) -> PgUrl:
        return PgUrl(user, password, self.host, self.port, self.dbname)

    def dbt_env(self) -> dict[str, str]:
        return {
            "LUMBUNG_DB_HOST": self.host,
            "LUMBUNG_DB_PORT": str(self.port),
            "LUMBUNG_DB_USER": self.user,
            "LUMBUNG_DB_PASSWORD": self.password,
            "LUMBUNG_DB_NAME": self.dbname,
        }


def redact(url: str) -> str:
    """The URL with its password replaced, for logs."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


@dataclass(frozen=True)
class Limits:
    """What one received file may cost before it is rejected whole (README, "Configuration").

    Each is read from its environment variable when a file is landed, so a test or an
    operator can change it without a restart of anything but the landing task.
    """

    field_chars: int = 131_072  # one value (Python's csv module has the same default)
    quarantined_rows: int = 10_000  # rows of one file quarantined before the file is rejected
    archive_bytes: int = 2 << 30  # uncompressed size of a whole archive (zip, XLSX)
    member_bytes: int = 1 << 30  # uncompressed size of one archive member
    compression_ratio: float = 100.0  # uncompressed / compressed, of a whole archive or member

    ENV = {
        "field_chars": "LUMBUNG_MAX_FIELD_CHARS",
        "quarantined_rows": "LUMBUNG_MAX_QUARANTINED_ROWS",
        "archive_bytes": "LUMBUNG_MAX_ARCHIVE_BYTES",
        "member_bytes": "LUMBUNG_MAX_MEMBER_BYTES",
        "compression_ratio": "LUMBUNG_MAX_COMPRESSION_RATIO",
    }

    @classmethod
    def from_env(cls) -> Limits:
        values = {}
        for field, name in cls.ENV.items():
            raw = os.environ.get(name)
            if raw:
                kind = float if field == "compression_ratio" else int
                try:
                    values[field] = kind(raw)
                except ValueError:
                    raise ValueError(f"{name}={raw!r} is not a number") from None
        return cls(**values)

    def name(self, field: str) -> str:
        """The limit as a reason names it: its variable and value."""
        value = getattr(self, field)
        return f"{self.ENV[field]}={value:g}" if isinstance(value, float) else (
            f"{self.ENV[field]}={value}")


def limits() -> Limits:
    return Limits.from_env()
