"""`charlm`: a character-level LSTM language model, perplexity per character.

The corpus (option `corpus`) is one of:
- `"stdlib"` (default): the help topics of the Python reference documentation that
  ship with the standard library (`pydoc_data.topics`, about 465,000 characters of
  English in Python 3.11), so the task runs with no download;
- a UTF-8 text file, cut into 20 contiguous chunks of which `data_seed` picks one for
  validation and one for test;
- a directory with the standard splits of Penn Treebank (`ptb.train.txt`,
  `ptb.valid.txt`, `ptb.test.txt`, or the `ptb.char.*` files) or WikiText
  (`wiki.train.tokens`, `wiki.valid.tokens`, `wiki.test.tokens`, or the `.raw` files).

The vocabulary is every character of the whole corpus, so `build_model` and
`load_splits` agree on it without seeing each other. Text is cut into windows of
`seq_len` characters. Each window is predicted from its own start, because no hidden
state is carried over from the previous window.
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from sema_ray.tasks.base import Recipe, Splits, Task

logger = logging.getLogger(__name__)

# Standard split files, searched in this order in a corpus directory.
SPLIT_FILES = (
    ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt"),
    ("ptb.char.train.txt", "ptb.char.valid.txt", "ptb.char.test.txt"),
    ("wiki.train.tokens", "wiki.valid.tokens", "wiki.test.tokens"),
    ("wiki.train.raw", "wiki.valid.raw", "wiki.test.raw"),
)
# A single text file is cut into this many contiguous chunks: one validation, one test.
FILE_CHUNKS = 20


@dataclass(frozen=True)
class Corpus:
    """A corpus as train / validation / test text."""

    train: str
    val: str
    test: str

    def vocabulary(self) -> np.ndarray:
        """Return the sorted Unicode code points that occur anywhere in the corpus."""
        return np.unique(np.concatenate([code_points(self.train), code_points(self.val),
                                         code_points(self.test)]))


def code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)


def encode(text: str, vocabulary: np.ndarray) -> torch.Tensor:
    """Map each character of `text` to its index in the sorted `vocabulary`."""
    ids = np.searchsorted(vocabulary, code_points(text))
    # int32 halves the memory of int64 for large corpora; windows convert to int64.
    return torch.from_numpy(ids.astype(np.int32))


class CharWindows(Dataset):
    """Non-overlapping windows of `seq_len` characters as (input ids, next-character ids)."""

    def __init__(self, ids: torch.Tensor, seq_len: int):
        self.ids = ids
        self.seq_len = seq_len

    def __len__(self) -> int:
        # Each window needs one character past its end for the last target.
        return max(0, (len(self.ids) - 1) // self.seq_len)

    def __getitem__(self, index: int):
        start = index * self.seq_len
        window = self.ids[start:start + self.seq_len + 1].long()
        return window[:-1], window[1:]


class CharLSTM(nn.Module):
    """Embedding, a stacked LSTM and a linear read-out to next-character logits."""

    def __init__(self, vocab_size: int, embedding_dim: int, hidden_size: int, num_layers: int,
                 dropout: float):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim)
        self.lstm = nn.LSTM(embedding_dim, hidden_size, num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Map (batch, time) character ids to (batch, time, vocabulary) logits."""
        hidden, _ = self.lstm(self.embedding(ids))
        return self.head(self.dropout(hidden))


def sequence_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over every position of (batch, time, vocabulary) logits."""
    return nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())


def load_corpus(corpus: str, data_seed: int = 0) -> Corpus:
    """Read the corpus named by the `corpus` option; `data_seed` matters only for one file."""
    if corpus == "stdlib":
        return _split_text(_stdlib_text(), data_seed)
    path = Path(corpus).expanduser()
    if path.is_file():
        return _split_text(_read_text(path), data_seed)
    if path.is_dir():
        for names in SPLIT_FILES:
            if (path / names[0]).is_file():
                return Corpus(*(_read_split(path / name) for name in names))
    raise ValueError(_missing_corpus_message(path))


@functools.lru_cache(maxsize=1)
def _stdlib_text() -> str:
    try:
        from pydoc_data.topics import topics
    except ModuleNotFoundError:
        # Some minimal Python builds leave out pydoc_data.
        raise ValueError("option 'corpus': this Python has no pydoc_data package for the "
                         "'stdlib' corpus; set 'corpus' to a UTF-8 text file") from None

    return "\n\n".join(topics[key] for key in sorted(topics))


# Cached because build_model, load_splits and check_options each read the corpus.
@functools.lru_cache(maxsize=4)
def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"option 'corpus': {path} is not UTF-8 text ({error})") from None


def _read_split(path: Path) -> str:
    if not path.is_file():
        raise ValueError(f"corpus file {path} not found; a corpus directory needs its train, "
                         "validation and test files side by side")
    return _read_text(path)


def _split_text(text: str, data_seed: int) -> Corpus:
    """Cut `text` into contiguous chunks; `data_seed` picks the validation and test chunk."""
    if len(text) < FILE_CHUNKS * 2:
        raise ValueError(f"the corpus has {len(text)} characters; a single text file needs at "
                         f"least {FILE_CHUNKS * 2} to cut into {FILE_CHUNKS} chunks")
    bounds = np.linspace(0, len(text), FILE_CHUNKS + 1).astype(int)
    chunks = [text[start:end] for start, end in itertools.pairwise(bounds)]
    val_chunk, test_chunk = np.random.default_rng(data_seed).permutation(FILE_CHUNKS)[:2]
    train = "".join(chunk for index, chunk in enumerate(chunks) if index not in (val_chunk, test_chunk))
    return Corpus(train, chunks[val_chunk], chunks[test_chunk])


def _missing_corpus_message(path: Path) -> str:
    expected = "; ".join(", ".join(names) for names in SPLIT_FILES)
    return (f"option 'corpus': {str(path)!r} is neither a text file nor a directory with the "
            f"standard splits (one of: {expected}); use 'stdlib' for the bundled text")


def load_splits(data_seed: int, options: dict) -> Splits:
    corpus = load_corpus(options["corpus"], data_seed)
    vocabulary = corpus.vocabulary()
    logger.info("charlm corpus: %d train, %d validation, %d test characters, %d symbols",
                len(corpus.train), len(corpus.val), len(corpus.test), len(vocabulary))

    train = corpus.train[:options["max_train_chars"]] if options["max_train_chars"] else corpus.train
    parts = (train, corpus.val, corpus.test)
    return Splits(*(CharWindows(encode(text, vocabulary), options["seq_len"]) for text in parts))


def build_model(recipe: Recipe, options: dict) -> nn.Module:
    # The vocabulary does not depend on the seed, so seed 0 gives the same size.
    vocab_size = len(load_corpus(options["corpus"], 0).vocabulary())
    return CharLSTM(vocab_size, options["embedding_dim"], options["hidden_size"],
                    options["num_layers"], options["dropout"])


@torch.no_grad()
def evaluate(model: nn.Module, loader, device: torch.device) -> dict[str, float]:
    """Return perplexity per character, bits per character and the mean cross-entropy."""
    model.eval()
    loss_sum, total = 0.0, 0
    for inputs, targets in loader:
        logits = model(inputs.to(device)).float()
        loss_sum += nn.functional.cross_entropy(logits.flatten(0, 1), targets.to(device).flatten(),
                                                reduction="sum").item()
        total += targets.numel()
    model.train()

    loss = loss_sum / total
    return {"perplexity": math.exp(loss), "bits_per_char": loss / math.log(2), "loss": loss}


def check_options(options: dict) -> None:
    for name in ("seq_len", "embedding_dim", "hidden_size", "num_layers"):
        if options[name] < 1:
            raise ValueError(f"option {name!r} must be at least 1, got {options[name]}")
    if not 0.0 <= options["dropout"] < 1.0:
        raise ValueError(f"option 'dropout' must be in [0, 1), got {options['dropout']}")
    limit = options["max_train_chars"]
    is_integer = isinstance(limit, int) and not isinstance(limit, bool)
    if limit is not None and (not is_integer or limit <= options["seq_len"]):
        raise ValueError(f"option 'max_train_chars' must be None or an integer above "
                         f"seq_len={options['seq_len']}, got {limit!r}")

    # Reading the corpus here reports a missing file before any Ray worker starts.
    corpus = load_corpus(options["corpus"], 0)
    for split, text in (("validation", corpus.val), ("test", corpus.test)):
        if len(text) <= options["seq_len"]:
            raise ValueError(f"the {split} text has {len(text)} characters, fewer than one window "
                             f"of seq_len={options['seq_len']}; lower seq_len or use a larger corpus")


TASK = Task(
    name="charlm",
    description="character-level 2-layer LSTM language model, perplexity per character",
    metric="perplexity",
    mode="min",
    recipe=Recipe(optimizer="adamw", lr=3e-3, weight_decay=0.01, scheduler="cosine",
                  warmup_epochs=1, epochs=10, batch_size=64),
    load_splits=load_splits,
    build_model=build_model,
    loss_fn=sequence_cross_entropy,
    evaluate=evaluate,
    seconds_per_epoch=45.0,  # estimate: 51 steps of about 0.7 to 1 s on a busy 2-core CPU
    option_defaults={
        "corpus": "stdlib",  # "stdlib", a UTF-8 text file, or a PTB / WikiText directory
        "seq_len": 128,  # characters per training window
        "max_train_chars": None,  # keep only this many training characters (None: all)
        "embedding_dim": 64,
        "hidden_size": 256,
        "num_layers": 2,
        "dropout": 0.1,
    },
    check_options=check_options,
)
