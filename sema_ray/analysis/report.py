"""The study report in markdown: best settings, statistics, robustness, failures."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from sema_ray.analysis.robust import RobustSetting
from sema_ray.analysis.stats import MethodSummary, PairedComparison
from sema_ray.analysis.table import summary_rows
from sema_ray.study.results import TrialResult


@dataclass(frozen=True)
class StudyReport:
    study: str
    results: list[TrialResult]
    summaries: list[MethodSummary]
    comparisons: list[PairedComparison]
    robust: RobustSetting | None
    plots: list[str]  # file names in the output directory


def markdown_table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + " --- |" * len(rows[0])]
    lines += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def _num(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def render_report(report: StudyReport) -> str:
    """Return the report as markdown text."""
    parts = [f"# Study `{report.study}`", ""]
    parts += ["## Best setting per task and method", "",
              "Chosen on the validation split during the search; the test column comes only "
              "from re-runs of that setting with fresh seeds.", "",
              markdown_table(summary_rows(report.results)), ""]

    if report.summaries:
        rows = [["task", "method", "seeds", "mean", "std", "95% CI"]]
        rows += [[s.task, s.method, str(s.n), _num(s.mean), _num(s.std),
                  f"[{_num(s.ci_low)}, {_num(s.ci_high)}]"] for s in report.summaries]
        parts += ["## Test metric over evaluation seeds", "", markdown_table(rows), ""]

    if report.comparisons:
        rows = [["task", "sema minus", "seeds", "mean difference", "95% CI", "p-value"]]
        rows += [[c.task, c.baseline, str(c.n), _num(c.mean_diff), f"[{_num(c.ci_low)}, {_num(c.ci_high)}]",
                  _num(c.p_value, 4)] for c in report.comparisons]
        parts += ["## SEMA against each baseline", "",
                  "Paired over the same evaluation seeds; p-values from a paired two-sided "
                  "Student t-test (scipy.stats.ttest_rel).", "", markdown_table(rows), ""]

    parts += ["## One setting for every task", ""]
    if report.robust is None:
        parts += ["No SEMA setting ran on every task, so no shared setting can be judged. "
                  "Search SEMA with lists or `sampler: grid` to answer this.", ""]
    else:
        robust = report.robust
        settings = ", ".join(f"{key}={value:g}" for key, value in sorted(robust.settings.items()))
        rows = [["task", "regret (% of the best validation value)"]]
        rows += [[task, _num(value)] for task, value in sorted(robust.regret_by_task.items())]
        parts += [f"Out of {robust.candidates} settings that ran on every task, **{settings}** has the "
                  f"smallest worst-case regret: {_num(robust.worst_regret)}% of a task's best value.", "", markdown_table(rows), ""]

    failed = [r for r in report.results if r.status == "failed"]
    parts += ["## Failed trials", ""]
    if failed:
        rows = [["task", "method", "phase", "seed", "reason"]]
        rows += [[r.task, r.method, r.phase, str(r.seed), r.error.replace("|", "/")[:200]] for r in failed]
        parts += [markdown_table(rows), ""]
    else:
        parts += ["None.", ""]

    parts += ["## Plots", ""] + [f"![{name}]({name})" for name in report.plots] + [""]
    return "\n".join(parts)


def write_report(report: StudyReport, path: Path) -> Path:
    path.write_text(render_report(report), encoding="utf-8")
    return path
