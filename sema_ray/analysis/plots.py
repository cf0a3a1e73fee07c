"""Robustness plots of a study, written as PNG files."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # file output only; no display is needed on a cluster node
import matplotlib.pyplot as plt  # noqa: E402

from sema_ray.study.results import TrialResult  # noqa: E402

FIGURE_DPI = 100
PANEL_SIZE = (5.0, 4.0)  # inches per task panel
COLORS = {"basic": "black", "ema": "tab:blue", "sema": "tab:red"}


def plot_metric_vs_momentum(results: list[TrialResult], path: Path) -> dict:
    """Plot the validation metric against momentum for ema and sema, one panel per task.

    The x axis is 1 - momentum on a log scale, reversed so slower averages sit to the
    right; basic (no averaging) is a horizontal reference line. Returns the plotted
    points per task and method, so callers and tests can check what was drawn.
    """
    ok = [result for result in results
          if result.phase == "search" and result.status == "ok" and result.val_metric is not None]
    tasks = sorted({result.task for result in results})
    width, height = PANEL_SIZE
    figure, axes = plt.subplots(1, len(tasks), figsize=(width * len(tasks), height),
                                dpi=FIGURE_DPI, squeeze=False)
    drawn: dict[str, dict] = {}

    for axis, task in zip(axes[0], tasks):
        rows = [result for result in ok if result.task == task]
        drawn[task] = {}
        for method in ("ema", "sema"):
            points = sorted((r.momentum, r.val_metric) for r in rows if r.method == method)
            drawn[task][method] = points
            if points:
                axis.plot([1 - m for m, _ in points], [v for _, v in points], "o", ms=6,
                          color=COLORS[method], label=f"{method} ({len(points)} trials)")
        basic = [r.val_metric for r in rows if r.method == "basic"]
        drawn[task]["basic"] = basic
        if basic:
            level = sum(basic) / len(basic)
            axis.axhline(level, color=COLORS["basic"], ls="--", label=f"basic ({len(basic)} trials)")

        metric = rows[0].metric if rows else "metric"
        unit = " (%)" if metric == "accuracy" else ""
        axis.set_xscale("log")
        axis.invert_xaxis()
        axis.set_xlabel("1 - momentum (log scale; right = slower average)")
        axis.set_ylabel(f"validation {metric}{unit}, last epoch")
        axis.set_title(f"{task}: 1 seed per trial")
        axis.grid(True, which="both", alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(loc="best", fontsize="small")

    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return drawn
