"""The console of `lumbung run`: progress lines for a person, everything else in the log."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from lumbung.run_console import (
    counts_text,
    dag_line,
    findings_lines,
    first_line,
    log_findings,
    task_line,
)


def test_progress_lines_name_task_state_time_and_counts():
    line = task_line("land_apbdes_files", "success", 12.34,
                     counts_text("land_apbdes_files", (3, 1, 1200, 1150, 50)))
    assert line.split()[:3] == ["land_apbdes_files", "success", "12.3s"]
    assert line.endswith("3 batch(es) landed: 1,200 rows received, 1,150 loaded, "
                         "50 quarantined, 1 rejected")
    assert counts_text("land_idm_files", (0, 0, 0, 0, 0)) == "no new or changed files"
    assert counts_text("quality_gate", (796, 0, 27)) == (
        "796 batch(es) through the gate: 0 failed, 27 passed with warnings")
    assert counts_text("audit_marts", (2, 1, 0)) == (
        "2 mart(s) audited: 1 failed, 0 passed with warnings")
    assert counts_text("publish_marts", (1, 2, 2962)) == "2 table(s) published, 2,962 rows"
    assert counts_text("publish_marts", (0, 0, 0)) == "nothing published"
    assert task_line("build_marts", "upstream_failed", None).split() == ["build_marts",
                                                                          "upstream_failed"]
    assert dag_line("idm", "success", 68.44) == "idm: success in 68.4s"


def test_an_error_reaches_the_console_as_one_plain_line():
    error = "\x1b[31mGate failed\x1b[0m for batch 7: 3 critical rule(s)\n  rule a\n  rule b"
    assert first_line(error) == "Gate failed for batch 7: 3 critical rule(s)"
    assert first_line("\n\n") == "no message"
    assert first_line("x" * 500, 50) == "x" * 47 + "..."


def test_the_log_warnings_are_grouped_by_where_they_come_from():
    log = [
        "2026-12-04T15:17:12.80Z [warning  ] gate: idm/1.json passed with 1 warning(s) "
        "[lumbung.quality.gate] loc=gate.py:1",
        "2026-12-04T15:17:12.81Z [warning  ] gate: idm/2.json passed with 1 warning(s) "
        "[lumbung.quality.gate] loc=gate.py:1",
        "2026-12-04T15:17:13.00Z [info     ] dbt | Done. PASS=35 WARN=0 [lumbung.dbt_runner]",
        "2026-12-04T15:17:14.00Z [error    ] Task failed [airflow.task] loc=x.py:1",
        "15:08:39 WARNING lumbung.runner: landing folder empty",
        "a dbt line saying WARNING in the middle",
    ]
    findings = log_findings(log)
    assert [(f.level, f.logger, f.count) for f in findings] == [
        ("error", "airflow.task", 1),
        ("warning", "lumbung.quality.gate", 2),
        ("warning", "lumbung.runner", 1),
    ]
    assert findings[1].first == "gate: idm/1.json passed with 1 warning(s)"
    lines = findings_lines(findings, limit=2)
    assert lines[0] == "Log: 3 warning(s), 1 error(s), by source (first message):"
    assert lines[-1].split() == ["1", "more", "from", "1", "other", "source(s)"]
    assert findings_lines([]) == ["Log: no warnings or errors"]


def test_everything_but_the_progress_goes_to_the_log(tmp_path):
    """Python's own output, a child process's and Airflow-style stdout logging land in the
    log file; only the console's lines reach the real stdout, and the log has them too."""
    log = tmp_path / "logs" / "run.log"
    script = textwrap.dedent(f"""
        import subprocess, sys
        from pathlib import Path
        from lumbung.run_console import output_to_log
        with output_to_log(Path({str(log)!r})) as console:
            print("a task log line on stdout")
            print("a warning on stderr", file=sys.stderr)
            subprocess.run([sys.executable, "-c", "print('the dbt server speaks')"])
            console.line("region: success in 1.0s")
        print("after the block: stdout again")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["region: success in 1.0s",
                                          "after the block: stdout again"]
    assert result.stderr == ""
    text = log.read_text()
    for detail in ("a task log line on stdout", "a warning on stderr", "the dbt server speaks",
                   "[progress] region: success in 1.0s"):
        assert detail in text
    assert log.stat().st_mode & 0o077 == 0
