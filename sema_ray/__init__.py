"""Switch EMA (SEMA) weight averaging and distributed studies of it.

The package root stays light: `import sema_ray.averaging` needs only torch, and the
study runner imports Ray, Optuna and MLflow only when it runs.
"""

__version__ = "0.1.0"
