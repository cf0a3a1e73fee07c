"""The plain-text summary table a study prints at the end."""

from __future__ import annotations

from sema_ray.study.results import TrialResult, best_per_method


def format_number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_momentum(value: float | None) -> str:
    # Enough digits to tell 0.999 from 0.9995 apart.
    return "-" if value is None else f"{value:.5f}".rstrip("0")


def summary_table(results: list[TrialResult]) -> str:
    """Return the best setting and metric per task and method as an aligned table."""
    best = best_per_method(results)
    header = ["task", "method", "trials", "momentum", "switch_interval", "r", "val", "test"]
    rows = [header]
    for (task, method), result in sorted(best.items()):
        trials = sum(1 for r in results if r.task == task and r.method == method)
        rows.append([
            task,
            method,
            str(trials),
            format_momentum(result.momentum),
            format_number(result.switch_interval, 1),
            format_number(result.horizon_ratio, 2),
            f"{format_number(result.val_metric)} {result.metric}",
            format_number(result.test_metric),
        ])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)) for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
