"""Time one averaging update against other EMA implementations and the bandwidth floor.

Cases, all on the same parameter set in one process:

- floor: one ``lerp_`` over a single contiguous buffer as large as the averaged
  tensors. It reads the fast and shadow weights and writes the shadow once, the
  least memory traffic any EMA update can have.
- naive loop: a Python loop of ``mul_`` and ``add_`` over the tensors.
- timm ModelEmaV3: ``ModelEmaV3.update(model)`` (foreach lerp over state dicts).
- torch AveragedModel: ``update_parameters`` with ``get_ema_multi_avg_fn``.
- sema_ray foreach / flat: ``SwitchEMA.update()`` with each layout.

Every case averages parameters and floating-point buffers in float32. Results are
printed as a Markdown table of ratios to the floor and written as JSON.
"""

from __future__ import annotations

import argparse
import logging

import torch

from sema_ray.averaging import SwitchEMA

from .timing import (
    format_table,
    machine_info,
    resolve_device,
    summarize_ms,
    time_interleaved,
    write_json,
)

logger = logging.getLogger(__name__)

DEFAULT_MODELS = ("resnet50", "deit_small_patch16_224")
FLOOR = "floor (one flat lerp)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--models", nargs="+", default=list(DEFAULT_MODELS), help="timm model names"
    )
    parser.add_argument(
        "--device", default="auto", help="cpu, cuda, cuda:N, or auto (CUDA when available)"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    parser.add_argument("--momentum", type=float, default=0.999, help="EMA momentum (timm's decay)")
    parser.add_argument("--rounds", type=int, default=30, help="timing samples per case")
    parser.add_argument("--repeat", type=int, default=5, help="updates averaged into one sample")
    parser.add_argument("--output", default="bench-results/update.json", help="JSON result path")


def _build_cases(model_name: str, device: torch.device, momentum: float) -> tuple[dict, dict]:
    """Return the timed callables for one model and a description of its tensors."""
    import timm
    from timm.utils.model_ema import ModelEmaV3
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    def fresh_model():
        torch.manual_seed(0)
        return timm.create_model(model_name, pretrained=False).to(device)

    model = fresh_model()
    floating = [t.detach() for t in model.state_dict().values() if t.is_floating_point()]
    weight = 1.0 - momentum

    fast_flat = torch.cat([t.reshape(-1) for t in floating])
    shadow_flat = fast_flat.clone()

    naive_shadow = [t.clone() for t in floating]

    def naive_loop():
        for shadow, fast in zip(naive_shadow, floating):
            shadow.mul_(momentum).add_(fast, alpha=weight)

    timm_ema = ModelEmaV3(model, decay=momentum)
    torch_average = AveragedModel(
        model, multi_avg_fn=get_ema_multi_avg_fn(momentum), use_buffers=True
    )
    ours_foreach = SwitchEMA(model, momentum=momentum)
    # The flat layout re-points the model's tensors, so it gets a model of its own.
    ours_flat = SwitchEMA(fresh_model(), momentum=momentum, layout="flat")

    cases = {
        FLOOR: lambda: shadow_flat.lerp_(fast_flat, weight),
        "naive per-tensor loop": naive_loop,
        "timm ModelEmaV3": lambda: timm_ema.update(model),
        "torch AveragedModel (get_ema_multi_avg_fn)": lambda: torch_average.update_parameters(
            model
        ),
        "sema_ray SwitchEMA, layout=foreach (default)": ours_foreach.update,
        "sema_ray SwitchEMA, layout=flat": ours_flat.update,
    }
    tensors = {
        "tensors": len(floating),
        "elements": fast_flat.numel(),
        "megabytes": fast_flat.numel() * 4 / 1e6,
    }
    return cases, tensors


def run_update_benchmark(
    models=DEFAULT_MODELS,
    device: str = "auto",
    momentum: float = 0.999,
    rounds: int = 30,
    repeat: int = 5,
) -> dict:
    """Run the update benchmark and return its results (importable entry point)."""
    resolved = resolve_device(device)
    results = {}
    for model_name in models:
        cases, tensors = _build_cases(model_name, resolved, momentum)
        samples = time_interleaved(cases, resolved, rounds=rounds, repeat=repeat)
        del cases

        floor = summarize_ms(samples[FLOOR])
        summaries = {}
        for name, values in samples.items():
            summary = summarize_ms(values)
            summary["ratio_to_floor"] = summary["median_ms"] / floor["median_ms"]
            # The minimum is the least disturbed sample, useful on a shared machine.
            summary["min_ratio_to_floor"] = summary["min_ms"] / floor["min_ms"]
            summary["samples_ms"] = [value * 1e3 for value in values]
            summaries[name] = summary
        results[model_name] = {**tensors, "cases": summaries}

    return {
        "benchmark": "update",
        "machine": machine_info(resolved),
        "settings": {"momentum": momentum, "rounds": rounds, "repeat": repeat, "dtype": "float32"},
        "results": results,
    }


def format_results(payload: dict) -> str:
    """Return one Markdown table per model: times and ratios to the floor."""
    header = ["case", "median ms", "p25-p75 ms", "min ms", "x floor (median)", "x floor (min)"]
    tables = []
    for model_name, result in payload["results"].items():
        rows = [
            [
                name,
                f"{case['median_ms']:.2f}",
                f"{case['p25_ms']:.2f}-{case['p75_ms']:.2f}",
                f"{case['min_ms']:.2f}",
                f"{case['ratio_to_floor']:.2f}",
                f"{case['min_ratio_to_floor']:.2f}",
            ]
            for name, case in result["cases"].items()
        ]
        title = (
            f"{model_name}: {result['tensors']} tensors, {result['megabytes']:.0f} MB in float32"
        )
        tables.append(title + "\n\n" + format_table(header, rows))
    return "\n\n".join(tables)


def run(args: argparse.Namespace) -> dict:
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    payload = run_update_benchmark(
        args.models, args.device, args.momentum, args.rounds, args.repeat
    )
    print(format_results(payload))
    path = write_json(args.output, payload)
    logger.info("wrote %s", path)
    return payload
