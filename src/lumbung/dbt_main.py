"""dbt's command line as ``lumbung.dbt_runner`` runs it: ``python -m lumbung.dbt_main <args>``.

The same as ``dbt <args>`` (same logs, same exit status: 0 success, 1 failures, 2 an error
of dbt itself), except that with ``--no-write-json`` it still writes ``run_results.json``:
dbt then skips only rewriting ``manifest.json`` (3 MB, twice per run), which a selective
marts rebuild of an unchanged project does not need, while the build keeps its record.
"""

from __future__ import annotations

import sys
from pathlib import Path


def _target_path(args: list[str]) -> Path | None:
    for i, arg in enumerate(args[:-1]):
        if arg == "--target-path":
            return Path(args[i + 1])
    return None


def main(argv: list[str] | None = None) -> int:
    from dbt.cli.main import dbtRunner

    args = list(sys.argv[1:] if argv is None else argv)
    outcome = dbtRunner().invoke(args)
    target = _target_path(args)
    if "--no-write-json" in args and target is not None and hasattr(outcome.result, "write"):
        outcome.result.write(str(target / "run_results.json"))
    if outcome.exception is not None:
        print(f"dbt error: {outcome.exception}", file=sys.stderr)
        return 2
    return 0 if outcome.success else 1


if __name__ == "__main__":
    sys.exit(main())
