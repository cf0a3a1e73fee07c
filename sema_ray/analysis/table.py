"""The plain-text summary table a study prints at the end."""

from __future__ import annotations

from sema_ray.analysis.stats import summarize
from sema_ray.study.results import TrialResult, best_per_method


def format_number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_momentum(value: float | None) -> str:
    # Enough digits to tell 0.999 from 0.9995 apart.
    return "-" if value is None else f"{value:.5f}".rstrip("0")


def summary_rows(results: list[TrialResult]) -> list[list[str]]:
    """Return a header and one row per (task, method): best setting, its metrics."""
    best = best_per_method(results)
    summaries = {(s.task, s.method): s for s in summarize(results)}
    header = ["task", "method", "trials", "momentum", "switch_interval", "r", "other",
              "val (search)", "test mean ± 95% CI (seeds)"]
    rows = [header]
    for (task, method), result in sorted(best.items()):
        trials = sum(1 for r in results if r.task == task and r.method == method and r.phase == "search")
        summary = summaries.get((task, method))
        test = "-"
        if summary is not None:
            half = (summary.ci_high - summary.ci_low) / 2 if summary.n > 1 else float("nan")
            test = f"{summary.mean:.2f} ± {half:.2f} ({summary.n})"
        rows.append([
            task, method, str(trials),
            format_momentum(result.momentum),
            format_number(result.switch_interval, 1),
            format_number(result.horizon_ratio, 2),
            result.other_params or "-",
            f"{format_number(result.val_metric)} {result.metric}",
            test,
        ])
    return rows


def render_table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def summary_table(results: list[TrialResult]) -> str:
    """Return the best setting and metrics per task and method as an aligned table."""
    return render_table(summary_rows(results))
