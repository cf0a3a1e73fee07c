"""MLflow layout of a study: one experiment, a study run, nested task and trial runs."""

from sema_ray.tracking.import_runs import ImportSummary, import_runs
from sema_ray.tracking.provenance import provenance_tags
from sema_ray.tracking.study import StudyTracker, resolve_tracking_uri
from sema_ray.tracking.trial import TrialRecorder

__all__ = ["ImportSummary", "StudyTracker", "TrialRecorder", "import_runs", "provenance_tags",
           "resolve_tracking_uri"]
