"""Statistics over evaluation seeds: per-method summaries and paired comparisons.

Confidence intervals are two-sided 95% Student-t intervals. SEMA is compared with
each baseline by a paired two-sided t-test over the evaluation seeds both methods ran
(the same seed gives both methods the same initialisation and data order).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

from sema_ray.study.results import TrialResult

CONFIDENCE = 0.95


@dataclass(frozen=True)
class MethodSummary:
    """The test metric of one method on one task over its evaluation seeds."""

    task: str
    method: str
    n: int
    mean: float
    std: float  # sample standard deviation (ddof=1); 0 for one seed
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class PairedComparison:
    """SEMA minus a baseline over the seeds both ran; positive is better for mode=max."""

    task: str
    baseline: str
    n: int
    mean_diff: float
    ci_low: float
    ci_high: float
    p_value: float | None  # paired two-sided t-test; None with fewer than 2 pairs


@dataclass(frozen=True)
class SettingSummary:
    """The validation metric of one searched setting of a method, over the seeds it ran."""

    task: str
    method: str
    metric: str
    mode: str
    momentum: float | None
    switch_interval: float | None
    other_params: str  # JSON of the remaining method settings, as in TrialResult
    n: int  # seeds
    mean: float
    ci_low: float  # NaN with one seed
    ci_high: float
    horizon_ratio: float | None  # sema only: switch_every_steps * (1 - momentum)


def mean_ci(values: list[float]) -> tuple[float, float, float, float]:
    """Return (mean, std, ci_low, ci_high) of `values` with a Student-t interval."""
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, 0.0, math.nan, math.nan
    std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, df=n - 1) * std / math.sqrt(n)
    return mean, std, mean - half, mean + half


def evaluation_values(results: list[TrialResult], task: str, method: str) -> dict[int, float]:
    """Return test metric by seed for the evaluation runs of one method on one task."""
    return {
        r.seed: r.test_metric for r in results
        if r.phase == "evaluation" and r.task == task and r.method == method
        and r.status == "ok" and r.test_metric is not None
    }


def summarize(results: list[TrialResult]) -> list[MethodSummary]:
    summaries = []
    pairs = sorted({(r.task, r.method) for r in results if r.phase == "evaluation"})
    for task, method in pairs:
        values = list(evaluation_values(results, task, method).values())
        if values:
            mean, std, low, high = mean_ci(values)
            summaries.append(MethodSummary(task, method, len(values), mean, std, low, high))
    return summaries


def compare_paired(results: list[TrialResult], target: str = "sema") -> list[PairedComparison]:
    """Compare `target` with every other evaluated method, task by task."""
    comparisons = []
    tasks = sorted({r.task for r in results if r.phase == "evaluation"})
    for task in tasks:
        ours = evaluation_values(results, task, target)
        if not ours:
            continue
        methods = sorted({r.method for r in results if r.task == task and r.phase == "evaluation"})
        for baseline in methods:
            if baseline == target:
                continue
            theirs = evaluation_values(results, task, baseline)
            seeds = sorted(set(ours) & set(theirs))
            if not seeds:
                continue
            diffs = [ours[seed] - theirs[seed] for seed in seeds]
            mean, _, low, high = mean_ci(diffs)
            p_value = None
            if len(seeds) >= 2:
                p_value = float(stats.ttest_rel([ours[s] for s in seeds], [theirs[s] for s in seeds]).pvalue)
                if math.isnan(p_value):
                    # Identical differences on every seed: no spread to test against.
                    p_value = 1.0 if mean == 0 else 0.0
            comparisons.append(PairedComparison(task, baseline, len(seeds), mean, low, high, p_value))
    return comparisons


def summarize_settings(results: list[TrialResult]) -> list[SettingSummary]:
    """Return one summary per (task, method, setting) of the finished search trials.

    Settings are ordered by task, method, momentum and switch interval. A grid study
    with several search seeds gets a mean and a confidence interval per setting. A
    sampler trains each setting once, so its interval is NaN.
    """
    groups: dict[tuple, list[TrialResult]] = {}
    for r in results:
        if r.phase == "search" and r.status == "ok" and r.val_metric is not None:
            groups.setdefault((r.task, r.method, r.setting()), []).append(r)

    summaries = []
    for (task, method, setting), rows in groups.items():
        mean, _, low, high = mean_ci([r.val_metric for r in rows])
        ratios = [r.horizon_ratio for r in rows if r.horizon_ratio is not None]
        momentum, switch_interval, other_params = setting
        summaries.append(SettingSummary(
            task=task, method=method, metric=rows[0].metric, mode=rows[0].mode,
            momentum=momentum, switch_interval=switch_interval, other_params=other_params,
            n=len(rows), mean=mean, ci_low=low, ci_high=high,
            horizon_ratio=sum(ratios) / len(ratios) if ratios else None,
        ))
    return sorted(summaries, key=_setting_order)


def _setting_order(summary: SettingSummary) -> tuple:
    return (summary.task, summary.method, summary.momentum or 0.0, summary.switch_interval or 0.0,
            summary.other_params)


def best_setting(summaries: list[SettingSummary]) -> SettingSummary | None:
    """Return the summary with the best mean (by each summary's mode), or None if empty."""
    if not summaries:
        return None
    if summaries[0].mode == "max":
        return max(summaries, key=lambda s: s.mean)
    return min(summaries, key=lambda s: s.mean)
