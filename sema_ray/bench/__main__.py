"""Command line for the benchmarks: ``python -m sema_ray.bench {update,step,scaling,study} [options]``.

Examples::

    python -m sema_ray.bench update --threads 2
    python -m sema_ray.bench step --device cuda
"""

from __future__ import annotations

import argparse
import importlib
import logging

# Subcommand -> module with add_arguments(parser) and run(args). Adding a benchmark
# is one entry here. Every module is imported to register its options, so heavy
# imports (timm) belong inside run().
SUBCOMMANDS = {
    "update": "sema_ray.bench.update",
    "step": "sema_ray.bench.step",
    "scaling": "sema_ray.bench.scaling",
    "study": "sema_ray.bench.study",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m sema_ray.bench", description=__doc__.splitlines()[0]
    )
    subparsers = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    for name, module_name in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        summary = (module.__doc__ or name).strip().splitlines()[0]
        subparser = subparsers.add_parser(name, help=summary, description=module.__doc__)
        module.add_arguments(subparser)
        subparser.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args = build_parser().parse_args(argv)
    args.run(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
