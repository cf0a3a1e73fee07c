"""Study file validation: each malformed file names the key path, the value and the fix."""

from __future__ import annotations

import copy

import pytest

from sema_ray.study.config import StudyError, load_study, parse_study

VALID = {
    "name": "check",
    "tasks": [{"name": "digits"}],
    "methods": {
        "basic": {},
        "sema": {"momentum": {"log10_range": [-4, -1]}, "switch_interval": [0.5, 1]},
    },
}


def with_changes(**changes) -> dict:
    data = copy.deepcopy(VALID)
    data.update(changes)
    return data


CASES = [
    ("unknown top-level key", with_changes(colour="red"), "colour: unknown key"),
    ("unknown task", with_changes(tasks=[{"name": "digitz"}]),
     "tasks[0].name: 'digitz' is not a known task; valid tasks:"),
    ("unknown recipe key", with_changes(tasks=[{"name": "digits", "recipe": {"lrr": 0.1}}]),
     "unknown recipe key 'lrr'; valid keys: batch_size"),
    ("recipe value of wrong type", with_changes(tasks=[{"name": "digits", "recipe": {"lr": "fast"}}]),
     "lr: invalid value 'fast'"),
    ("unknown task option", with_changes(tasks=[{"name": "digits", "options": {"root": "/data"}}]),
     "unknown option 'root' for task 'digits'"),
    ("unknown method", with_changes(methods={"bogus": {}}),
     "'bogus' is not a method; valid methods: basic, ema, sema, swa, lookahead"),
    ("momentum above one", with_changes(methods={"ema": {"momentum": 1.5}}),
     "methods.ema.momentum: 1.5 is outside (0, 1)"),
    ("momentum of zero in list", with_changes(methods={"ema": {"momentum": [0.9, 0]}}),
     "methods.ema.momentum: 0.0 is outside (0, 1)"),
    ("reversed log10 range", with_changes(methods={"ema": {"momentum": {"log10_range": [-1, -4]}}}),
     "use [low, high] with -8 <= low < high < 0"),
    ("momentum not a number", with_changes(methods={"ema": {"momentum": ["high"]}}),
     "'high' is not a number"),
    ("sema without interval", with_changes(methods={"sema": {"momentum": 0.99}}),
     "sema: switch_interval is missing"),
    ("negative interval", with_changes(methods={"sema": {"momentum": 0.99, "switch_interval": [1, -2]}}),
     "methods.sema.switch_interval: -2.0 is not a positive number of epochs"),
    ("interval on ema", with_changes(methods={"ema": {"momentum": 0.99, "switch_interval": 1}}),
     "ema: switch_interval does not apply to ema; its keys: momentum"),
    ("lookahead alpha above one", with_changes(methods={"lookahead": {"alpha": 1.5}}),
     "lookahead: alpha 1.5 is outside (0, 1]"),
    ("unknown sampler", with_changes(search={"sampler": "cmaes"}),
     "search.sampler: invalid value 'cmaes'"),
    ("zero trials", with_changes(search={"trials": 0}), "search.trials: invalid value 0"),
    ("several seeds without grid", with_changes(search={"seeds": [0, 1]}),
     "only sampler 'grid' uses; give one seed, or set sampler: grid"),
    ("grid over a range", with_changes(search={"sampler": "grid"}),
     "methods.sema.momentum: a log10_range cannot be searched by sampler 'grid'"),
    ("evaluation seeds overlap search", with_changes(search={"seeds": [1000]}, evaluation={"seeds": 2}),
     "evaluation.first_seed: seeds [1000] are also search seeds"),
    ("workers not a number", with_changes(resources={"workers": "two"}),
     "resources.workers: invalid value 'two'"),
    ("bad storage scheme", with_changes(output={"storage": "ftp://host/x"}),
     "output.storage: 'ftp://host/x' has an unsupported scheme 'ftp'"),
    ("missing tasks", {"name": "x", "methods": {"basic": {}}}, "tasks: required key is missing"),
]


@pytest.mark.parametrize(("case", "data", "expected"), CASES, ids=[case[0] for case in CASES])
def test_schema_error_message(case, data, expected):
    with pytest.raises(StudyError) as raised:
        parse_study(data, "study.yaml")
    message = str(raised.value)
    assert message.startswith("study.yaml: ")
    assert expected in message
    assert "\n" not in message


def test_valid_study_parses():
    config = parse_study(copy.deepcopy(VALID), "study.yaml")
    assert config.evaluation.seed_list() == [1000, 1001, 1002, 1003, 1004]
    assert config.search.seeds == [0]


def test_invalid_yaml_is_one_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: [unclosed\n", encoding="utf-8")
    with pytest.raises(StudyError) as raised:
        load_study(path)
    assert "invalid YAML" in str(raised.value)
    assert "\n" not in str(raised.value)


def test_evaluation_seeds_never_overlap_search_seeds():
    data = with_changes(search={"sampler": "grid", "seeds": [0, 1, 2]},
                        methods={"sema": {"momentum": [0.99], "switch_interval": [1]}},
                        evaluation={"seeds": 5, "first_seed": 3})
    config = parse_study(data, "study.yaml")
    assert not set(config.search.seeds) & set(config.evaluation.seed_list())
