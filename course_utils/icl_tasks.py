"""In-context learning: a family of sequence tasks, k-shot prompts, accuracy against shots, induction heads.

Idea. GPT-3 (Brown et al. 2020, "Language Models are Few-Shot Learners") does a task it was never
fine-tuned on from the prompt alone: an optional task description, k demonstrations
``input => output``, then the query ``input =>``; the weights never change. Here a small GPT is trained
on prompts of code-generated tasks whose rule is fresh in every prompt, so the only way to lower the
loss is to read the rule off the demonstrations:

    map      a random table letter → digit, new in every prompt (associative recall: needs induction)
    copy     three letters → the same letters
    reverse  three letters → in reverse order
    sort     three letters → in alphabetical order

A prompt looks like ``<bos> reverse : k q a => a q k ; m b t => t b m ; c x e =>`` and the answer is
``e x c``; without arrows (``arrow=False``, the associative-recall probe) a map prompt is
``<bos> j 0 ; d 8 ; … ; d`` → ``8``, or without separators (``separator=False``) ``<bos> j 0 d 8 … d``.
Evaluation uses *held-out* tables and inputs: a map table or a three-letter input is held
out when the CRC-32 of its text is divisible by 4, and training never samples one.

Olsson et al. (2022), "In-context Learning and Induction Heads": in-context learning appears abruptly
during training, together with **induction heads** — heads that, at a token A, attend to the position
just *after* an earlier occurrence of A ("[A][B] … [A] → look at [B], predict B"). Such a head needs a
previous-token head in an earlier layer, so it takes two layers; a one-layer model is the control.
The induction score of a head is its mean attention, on a random token sequence repeated twice, from
each token of the second copy to the token after its first occurrence.

Training (:func:`train_icl`) runs on one device or data-parallel under torchrun (DDP): the loss of a shard
is normalised by the global batch's answer count (:func:`shard_loss`), so N processes follow one process.
"""

from __future__ import annotations

import string
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import Tensor

from course_utils.distributed import DistributedContext
from course_utils.gpt import GPT, GPTConfig, lm_loss
from course_utils.training import choose_device, evaluating

__all__ = [
    "FAMILIES",
    "SYMBOLS",
    "ICLConfig",
    "apply_init",
    "Example",
    "encode",
    "decode",
    "is_heldout",
    "make_examples",
    "build_prompt",
    "format_prompt",
    "training_batch",
    "evaluation_prompts",
    "few_shot_accuracy",
    "induction_scores",
    "recall_scores",
    "chance_accuracy",
    "icl_loss",
    "shard_loss",
    "EvaluationSet",
    "EMERGENCE_SHOTS",
    "train_icl",
]

FAMILIES = ("map", "copy", "reverse", "sort")
LETTERS = tuple(string.ascii_lowercase)
DIGITS = tuple(string.digits)
PAD, BOS, ARROW, SEPARATOR, COLON = "<pad>", "<bos>", "=>", ";", ":"
SYMBOLS: tuple[str, ...] = (PAD, BOS, ARROW, SEPARATOR, COLON, *FAMILIES, *LETTERS, *DIGITS)
_INDEX = {symbol: i for i, symbol in enumerate(SYMBOLS)}
TABLE_SIZE = 8  # items in a map table
INPUT_LENGTH = 3  # letters in a copy / reverse / sort input


@dataclass
class ICLConfig:
    """The in-context model and its training run (defaults: the shipped checkpoint)."""

    n_layers: int = 2  # 1 for the control: an induction head needs two layers
    d_model: int = 64
    n_heads: int = 4
    d_ff: int = 256
    context_length: int = 80  # longest prompt: 8 demonstrations of a three-letter task + the query
    steps: int = 2000  # optimiser steps
    batch_size: int = 128
    learning_rate: float = 1e-3  # AdamW, constant after a 50-step warm-up
    weight_decay: float = 0.01
    description_rate: float = 0.5  # share of training prompts that start with the task's name
    map_share: float = 0.5  # share of map prompts (the rest split evenly between the three-letter families)
    eval_every: int = 50  # steps between held-out evaluations (the emergence curve)
    eval_prompts: int = 64  # held-out prompts per family in each evaluation
    seed: int = 0
    arrow: bool = True  # False: demonstrations "x y ;" without "=>" (map: the classic induction pattern)
    map_examples: int = 16  # examples per training map prompt (9: the 8 table items shown once, then the query)
    query_loss_only: bool = False  # score only the last example's answer (the query), as in associative recall
    separator: bool = True  # False (with arrow=False): map pairs "x y x y …" without ";" between them
    tie_weights: bool = True  # False: a separate output projection (the emergence init)
    embedding_std: float = 0.0  # > 0: token and position embeddings re-drawn from N(0, std²) (0: GPT-2's 0.02)
    attention_std: float = 0.0  # > 0: every attention input (q, k, v) weight re-drawn from N(0, std²)

    def model_config(self) -> GPTConfig:
        return GPTConfig(vocab_size=len(SYMBOLS), context_length=self.context_length, d_model=self.d_model,
                         n_heads=self.n_heads, n_layers=self.n_layers, d_ff=self.d_ff, dropout=0.0, tie_weights=self.tie_weights)

    def build_model(self) -> GPT:
        """A fresh GPT of :meth:`model_config`, re-initialised by :func:`apply_init` (the same parameters and
        state_dict keys as any GPT of that config, so :func:`course_utils.gpt.load_gpt` restores it)."""
        model = GPT(self.model_config())
        apply_init(model, embedding_std=self.embedding_std, attention_std=self.attention_std)
        return model

    def to_dict(self) -> dict:
        return asdict(self)


@torch.no_grad()
def apply_init(model: GPT, *, embedding_std: float = 0.0, attention_std: float = 0.0) -> GPT:
    """Re-draw, in place, the token and position embeddings from N(0, ``embedding_std``²) and every block's
    attention input weights (q, k, v) from N(0, ``attention_std``²); a std of 0 leaves GPT-2's N(0, 0.02).

    A measured finding of this course (data/checkpoints/README.md): with GPT-2's small init the map model's
    associative recall did not emerge within the run; with embeddings at std 1 (well separated tokens and
    positions), larger q/k/v weights (sharper attention at the start) and an untied output it rose abruptly.
    """
    if embedding_std < 0 or attention_std < 0:
        raise ValueError(f"init stds must be >= 0, got embedding_std={embedding_std}, attention_std={attention_std}")
    if embedding_std > 0 and model.lm_head is None:
        raise ValueError("embedding_std needs an untied output (tie_weights=False): a tied output projection "
                         "would be re-scaled with the embedding")
    if embedding_std > 0:
        torch.nn.init.normal_(model.token_embedding.weight, std=embedding_std)
        torch.nn.init.normal_(model.position_embedding.embedding.weight, std=embedding_std)
    if attention_std > 0:
        for block in model.blocks:
            torch.nn.init.normal_(block.self_attention.in_proj_weight, std=attention_std)
    return model


def encode(symbols: Sequence[str]) -> list[int]:
    """Symbols → ids; raises KeyError naming an unknown symbol."""
    try:
        return [_INDEX[s] for s in symbols]
    except KeyError as error:
        raise KeyError(f"unknown symbol {error.args[0]!r}; the vocabulary is {SYMBOLS}") from None


def decode(ids: Sequence[int]) -> list[str]:
    """Ids → symbols; raises ValueError for an id outside the vocabulary."""
    out = []
    for i in ids:
        i = int(i)
        if not 0 <= i < len(SYMBOLS):
            raise ValueError(f"id {i} is outside the vocabulary 0..{len(SYMBOLS) - 1}")
        out.append(SYMBOLS[i])
    return out


def is_heldout(text: str) -> bool:
    """The split rule: an input or table is held out when crc32(text) is divisible by 4."""
    return zlib.crc32(text.encode("utf-8")) % 4 == 0


@dataclass(frozen=True)
class Example:
    """One ``input => output`` pair of a family, as symbol tuples."""

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


def _rule(family: str, letters: tuple[str, ...]) -> tuple[str, ...]:
    if family == "copy":
        return letters
    if family == "reverse":
        return letters[::-1]
    if family == "sort":
        return tuple(sorted(letters))
    raise ValueError(f"unknown family {family!r}; choose one of {FAMILIES}")


def _draw_input(rng: np.random.RandomState, heldout: bool) -> tuple[str, ...]:
    while True:
        letters = tuple(LETTERS[i] for i in rng.randint(0, 26, INPUT_LENGTH))
        if is_heldout("".join(letters)) == heldout:
            return letters


def _draw_table(rng: np.random.RandomState, heldout: bool) -> dict[str, str]:
    while True:
        items = [LETTERS[i] for i in rng.choice(26, TABLE_SIZE, replace=False)]
        labels = [DIGITS[i] for i in rng.randint(0, 10, TABLE_SIZE)]
        table = dict(zip(items, labels))
        if is_heldout(" ".join(f"{k}{v}" for k, v in sorted(table.items()))) == heldout:
            return table


def make_examples(family: str, n: int, rng: np.random.RandomState, *, heldout: bool = False,
                  query_from_demonstrations: bool = False) -> list[Example]:
    """``n`` examples of one prompt of ``family`` (all sharing that prompt's fresh table for ``map``).

    For ``map`` the first ``min(n - 1, 8)`` examples show distinct table items and the last (the query)
    is a uniformly drawn item of the 8-item table, so k shots reveal k of the 8 items (the query was
    shown with probability k/8); ``query_from_demonstrations`` draws it from the shown items instead.
    """
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose one of {FAMILIES}")
    if n < 1:
        raise ValueError(f"a prompt needs at least one example (the query), got n={n}")
    if family != "map":
        examples = []
        for _ in range(n):
            letters = _draw_input(rng, heldout)
            examples.append(Example(letters, _rule(family, letters)))
        return examples
    table = _draw_table(rng, heldout)
    items = list(table)
    rng.shuffle(items)
    shown = items[: min(n - 1, TABLE_SIZE)]
    demos = shown + [items[i] for i in rng.randint(0, TABLE_SIZE, max(0, n - 1 - TABLE_SIZE))]
    pool = shown if query_from_demonstrations and shown else items
    query = pool[rng.randint(len(pool))]
    return [Example((item,), (table[item],)) for item in [*demos, query]]


def build_prompt(examples: Sequence[Example], *, description: str | None = None, with_answer: bool = True,
                 arrow: bool = True, separator: bool = True) -> tuple[list[str], list[bool]]:
    """The prompt's symbols and, per symbol, whether it is an answer symbol (scored by the loss).

    ``<bos> [description :] x_1 => y_1 ; … ; x_q => [y_q]``: the last example is the query; its answer
    is included when ``with_answer`` (training, teacher-forced scoring) and left out otherwise.
    ``arrow=False`` leaves out every ``=>`` (``<bos> a 3 ; b 7 ; … ; q``): for *map* the label then
    directly follows its item, the pattern a two-head induction circuit completes ("[A][B] … [A] → B");
    with ``=>`` in between, both the query and the key must first be tagged with the item, which was
    not learned in the shipped runs (data/checkpoints/README.md). ``separator=False`` (only with
    ``arrow=False``) also leaves out every ``;``: ``<bos> a 3 b 7 … q`` (two symbols per pair).
    """
    if not separator and arrow:
        raise ValueError("separator=False needs arrow=False: 'x => y x => y' would not say where a pair ends")
    if not examples:
        raise ValueError("a prompt needs at least one example (the query)")
    if description is not None and description not in FAMILIES:
        raise ValueError(f"description must be a family name {FAMILIES} or None, got {description!r}")
    symbols, answer = [BOS], [False]
    if description is not None:
        symbols += [description, COLON]
        answer += [False, False]
    for i, example in enumerate(examples):
        last = i == len(examples) - 1
        symbols += [*example.inputs, *([ARROW] if arrow else [])]
        answer += [False] * (len(example.inputs) + int(arrow))
        if last and not with_answer:
            break
        symbols += list(example.outputs)
        answer += [True] * len(example.outputs)
        if not last and separator:
            symbols.append(SEPARATOR)
            answer.append(False)
    return symbols, answer


def format_prompt(symbols: Sequence[str], *, separator: bool = True) -> str:
    """A prompt laid out like GPT-3's slide: the description on its own line, then one
    demonstration per line, the query last (``<bos>`` and ``<pad>`` are not shown)::

        reverse:
        k q a => a q k
        c x e =>

    ``separator=False`` (map prompts built with ``arrow=False, separator=False``): every two symbols
    ``item label`` are one demonstration; the query item ends the last line.
    """
    shown = [s for s in symbols if s not in (BOS, PAD)]
    if not separator:
        lines = []
        if len(shown) >= 2 and shown[0] in FAMILIES and shown[1] == COLON:
            lines.append(f"{shown[0]}:")
            shown = shown[2:]
        lines += [" ".join(shown[i:i + 2]) for i in range(0, len(shown), 2)]
        return "\n".join(lines)
    lines, current = [], []
    for i, symbol in enumerate(shown):
        if symbol == COLON and i == 1 and shown[0] in FAMILIES:
            lines.append(f"{shown[0]}:")
            current = []
        elif symbol == SEPARATOR:
            lines.append(" ".join(current))
            current = []
        else:
            current.append(symbol)
    if current:
        lines.append(" ".join(current))
    return "\n".join(lines)


def _pad(rows: list[list[int]], masks: list[list[bool]], length: int) -> tuple[Tensor, Tensor]:
    ids = torch.full((len(rows), length), _INDEX[PAD], dtype=torch.long)
    mask = torch.zeros(len(rows), length, dtype=torch.bool)
    for r, (row, m) in enumerate(zip(rows, masks)):
        if len(row) > length:
            raise ValueError(f"a prompt of {len(row)} symbols does not fit the context of {length}")
        ids[r, : len(row)] = torch.tensor(row)
        mask[r, : len(m)] = torch.tensor(m)
    return ids, mask


def _training_examples(family: str, map_examples: int = 16) -> int:
    """Examples per training prompt: ``map_examples`` map pairs (items repeat after 8) or 9 three-letter ones."""
    return map_examples if family == "map" else 9


def training_batch(batch_size: int, rng: np.random.RandomState, *, context_length: int = 80,
                   description_rate: float = 0.5, families: Sequence[str] = FAMILIES,
                   weights: Sequence[float] | None = None, arrow: bool = True, map_examples: int = 16,
                   query_loss_only: bool = False, separator: bool = True) -> tuple[Tensor, Tensor]:
    """(ids (B, T), answer mask (B, T)) of training prompts, families drawn with probabilities ``weights``
    (default uniform); tables and inputs are never held-out ones. ``arrow``, ``separator``: see :func:`build_prompt`;
    ``map_examples``: examples per map prompt (at least 2); ``query_loss_only``: the mask marks only the
    last example's answer."""
    if map_examples < 2:
        raise ValueError(f"a training map prompt needs a demonstration and a query: map_examples >= 2, got {map_examples}")
    if weights is not None and (len(weights) != len(families) or min(weights) < 0 or sum(weights) <= 0):
        raise ValueError(f"weights must be {len(families)} non-negative numbers with a positive sum, got {weights}")
    p = None if weights is None else np.asarray(weights, dtype=float) / sum(weights)
    rows, masks = [], []
    for _ in range(batch_size):
        family = families[rng.choice(len(families), p=p)]
        description = family if rng.rand() < description_rate else None
        examples = make_examples(family, _training_examples(family, map_examples), rng)
        symbols, answer = build_prompt(examples, description=description, arrow=arrow, separator=separator)
        if query_loss_only:
            answer = [False] * (len(answer) - len(examples[-1].outputs)) + [True] * len(examples[-1].outputs)
        rows.append(encode(symbols))
        masks.append(answer)
    return _pad(rows, masks, context_length)


@dataclass
class EvaluationSet:
    """Teacher-forced held-out prompts: ids (N, T), answer mask (N, T) on the query's answer only,
    and the prompts' text (answers included) for printing."""

    ids: Tensor
    answer_mask: Tensor
    texts: list[str]


def evaluation_prompts(family: str, shots: int, n: int, *, description: bool = False, seed: int = 0,
                       context_length: int = 80, arrow: bool = True, separator: bool = True) -> EvaluationSet:
    """``n`` held-out prompts of ``family`` with ``shots`` demonstrations; only the query is scored.
    ``arrow``, ``separator``: see :func:`build_prompt` (the same tables and inputs either way; evaluate a
    model in exactly the format it was trained on)."""
    if shots < 0:
        raise ValueError(f"shots must be >= 0, got {shots}")
    rng = np.random.RandomState(seed)
    rows, masks, texts = [], [], []
    for _ in range(n):
        examples = make_examples(family, shots + 1, rng, heldout=True)
        symbols, answer = build_prompt(examples, description=family if description else None, arrow=arrow,
                                       separator=separator)
        query_answer = len(examples[-1].outputs)
        mask = [False] * (len(symbols) - query_answer) + [True] * query_answer
        rows.append(encode(symbols))
        masks.append(mask)
        texts.append(" ".join(symbols))
    ids, mask = _pad(rows, masks, context_length)
    return EvaluationSet(ids, mask, texts)


@torch.no_grad()
def few_shot_accuracy(model: GPT, prompts: EvaluationSet, *, batch_size: int = 256) -> float:
    """Share of prompts whose whole query answer the model gets right by greedy decoding.

    Greedy decoding is right exactly when, with the correct answer prefix fed in (teacher forcing), the
    arg-max at every answer position is the right symbol — so one forward pass scores a whole batch.
    """
    correct = []
    device = next(model.parameters()).device
    with evaluating(model):
        for start in range(0, prompts.ids.shape[0], batch_size):
            ids = prompts.ids[start:start + batch_size].to(device)
            mask = prompts.answer_mask[start:start + batch_size].to(device)
            predicted = model(ids).logits[:, :-1].argmax(-1)  # (B, T-1) prediction for position t+1
            right = (predicted == ids[:, 1:]) | ~mask[:, 1:]
            correct.append(right.all(-1))
    return float(torch.cat(correct).float().mean())


def icl_loss(model: GPT, ids: Tensor, answer_mask: Tensor) -> Tensor:
    """Next-token loss on the answer symbols only (what the in-context model is trained on)."""
    return lm_loss(model(ids).logits, ids, answer_mask)


def shard_loss(model: GPT, ids: Tensor, answer_mask: Tensor, global_count: Tensor | int, *, world_size: int = 1,
               ) -> Tensor:
    """:func:`icl_loss` for one of ``world_size`` equal shards of a global batch with ``global_count`` answer
    symbols: sum of this shard's answer losses / (global_count / world_size). Averaged over the shards (as
    DDP averages gradients) it is the global batch's mean; with ``world_size`` 1 it equals :func:`icl_loss`."""
    count = float(global_count)
    if count <= 0 or world_size < 1:
        raise ValueError(f"global_count must be positive and world_size >= 1, got {count} and {world_size}")
    logits = model(ids).logits
    V = logits.shape[-1]
    nll = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, V), ids[:, 1:].reshape(-1), reduction="none")
    return (nll * answer_mask[:, 1:].reshape(-1).to(nll.dtype)).sum() * world_size / count


@torch.no_grad()
def induction_scores(model: GPT, *, length: int = 20, n: int = 64, seed: int = 0) -> Tensor:
    """(L, H) induction score per layer and head: mean attention from each token of the second copy of a
    random letter sequence to the token after the same letter in the first copy.

    A head that does nothing special scores about 1/(position) ≈ 0.03; an induction head near 1.
    """
    if not 2 <= length <= 26:
        raise ValueError(f"length must be in 2..26 (distinct letters), got {length}")
    if 2 * length + 1 > model.config.context_length:
        raise ValueError(f"two copies of {length} letters do not fit the context of {model.config.context_length}")
    rng = np.random.RandomState(seed)
    rows = []
    for _ in range(n):
        letters = [LETTERS[i] for i in rng.permutation(26)[:length]]
        rows.append(encode([BOS, *letters, *letters]))
    ids = torch.tensor(rows, device=next(model.parameters()).device)
    with evaluating(model):
        maps = model(ids, need_weights=True).attention  # L x (n, H, T, T)
    queries = torch.arange(length + 1, 2 * length + 1)  # second copy: letter j at position length + 1 + j
    targets = queries - length + 1  # the token after that letter's first occurrence
    targets = targets[:-1]
    queries = queries[:-1]  # the last letter's successor is not in the first copy's range
    return torch.stack([w[:, :, queries, targets].mean(dim=(0, 2)) for w in maps]).cpu()


@torch.no_grad()
def recall_scores(model: GPT, *, n: int = 128, seed: int = 0, arrow: bool = True, separator: bool = True) -> Tensor:
    """(L, H) induction score on map prompts: the mean attention from the query's ``=>`` (the position
    that predicts the answer) to the label that followed the same ``item =>`` earlier in the prompt —
    "look at the token after the earlier occurrence of the current context". Held-out 8-shot prompts
    whose query is one of the shown items. ``arrow=False``: prompts without ``=>``; the attention from the
    query item to the label right after its earlier occurrence (the classic induction pattern);
    ``separator=False``: prompts without ``;`` as well (see :func:`build_prompt`)."""
    rng = np.random.RandomState(seed)
    rows, targets = [], []
    for _ in range(n):
        examples = make_examples("map", TABLE_SIZE + 1, rng, heldout=True, query_from_demonstrations=True)
        symbols, _ = build_prompt(examples, with_answer=False, arrow=arrow, separator=separator)
        query = examples[-1].inputs[0]
        shown = [e.inputs[0] for e in examples[:-1]].index(query)
        per_pair = 4 if arrow else (3 if separator else 2)  # item => label ;  or  item label ;  or  item label
        targets.append(1 + per_pair * shown + (2 if arrow else 1))  # after <bos>: the label of the shown pair
        rows.append(encode(symbols))
    ids = torch.tensor(rows, device=next(model.parameters()).device)
    with evaluating(model):
        maps = model(ids, need_weights=True).attention  # L x (n, H, T, T)
    rows_index = torch.arange(n)
    target = torch.tensor(targets)
    return torch.stack([w[rows_index, :, -1, :].cpu()[rows_index, :, target].mean(0) for w in maps])


def chance_accuracy(family: str) -> float:
    """Accuracy of guessing without the rule: 1/10 labels for ``map``; for the three-letter families,
    1/3 — guessing which of copy, reverse and sort is meant (inputs alone do not say)."""
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; choose one of {FAMILIES}")
    return 0.1 if family == "map" else 1 / 3


# --------------------------------------------------------------------------------------------------
# Training with an emergence history
# --------------------------------------------------------------------------------------------------


EMERGENCE_SHOTS = 8  # the history tracks 8-shot accuracy (no description) on held-out prompts


def train_icl(config: ICLConfig, *, progress: bool = True, on_evaluation=None, device: torch.device | str | None = None,
              distributed: DistributedContext | None = None, on_step=None) -> tuple[GPT, list[dict]]:
    """Train a GPT on :func:`training_batch` prompts (loss on answer symbols only), AdamW with a 50-step
    warm-up, evaluating every ``config.eval_every`` steps.

    Returns ``(model, history)``: one dict per evaluation with ``step``, ``loss`` (mean training loss
    since the previous evaluation), ``accuracy`` (family → 8-shot held-out accuracy), ``induction`` and
    ``recall`` (the (L, H) :func:`induction_scores` / :func:`recall_scores` as nested lists); the
    accuracy covers the families with a positive share of the training prompts.
    ``on_evaluation(record)`` is called on each, ``on_step(step, loss)`` after every step.

    ``distributed`` (:mod:`course_utils.distributed`, under torchrun): every process draws the same global
    batch of ``config.batch_size`` prompts from the same seed and DDP trains on equal shards. The loss is
    the sum over a shard's answer symbols divided by the *global* batch's answer count over the number of
    processes (:func:`shard_loss`), so the averaged gradient is exactly the one-process gradient even though
    shards hold different numbers of answer symbols; same seed and batch → the same losses.
    """
    from course_utils.training import fit, seed_everything

    if distributed is not None and config.batch_size % distributed.world_size:
        raise ValueError(f"batch_size {config.batch_size} is not divisible by the {distributed.world_size} processes")
    world_size = 1 if distributed is None else distributed.world_size
    device = distributed.device if distributed is not None else choose_device(device)
    seed_everything(config.seed)
    model = config.build_model().to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / 50))
    rng = np.random.RandomState(config.seed)
    weights = [config.map_share] + [(1 - config.map_share) / (len(FAMILIES) - 1)] * (len(FAMILIES) - 1)
    evaluation = {family: evaluation_prompts(family, EMERGENCE_SHOTS, config.eval_prompts, seed=1000 + i,
                                             context_length=config.context_length, arrow=config.arrow,
                                             separator=config.separator)
                  for i, family in enumerate(FAMILIES) if weights[i] > 0}  # the families it is trained on
    history: list[dict] = []
    losses: list[float] = []

    def batches():
        for _ in range(config.steps):
            ids, mask = training_batch(config.batch_size, rng, context_length=config.context_length,
                                       description_rate=config.description_rate, weights=weights, arrow=config.arrow,
                                       map_examples=config.map_examples, query_loss_only=config.query_loss_only,
                                       separator=config.separator)
            # the global answer count (0-dim: shard_batch keeps it whole on every process)
            yield ids, mask, mask[:, 1:].sum()

    def step_done(step: int, loss: float) -> None:
        losses.append(loss)
        if on_step is not None:
            on_step(step, loss)

    def evaluate(m: GPT) -> float:
        record = {
            "step": len(losses),
            "loss": float(np.mean(losses[-config.eval_every:])) if losses else float("nan"),
            "accuracy": {family: few_shot_accuracy(m, prompts) for family, prompts in evaluation.items()},
            "induction": [[round(float(v), 4) for v in row] for row in induction_scores(m, length=repeat)],
            "recall": [[round(float(v), 4) for v in row] for row in recall_scores(m, arrow=config.arrow, separator=config.separator)],
        }
        history.append(record)
        if on_evaluation is not None:
            on_evaluation(record)
        return float(np.mean(list(record["accuracy"].values())))

    repeat = min(20, (config.context_length - 1) // 2)  # letters per copy in induction_scores (fits the context)
    evaluate(model)  # step 0: the untrained model
    fit(model, batches, lambda m, batch: shard_loss(m, *batch, world_size=world_size), optimizer,
        scheduler=scheduler, grad_clip=1.0, eval_fn=evaluate, eval_every=config.eval_every, progress=progress,
        desc="in-context training", on_step=step_done, device=device, distributed=distributed)
    return model.eval(), history
