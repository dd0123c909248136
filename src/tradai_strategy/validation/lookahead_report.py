"""Findings and the report of the lookahead guard (:func:`~.lookahead.check_lookahead`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

FindingKind = Literal[
    "feature_lookahead",
    "target_not_forward",
    "feature_equals_target",
    "feature_equals_future_close",
    "informative_merge_early",
]
#: how many column names :meth:`LookaheadReport.summary_line` lists before "+N more"
SUMMARY_NAMES = 6


@dataclass(frozen=True)
class Finding:
    """One problem: which column of which pair, where it first shows, and how large it is.

    ``difference``: the largest absolute change under truncation (lookahead kinds), or the
    correlation (``feature_equals_*``); 0.0 for ``target_not_forward``.
    """

    kind: FindingKind
    column: str
    pair: str
    row: int | None
    date: str | None
    difference: float
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class LookaheadReport:
    """Result of :func:`check_lookahead`; ``ok`` when there is no finding."""

    strategy: str
    pairs: list[str]
    timerange: str | None
    cuts: dict[str, int]
    features: int
    targets: list[str]
    findings: list[Finding]
    elapsed_s: float

    @property
    def ok(self) -> bool:
        return not self.findings

    def offending_columns(self) -> list[str]:
        """Offending column names, in order of first appearance, without duplicates."""
        return list(dict.fromkeys(f.column for f in self.findings))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``json.dumps`` works on it)."""
        return {
            "ok": self.ok,
            "strategy": self.strategy,
            "pairs": self.pairs,
            "timerange": self.timerange,
            "cuts": self.cuts,
            "features": self.features,
            "targets": self.targets,
            "elapsed_s": round(self.elapsed_s, 3),
            "findings": [asdict(f) for f in self.findings],
        }

    def summary_line(self) -> str:
        """One line: clean, or how many findings and the offending columns by kind."""
        if self.ok:
            n_cuts = sum(self.cuts.values())
            return (
                f"no lookahead found in {self.strategy}: {self.features} features and "
                f"{len(self.targets)} target(s) on {len(self.pairs)} pair(s), {n_cuts} cuts, "
                f"{self.elapsed_s:.1f} s"
            )
        by_kind: dict[str, list[str]] = {}
        for f in self.findings:
            names = by_kind.setdefault(f.kind, [])
            if f.column not in names:
                names.append(f.column)
        parts = []
        for kind, names in by_kind.items():
            shown = ", ".join(names[:SUMMARY_NAMES])
            more = f" (+{len(names) - SUMMARY_NAMES} more)" if len(names) > SUMMARY_NAMES else ""
            parts.append(f"{kind}: {shown}{more}")
        return (
            f"{len(self.findings)} lookahead finding(s) in {self.strategy} "
            f"({self.elapsed_s:.1f} s): " + "; ".join(parts)
        )
