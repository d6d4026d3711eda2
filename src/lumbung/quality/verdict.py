"""What the gate says about a batch: its broken rules and the verdict operators read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from lumbung.quality.results import ExpectationOutcome


@dataclass
class RuleFailure:
    """One broken rule of one batch, with a few offending values."""

    rule: str
    expectation: str
    column: str | None
    severity: str
    unexpected_count: int | None
    examples: list[str] = field(default_factory=list)
    detail: str = ""

    def describe(self) -> str:
        return f"[{self.severity}] {self.rule}: {self.detail}"


@dataclass
class GateResult:
    """The verdict on one batch; ``message()`` is what operators read."""

    batch_id: int
    dataset: str
    file_path: str
    passed: bool
    failures: list[RuleFailure]
    warnings: list[RuleFailure]
    source: str = ""
    partition_key: str = ""
    label: str = ""
    evaluated: int = 0
    row_bounds: dict[str, int | None] = field(default_factory=dict)
    docs_index: str | None = None
    seconds: float = 0.0
    outcomes: list[ExpectationOutcome] = field(default_factory=list)  # every expectation

    def head(self) -> str:
        """What was validated, as the message starts."""
        return f"{self.file_path} (batch {self.batch_id}, {self.label or self.dataset})"

    def message(self) -> str:
        head = self.head()
        if self.passed:
            text = f"{head}: passed {self.evaluated} expectation(s)"
            if self.warnings:
                text += f" with {len(self.warnings)} warning(s): " + "; ".join(
                    w.describe() for w in self.warnings
                )
            return text
        return f"{head}: " + "; ".join(f.describe() for f in self.failures + self.warnings)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class GateFailed(RuntimeError):
    """Raised by callers when a batch failed the gate; the message lists every failure."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            f"quality gate failed ({len(problems)} problem(s)):\n- " + "\n- ".join(problems)
        )


def raise_for_failures(results: Iterable[GateResult]) -> None:
    """Raise GateFailed naming every batch that did not pass."""
    problems = [r.message() for r in results if not r.passed]
    if problems:
        raise GateFailed(problems)
