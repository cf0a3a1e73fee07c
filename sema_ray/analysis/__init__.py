"""Statistics, plots, tables and the report over the results of a study."""

from sema_ray.analysis.convergence import plot_convergence
from sema_ray.analysis.cross_task import plot_sema_gains, plot_shared_setting_regret
from sema_ray.analysis.figures import (
    Figure,
    write_boundary_figure,
    write_study_figures,
    write_task_figures,
)
from sema_ray.analysis.importance import plot_param_importances
from sema_ray.analysis.plots import plot_metric_vs_momentum, plot_metric_vs_switch_interval
from sema_ray.analysis.report import StudyReport, TrackingSummary, write_html_report, write_report
from sema_ray.analysis.surface import plot_momentum_interval_surface

__all__ = [
    "Figure",
    "StudyReport",
    "TrackingSummary",
    "plot_convergence",
    "plot_metric_vs_momentum",
    "plot_metric_vs_switch_interval",
    "plot_momentum_interval_surface",
    "plot_param_importances",
    "plot_sema_gains",
    "plot_shared_setting_regret",
    "write_boundary_figure",
    "write_html_report",
    "write_report",
    "write_study_figures",
    "write_task_figures",
]
