"""The study file schema: typed, validated before any Ray worker starts.

A study file is YAML. Every key is checked here, and a bad file raises `StudyError`
with one line that names the key path, the bad value and what is allowed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sema_ray.tasks import Recipe, get_task, task_names

METHODS = ("basic", "ema", "sema", "swa", "lookahead")
SAMPLERS = ("tpe", "gp", "random", "grid")
# Keys of a method's search space that each method accepts.
METHOD_KEYS = {
    "basic": (),
    "ema": ("momentum",),
    "sema": ("momentum", "switch_interval"),
    "swa": ("start_epoch", "every_epochs"),
    "lookahead": ("k", "alpha"),
}


class StudyError(ValueError):
    """A study file or command-line input that cannot run; the message is one line."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MomentumRange(_Strict):
    """Searches `log10(1 - momentum)` uniformly in [low, high], e.g. [-4, -1]."""

    log10_range: tuple[float, float]

    @field_validator("log10_range")
    @classmethod
    def _check_range(cls, value: tuple[float, float]) -> tuple[float, float]:
        low, high = value
        if not (-8.0 <= low < high < 0.0):
            raise ValueError(
                f"{list(value)} is not a range of log10(1 - momentum); "
                "use [low, high] with -8 <= low < high < 0, e.g. [-4, -1] for 0.9..0.9999"
            )
        return value


class MethodSpace(_Strict):
    """Search space of one averaging method; a scalar fixes a value, a list is searched."""

    # A number, a list of numbers, or {log10_range: [low, high]} in log10(1 - momentum).
    momentum: float | list[float] | MomentumRange | None = None
    switch_interval: float | list[float] | None = None  # epochs between switches (sema)
    start_epoch: float | list[float] | None = None  # swa: epoch at which averaging starts
    every_epochs: float | list[float] | None = None  # swa: epochs between averaged snapshots
    k: float | list[float] | None = None  # lookahead: fast steps per slow update
    alpha: float | list[float] | None = None  # lookahead: slow step size in (0, 1]
    trials: int | None = Field(default=None, ge=1)  # overrides search.trials

    @field_validator("momentum", mode="before")
    @classmethod
    def _check_momentum(cls, value):
        if value is None:
            return value
        if isinstance(value, dict):
            try:
                return MomentumRange.model_validate(value)
            except ValidationError as error:
                raise ValueError(_describe(error, value)) from None
        for item in _as_number_list(value, "a momentum in (0, 1), e.g. 0.99"):
            if not 0.0 < item < 1.0:
                raise ValueError(f"{item} is outside (0, 1); use e.g. 0.99 or 0.999")
        return value

    @field_validator("switch_interval", mode="before")
    @classmethod
    def _check_interval(cls, value):
        if value is None:
            return value
        for item in _as_number_list(value, "a number of epochs, e.g. 1"):
            if not (item > 0 and math.isfinite(item)):
                raise ValueError(f"{item} is not a positive number of epochs; use e.g. 0.5, 1 or 2")
        return value


def _as_number_list(value: Any, expected: str) -> list[float]:
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValueError(f"an empty list; give at least one value: {expected}")
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            raise ValueError(f"{item!r} is not a number; expected {expected}")
    return [float(item) for item in items]


class TaskEntry(_Strict):
    """A task by name, with optional overrides of its default recipe."""

    name: str
    recipe: dict[str, Any] = Field(default_factory=dict)
    options: dict[str, Any] = Field(default_factory=dict)  # task-specific, e.g. a data path
    data_seed: int = 0  # fixes the train/validation/test split

    @field_validator("name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        if value not in task_names():
            raise ValueError(f"{value!r} is not a known task; valid tasks: {', '.join(task_names())}")
        return value

    @model_validator(mode="after")
    def _check_recipe(self) -> "TaskEntry":
        try:
            self.resolved_recipe()
        except (ValueError, TypeError) as error:
            raise ValueError(f"recipe: {error}") from None
        try:
            self.resolved_options()
        except ValueError as error:
            raise ValueError(f"options: {error}") from None
        return self

    def resolved_options(self) -> dict[str, Any]:
        """Return the task's option defaults with this entry's options applied."""
        return get_task(self.name).resolve_options(self.options)

    def resolved_recipe(self) -> Recipe:
        """Return the task's default recipe with this entry's overrides applied."""
        return get_task(self.name).resolve_recipe(self.recipe)


class AshaConfig(_Strict):
    """ASHA early stopping (Ray Tune's AsyncHyperBandScheduler), measured in epochs."""

    grace_period: int = Field(default=1, ge=1)  # epochs every trial runs before it can stop
    reduction_factor: float = Field(default=2.0, gt=1)


class SearchConfig(_Strict):
    sampler: Literal["tpe", "gp", "random", "grid"] = "tpe"  # Optuna sampler
    trials: int = Field(default=4, ge=1)  # trials per task and searched method (not grid)
    seed: int = 0  # seeds the sampler
    # Training seeds of the search. Samplers train every setting with the first seed
    # (common random numbers keep settings comparable); grid trains every cell with each.
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    asha: AshaConfig | None = None

    @model_validator(mode="after")
    def _check_seeds(self) -> "SearchConfig":
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds: {self.seeds} repeats a seed; list each seed once")
        if len(self.seeds) > 1 and self.sampler != "grid":
            raise ValueError(
                f"seeds: {self.seeds} has several seeds, which only sampler 'grid' uses; "
                "give one seed, or set sampler: grid"
            )
        return self


class EvaluationConfig(_Strict):
    """Re-runs of each method's best setting on the test split with fresh seeds."""

    seeds: int = Field(default=5, ge=0)  # 0 skips the evaluation phase
    first_seed: int = 1000  # evaluation seeds are first_seed, first_seed + 1, ...

    def seed_list(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.seeds))


class ResourcesConfig(_Strict):
    workers: int = Field(default=2, ge=1)  # DDP workers per trial
    cpus_per_worker: float | Literal["auto"] = "auto"
    gpus_per_worker: float = Field(default=0.0, ge=0)  # fractions share one GPU
    trials_at_once: int | Literal["auto"] = "auto"

    @field_validator("cpus_per_worker")
    @classmethod
    def _check_cpus(cls, value):
        if value != "auto" and not value > 0:
            raise ValueError(f"{value} must be a positive number of CPUs or 'auto'")
        return value

    @field_validator("trials_at_once")
    @classmethod
    def _check_trials_at_once(cls, value):
        if value != "auto" and value < 1:
            raise ValueError(f"{value} must be at least 1 or 'auto'")
        return value


class TrackingConfig(_Strict):
    uri: str | None = None  # MLflow tracking URI; default: MLFLOW_TRACKING_URI or sqlite in output
    experiment: str | None = None  # default: the study name


# URI schemes Ray Train and Tune can persist to (through pyarrow filesystems).
STORAGE_SCHEMES = ("s3", "gs", "gcs", "abfs", "abfss", "hdfs", "file")


class OutputConfig(_Strict):
    dir: str | None = None  # results, plots, report, local MLflow store; default ./<name>
    storage: str | None = None  # Ray checkpoints and experiment state; default <dir>/ray

    @field_validator("storage")
    @classmethod
    def _check_storage(cls, value: str | None) -> str | None:
        if value is None or "://" not in value:
            return value
        scheme = value.split("://", 1)[0]
        if scheme not in STORAGE_SCHEMES:
            raise ValueError(
                f"{value!r} has an unsupported scheme {scheme!r}; "
                f"use a local path or one of {', '.join(s + '://' for s in STORAGE_SCHEMES)}"
            )
        return value


class StudyConfig(_Strict):
    """A whole study: which tasks, which methods with which search spaces, and where to."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    tasks: list[TaskEntry] = Field(min_length=1)
    methods: dict[str, MethodSpace] = Field(min_length=1)
    search: SearchConfig = SearchConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    resources: ResourcesConfig = ResourcesConfig()
    tracking: TrackingConfig = TrackingConfig()
    output: OutputConfig = OutputConfig()

    @field_validator("methods")
    @classmethod
    def _check_methods(cls, value: dict[str, MethodSpace]) -> dict[str, MethodSpace]:
        for method, space in value.items():
            if method not in METHODS:
                raise ValueError(f"{method!r} is not a method; valid methods: {', '.join(METHODS)}")
            _check_method_keys(method, space)
        return value

    def storage_path(self, output_dir: Path) -> str:
        """Return where Ray keeps experiment state and checkpoints: a URI or an absolute path."""
        storage = self.output.storage
        if storage and "://" in storage:
            return storage
        return str(Path(storage).resolve()) if storage else str(output_dir.resolve() / "ray")

    @model_validator(mode="after")
    def _check_seed_separation(self) -> "StudyConfig":
        shared = sorted(set(self.search.seeds) & set(self.evaluation.seed_list()))
        if shared:
            raise ValueError(
                f"evaluation.first_seed: seeds {shared} are also search seeds; the comparison "
                "must use seeds the search never saw, so raise evaluation.first_seed"
            )
        if self.search.sampler == "grid":
            for method, space in self.methods.items():
                if isinstance(space.momentum, MomentumRange):
                    raise ValueError(
                        f"methods.{method}.momentum: a log10_range cannot be searched by sampler "
                        "'grid'; give a list of momentum values, e.g. [0.99, 0.999]"
                    )
        return self


def _check_method_keys(method: str, space: MethodSpace) -> None:
    allowed = METHOD_KEYS[method]
    for key in ("momentum", "switch_interval", "start_epoch", "every_epochs", "k", "alpha"):
        if getattr(space, key) is not None and key not in allowed:
            valid = ", ".join(allowed) or "none"
            raise ValueError(f"{method}: {key} does not apply to {method}; its keys: {valid}")
    if method in ("ema", "sema") and space.momentum is None:
        raise ValueError(f"{method}: momentum is missing; e.g. momentum: {{log10_range: [-4, -1]}}")
    if method == "sema" and space.switch_interval is None:
        raise ValueError("sema: switch_interval is missing; e.g. switch_interval: [0.5, 1, 2, 5]")
    if method == "lookahead" and space.alpha is not None:
        for alpha in space.alpha if isinstance(space.alpha, list) else [space.alpha]:
            if not 0 < alpha <= 1:
                raise ValueError(f"lookahead: alpha {alpha} is outside (0, 1]; e.g. alpha: 0.5")


def parse_study(data: Any, source: str) -> StudyConfig:
    """Validate a parsed YAML document; raise StudyError naming key, value and fix."""
    if not isinstance(data, dict):
        raise StudyError(f"{source}: expected a mapping of study keys, got {type(data).__name__}")
    try:
        return StudyConfig.model_validate(data)
    except ValidationError as error:
        raise StudyError(f"{source}: {_describe(error, data)}") from None


def load_study(path: str | Path) -> StudyConfig:
    """Read and validate a study file."""
    path = Path(path)
    if not path.is_file():
        raise StudyError(f"study file not found: {path}; pass the path of a YAML study file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise StudyError(f"{path}: invalid YAML: {' '.join(str(error).split())}") from None
    return parse_study(data, str(path))


def _describe(error: ValidationError, data: Any) -> str:
    """Turn pydantic's first error into one line: key path, value, what is allowed."""
    first = error.errors()[0]
    location = [part for part in first["loc"] if not str(part).startswith(("function-", "union"))]
    key = _format_location(location)
    kind = first["type"]
    if kind == "extra_forbidden":
        return f"{key}: unknown key; remove it or check its spelling"
    if kind == "missing":
        return f"{key}: required key is missing"
    message = first["msg"].removeprefix("Value error, ")
    value = first.get("input")
    if kind.startswith("value_error"):
        return f"{key}: {message}"
    return f"{key}: invalid value {value!r}: {message}"


def _format_location(location: list) -> str:
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part in ("float", "list[float]", "MomentumRange", "int", "str", "literal['auto']"):
            # pydantic names the union member it tried; the user's key path ends before it.
            continue
        else:
            text += f".{part}" if text else str(part)
    return text or "study"
