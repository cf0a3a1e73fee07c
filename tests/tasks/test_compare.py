"""compare: the single-process basic / EMA / SEMA run and its command line."""

from __future__ import annotations

import pytest

from sema_ray.tasks.compare import averager_arguments, main, train_methods


def test_methods_start_from_same_weights():
    results = train_methods("moons", ("basic", "ema"), recipe={"epochs": 1}, momentum=0.5)
    assert set(results) == {"basic", "ema"}
    for result in results.values():
        assert set(result.test) == {"accuracy", "loss", "ece"}
    # Same seed, same batches: the two runs differ only in the averaged weights.
    basic = results["basic"].model[0].weight
    ema = results["ema"].model[0].weight
    assert not basic.equal(ema)
    assert (basic - ema).abs().max() < 0.1


def test_cli_saves_boundary_plot(tmp_path, capsys):
    path = tmp_path / "boundary.png"
    exit_code = main(["circles", "--recipe", "epochs=2", "--momentum", "0.8", "--plot", str(path)])
    assert exit_code == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    output = capsys.readouterr().out
    assert "sema" in output
    assert "ece" in output


def test_cli_rejects_plot_for_other_tasks(capsys):
    with pytest.raises(SystemExit) as error:
        main(["diabetes", "--plot", "out.png"])
    assert error.value.code == 2
    assert "--plot needs a 2-D task" in capsys.readouterr().err


def test_cli_reports_bad_option(capsys):
    assert main(["diabetes", "--option", "width=3"]) == 2
    assert "valid options: hidden_size" in capsys.readouterr().err


def test_method_settings_reach_averagers():
    settings = {"swa": {"start_epoch": 0, "every_epochs": 0.5}, "lookahead": {"k": 3.0, "alpha": 0.8},
                "sema": {"momentum": 0.7, "switch_interval": 0.5}}
    results = train_methods("moons", ("swa", "lookahead", "sema"), method_settings=settings,
                            recipe={"epochs": 1})
    assert set(results) == {"swa", "lookahead", "sema"}


@pytest.mark.parametrize("method, settings, expected", [
    ("sema", {"momentum": 0.9, "switch_interval": 0.5}, {"momentum": 0.9, "switch_every": 5}),
    ("ema", {"momentum": 0.9, "switch_interval": 0.5}, {"momentum": 0.9}),
    ("swa", {}, {"start_step": 75, "every": 10}),  # the last quarter of 10 epochs
    ("swa", {"start_epoch": 0, "every_epochs": 0.01}, {"start_step": 1, "every": 1}),
    ("lookahead", {"k": 5.0, "alpha": 0.5}, {"k": 5, "alpha": 0.5}),
    ("basic", {"momentum": 0.9}, {}),
])
def test_averager_arguments_in_steps(method, settings, expected):
    assert averager_arguments(method, settings, epochs=10, steps_per_epoch=10) == expected
