"""Performance measurements users can rerun: ``python -m sema_ray.bench SUBCOMMAND``.

Subcommands live in ``__main__.SUBCOMMANDS``; each is a module with
``add_arguments(parser)`` and ``run(args)``. timm is imported only by the
benchmarks that need it.
"""
