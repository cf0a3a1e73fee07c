"""compare: the single-process basic / EMA / SEMA run and its command line."""

from __future__ import annotations

import pytest

from sema_ray.tasks.compare import main, train_methods


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
