"""charlm: corpora from the standard library, a text file, PTB and WikiText directories."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from sema_ray.tasks import get_task
from sema_ray.tasks.charlm import CharWindows, load_corpus

TASK = get_task("charlm")


def small_options(**given) -> dict:
    return TASK.resolve_options({"seq_len": 16, "embedding_dim": 8, "hidden_size": 16,
                                 "num_layers": 1} | given)


def write_splits(folder, names, texts) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in zip(names, texts):
        (folder / name).write_text(text, encoding="utf-8")


def test_stdlib_corpus_loads_without_download():
    corpus = load_corpus("stdlib", 0)
    assert len(corpus.train) > 100_000
    assert len(corpus.val) > 10_000
    assert len(corpus.test) > 10_000


def test_text_file_split_by_seed(text_file):
    text = text_file.read_text(encoding="utf-8")
    first, again, other = (load_corpus(str(text_file), seed) for seed in (0, 0, 1))
    assert first == again
    assert (first.val, first.test) != (other.val, other.test)
    assert sorted(first.train + first.val + first.test) == sorted(text)
    assert first.val in text
    assert first.test in text


def test_ptb_directory(tmp_path):
    texts = (" the cat sat <unk> \n" * 30, " a dog ran \n" * 10, " one bird \n" * 10)
    write_splits(tmp_path, ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"), texts)
    corpus = load_corpus(str(tmp_path), 0)
    assert (corpus.train, corpus.val, corpus.test) == texts


def test_wikitext_directory(tmp_path):
    texts = (" = Title = \n text @-@ here \n" * 20, " = Other = \n" * 10, " = Last = \n" * 10)
    write_splits(tmp_path, ("wiki.train.tokens", "wiki.valid.tokens", "wiki.test.tokens"), texts)
    options = small_options(corpus=str(tmp_path))
    splits = TASK.load_splits(0, options)
    assert len(splits.train) == (len(texts[0]) - 1) // 16


def test_missing_corpus_names_expected_files(tmp_path):
    with pytest.raises(ValueError) as error:
        TASK.resolve_options({"corpus": str(tmp_path / "nowhere")})
    message = str(error.value)
    assert "nowhere" in message
    assert "ptb.train.txt" in message
    assert "wiki.train.tokens" in message


def test_incomplete_directory_names_missing_file(tmp_path):
    write_splits(tmp_path, ("ptb.train.txt", "ptb.valid.txt"), ("abc " * 100, "abc " * 40))
    with pytest.raises(ValueError, match="ptb.test.txt not found"):
        TASK.resolve_options({"corpus": str(tmp_path)})


def test_windows_shift_by_one():
    ids = torch.arange(35, dtype=torch.int32)
    windows = CharWindows(ids, seq_len=8)
    assert len(windows) == 4  # 35 ids hold four windows of 8 plus one target
    inputs, targets = windows[3]
    assert inputs.tolist() == list(range(24, 32))
    assert targets.tolist() == list(range(25, 33))
    assert inputs.dtype == torch.long


def test_encoding_round_trips(text_file):
    options = small_options(corpus=str(text_file))
    splits = TASK.load_splits(0, options)
    vocabulary = load_corpus(str(text_file), 0).vocabulary()
    inputs, _ = splits.val[0]
    decoded = "".join(chr(vocabulary[i]) for i in inputs.tolist())
    assert decoded == load_corpus(str(text_file), 0).val[:16]


def test_uniform_model_perplexity_is_vocabulary_size(text_file):
    options = small_options(corpus=str(text_file))
    model = TASK.build_model(TASK.recipe, options)
    vocab_size = len(set(text_file.read_text(encoding="utf-8")))
    assert model.head.out_features == vocab_size

    # Zero read-out weights give equal logits, so every character has probability 1/V.
    nn.init.zeros_(model.head.weight)
    nn.init.zeros_(model.head.bias)
    loader = DataLoader(TASK.load_splits(0, options).test, batch_size=4)
    metrics = TASK.evaluate(model, loader, torch.device("cpu"))
    assert metrics["perplexity"] == pytest.approx(vocab_size, rel=1e-5)
    assert metrics["bits_per_char"] == pytest.approx(math.log2(vocab_size), rel=1e-5)


def test_loss_over_sequence_positions(text_file):
    options = small_options(corpus=str(text_file))
    model = TASK.build_model(TASK.recipe, options)
    inputs, targets = next(iter(DataLoader(TASK.load_splits(0, options).train, batch_size=3)))
    logits = model(inputs)
    assert logits.shape == (3, 16, model.head.out_features)

    expected = sum(nn.functional.cross_entropy(logits[b], targets[b]) for b in range(3)) / 3
    assert TASK.loss_fn(logits, targets).item() == pytest.approx(expected.item(), rel=1e-5)


def test_seq_len_longer_than_test_text_rejected(text_file):
    with pytest.raises(ValueError, match="fewer than one window"):
        TASK.resolve_options({"corpus": str(text_file), "seq_len": 100_000})


def test_non_utf8_file_rejected(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\u00e9 ".encode("latin-1") * 50)
    with pytest.raises(ValueError, match="latin1.txt is not UTF-8 text"):
        TASK.resolve_options({"corpus": str(path)})
