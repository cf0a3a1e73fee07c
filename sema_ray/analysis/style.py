"""Shared look of the study figures: sizes, colors, axis labels and saving."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # file output only; no display is needed on a cluster node
import matplotlib.pyplot as plt
from matplotlib.ticker import FuncFormatter, NullFormatter

FIGURE_DPI = 100
PANEL_SIZE = (5.0, 4.0)  # inches per task panel
COLORS = {"basic": "black", "ema": "tab:blue", "sema": "tab:red", "swa": "tab:green",
          "lookahead": "tab:purple"}
METHOD_ORDER = ("basic", "ema", "sema", "swa", "lookahead")
# Metrics that tasks report in percent; the others are in the task's own units.
PERCENT_METRICS = ("accuracy", "ece")
MOMENTUM_AXIS_LABEL = "1 - momentum (log scale; right = slower average)"


def method_color(method: str) -> str:
    return COLORS.get(method, "tab:gray")


def metric_unit(metric: str) -> str:
    """Return the unit suffix of a metric for axis labels, e.g. " (%)"."""
    return " (%)" if metric in PERCENT_METRICS else ""


def metric_label(metric: str, mode: str, split: str = "validation") -> str:
    """Return an axis label such as "validation accuracy (%), higher is better"."""
    better = "higher is better" if mode == "max" else "lower is better"
    return f"{split} {metric}{metric_unit(metric)}, {better}"


def seeds_text(counts: list[int]) -> str:
    """Describe how many seeds stand behind each point: "1 seed", "2 seeds", "1-3 seeds"."""
    if not counts:
        return "no seeds"
    low, high = min(counts), max(counts)
    if low == high:
        return f"{low} seed" if low == 1 else f"{low} seeds"
    return f"{low}-{high} seeds"


def new_panels(count: int, size: tuple[float, float] = PANEL_SIZE):
    """Return a figure with `count` panels side by side and the list of their axes."""
    width, height = size
    figure, axes = plt.subplots(1, max(1, count), figsize=(width * max(1, count), height),
                                dpi=FIGURE_DPI, squeeze=False)
    return figure, list(axes[0])


def show_empty(axis, title: str, message: str) -> None:
    """Write `message` in the middle of an axis that has no data to draw."""
    axis.set_title(title)
    axis.text(0.5, 0.5, message, ha="center", va="center", wrap=True, transform=axis.transAxes)
    axis.set_xticks([])
    axis.set_yticks([])


def add_legend(axis) -> None:
    if axis.get_legend_handles_labels()[0]:
        axis.legend(loc="best", fontsize="x-small", framealpha=0.7)


def plain_number_ticks(axis_part) -> None:
    """Label a log-scaled axis (`axis.xaxis`, `axis.yaxis`) with plain numbers such as 0.5 and 2."""
    axis_part.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis_part.set_minor_formatter(NullFormatter())


def save_figure(figure, path: Path) -> None:
    """Save at the figure's own size (no tight bounding box), so the pixel size is predictable."""
    figure.tight_layout()
    figure.savefig(path, dpi=FIGURE_DPI)
    plt.close(figure)


def finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
