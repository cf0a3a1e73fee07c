"""The study report: best settings, statistics, robustness, figures, provenance.

The content is built once as a list of blocks (headings, paragraphs, tables, figures)
and rendered twice. `report.md` links the PNG files next to it. `report.html` embeds
every PNG as base64, so it can be mailed or opened from an MLflow artifact view.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from sema_ray.analysis.document import (
    Block,
    Heading,
    Image,
    Paragraph,
    Table,
    render_html,
    render_markdown,
)
from sema_ray.analysis.figures import Figure
from sema_ray.analysis.robust import RobustSetting
from sema_ray.analysis.stats import MethodSummary, PairedComparison
from sema_ray.analysis.table import summary_rows
from sema_ray.study.results import TrialResult


@dataclass(frozen=True)
class TrackingSummary:
    """Location of the study's MLflow runs, and the commands that open or import them."""

    uri: str
    experiment: str
    experiment_id: str
    study_run_id: str
    ui_command: str
    import_command: str = ""  # set when the runs went to a local store instead of the server


@dataclass(frozen=True)
class StudyReport:
    study: str
    results: list[TrialResult]
    summaries: list[MethodSummary]
    comparisons: list[PairedComparison]
    robust: RobustSetting | None
    figures: list[Figure] = field(default_factory=list)
    tracking: TrackingSummary | None = None
    provenance: dict[str, str] = field(default_factory=dict)  # tag name -> value


def _num(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


def best_setting_blocks(report: StudyReport) -> list[Block]:
    return [Heading("Best setting per task and method"),
            Paragraph("Chosen on the validation split during the search; the test column comes only "
                      "from re-runs of that setting with fresh seeds. `r` is the horizon ratio "
                      "switch_every_steps x (1 - momentum)."),
            Table(summary_rows(report.results))]


def statistics_blocks(report: StudyReport) -> list[Block]:
    blocks: list[Block] = []
    if report.summaries:
        rows = [["task", "method", "seeds", "mean", "std", "95% CI"]]
        rows += [[s.task, s.method, str(s.n), _num(s.mean), _num(s.std),
                  f"[{_num(s.ci_low)}, {_num(s.ci_high)}]"] for s in report.summaries]
        blocks += [Heading("Test metric over evaluation seeds"), Table(rows)]
    if report.comparisons:
        rows = [["task", "sema minus", "seeds", "mean difference", "95% CI", "p-value"]]
        rows += [[c.task, c.baseline, str(c.n), _num(c.mean_diff), f"[{_num(c.ci_low)}, {_num(c.ci_high)}]",
                  _num(c.p_value, 4)] for c in report.comparisons]
        blocks += [Heading("SEMA against each baseline"),
                   Paragraph("Paired over the same evaluation seeds; p-values from a paired two-sided "
                             "Student t-test (scipy.stats.ttest_rel)."),
                   Table(rows)]
    return blocks


def robust_blocks(report: StudyReport) -> list[Block]:
    blocks: list[Block] = [Heading("One setting for every task")]
    if report.robust is None:
        return blocks + [Paragraph("No SEMA setting ran on every task, so no shared setting can be "
                                   "judged. Search SEMA with lists or `sampler: grid` to answer this.")]
    robust = report.robust
    settings = ", ".join(f"{key}={value:g}" for key, value in sorted(robust.settings.items()))
    rows = [["task", "regret (% of the best validation value)"]]
    rows += [[task, _num(value)] for task, value in sorted(robust.regret_by_task.items())]
    return blocks + [Paragraph(f"Out of {robust.candidates} settings that ran on every task, **{settings}** "
                               f"has the smallest worst-case regret: {_num(robust.worst_regret)}% of a "
                               "task's best value."),
                     Table(rows)]


def failure_blocks(report: StudyReport) -> list[Block]:
    failed = [r for r in report.results if r.status == "failed"]
    if not failed:
        return [Heading("Failed trials"), Paragraph("None.")]
    rows = [["task", "method", "phase", "seed", "reason"]]
    rows += [[r.task, r.method, r.phase, str(r.seed), r.error.replace("|", "/")[:200]] for r in failed]
    return [Heading("Failed trials"), Table(rows)]


def figure_blocks(report: StudyReport) -> list[Block]:
    blocks: list[Block] = [Heading("Figures")]
    if not report.figures:
        return blocks + [Paragraph("None.")]
    for figure in report.figures:
        blocks.append(Heading(figure.title, level=3))
        if figure.path is None:
            blocks.append(Paragraph(f"Not drawn: {figure.error}"))
        else:
            blocks.append(Image(figure.title, figure.name, figure.path))
    return blocks


def tracking_blocks(report: StudyReport) -> list[Block]:
    blocks: list[Block] = [Heading("Records and provenance")]
    tracking = report.tracking
    if tracking is not None:
        blocks.append(Table([
            ["MLflow", "value"],
            ["tracking URI", f"`{tracking.uri}`"],
            ["experiment", f"{tracking.experiment} (id {tracking.experiment_id})"],
            ["study run", f"`{tracking.study_run_id}`"],
            ["open the runs", f"`{tracking.ui_command}`"],
        ]))
        if tracking.import_command:
            blocks.append(Paragraph("The tracking server could not be reached, so the runs are in the "
                                    f"local store above. Import them once it is up: `{tracking.import_command}`"))
    if report.provenance:
        blocks.append(Table([["provenance", "value"]]
                            + [[key, f"`{value}`"] for key, value in sorted(report.provenance.items())]))
    return blocks


def report_blocks(report: StudyReport) -> list[Block]:
    """Return the report's content in reading order."""
    return ([Heading(f"Study `{report.study}`", level=1)] + best_setting_blocks(report)
            + statistics_blocks(report) + robust_blocks(report) + failure_blocks(report)
            + figure_blocks(report) + tracking_blocks(report))


def render_report(report: StudyReport) -> str:
    """Return the report as markdown text."""
    return render_markdown(report_blocks(report))


def write_report(report: StudyReport, path: Path) -> Path:
    """Write the markdown report; its images are the PNG files beside it."""
    path.write_text(render_report(report), encoding="utf-8")
    return path


def write_html_report(report: StudyReport, path: Path) -> Path:
    """Write the self-contained HTML report, with every figure embedded."""
    path.write_text(render_html(f"Study {report.study}", report_blocks(report)), encoding="utf-8")
    return path
