"""dbt's command line as ``lumbung.dbt_runner`` runs it: ``python -m lumbung.dbt_main <args>``.

The same as ``dbt <args>`` (same logs, same exit status: 0 success, 1 failures, 2 an error
of dbt itself), except that each thread keeps its database session from node to node
(:func:`keep_connections_open`), and that with ``--no-write-json`` it still writes
``run_results.json``:
dbt then skips only rewriting ``manifest.json`` (3 MB, twice per run), which a selective
marts rebuild of an unchanged project does not need, while the build keeps its record.
"""

from __future__ import annotations

import sys
from pathlib import Path


def target_path(args: list[str]) -> Path | None:
    """The ``--target-path`` of dbt arguments, if given."""
    for i, arg in enumerate(args[:-1]):
        if arg == "--target-path":
            return Path(args[i + 1])
    return None


def keep_connections_open() -> None:
    """Each dbt thread keeps its PostgreSQL session from node to node.

    dbt closes a thread's connection after every node and the next node opens a new one: a
    new backend and a password exchange each, about 20 ms, several seconds over the hundreds
    of nodes of a build. Here a node's end rolls back what it left open, as dbt's close
    does, and the session stays for the thread's next node. dbt closes every connection at
    the end of the invocation still. The project sets no session state (a model's planner
    setting is ``set local``, ended with its transaction); the temporary table of an
    incremental model (a unique name) now lasts until the invocation ends instead of its
    node."""
    from dbt.adapters.contracts.connection import ConnectionState
    from dbt.adapters.postgres.connections import PostgresConnectionManager

    def release(self) -> None:
        with self.lock:
            conn = self.get_if_exists()
        if conn is None or conn.state != ConnectionState.OPEN:
            return
        try:
            if conn.transaction_open:
                self._rollback(conn)
            else:
                conn.handle.rollback()  # a transaction psycopg began without dbt's BEGIN
        except Exception:  # a broken session: the next node opens a new one
            try:
                self.close(conn)
            finally:
                self.clear_thread_connection()

    PostgresConnectionManager.release = release


def main(argv: list[str] | None = None) -> int:
    from dbt.cli.main import dbtRunner

    keep_connections_open()
    args = list(sys.argv[1:] if argv is None else argv)
    outcome = dbtRunner().invoke(args)
    target = target_path(args)
    if "--no-write-json" in args and target is not None and hasattr(outcome.result, "write"):
        outcome.result.write(str(target / "run_results.json"))
    if outcome.exception is not None:
        print(f"dbt error: {outcome.exception}", file=sys.stderr)
        return 2
    return 0 if outcome.success else 1


if __name__ == "__main__":
    sys.exit(main())
