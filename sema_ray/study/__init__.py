"""Study files, their validation, and the Ray Tune runner (`python -m sema_ray.study`)."""
