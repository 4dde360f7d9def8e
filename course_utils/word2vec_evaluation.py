"""Judging word2vec: analogies question by question, the cost of a training step, the notebook's widgets.

An analogy a : b :: c : d is answered by 3CosAdd, the word whose unit vector is nearest to
b̂ − â + ĉ (a, b and c excluded): "man : king :: woman : ?" → ideally "queen" (Mikolov, Yih and Zweig
2013, "Linguistic Regularities in Continuous Space Word Representations"). The Google analogy set groups
its ~19,500 questions in 14 sections (capitals, currencies, plurals, tenses, ...); accuracy per section
shows where a small corpus already learned the offsets and where it did not.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from course_utils.plotting import plot_projection
from course_utils.training import choose_device, single_thread, synchronize
from course_utils.vectors import WordVectors, evaluate_similarity
from course_utils.word2vec import NoiseSampler, SkipGram, Word2VecConfig, Word2VecResult, train_word2vec

__all__ = ["AnalogyOutcome", "analogy_outcomes", "analogy_accuracy_table", "show_analogy", "explore_word2vec", "time_training_step"]


# ---------------------------------------------------------------------------------------------------
# Analogies question by question (the notebook's table, its successes and its widget)
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AnalogyOutcome:
    """One analogy question a : b :: c : expected, and the word 3CosAdd answered."""

    section: str
    a: str
    b: str
    c: str
    expected: str
    answer: str

    @property
    def correct(self) -> bool:
        return self.answer == self.expected


def analogy_outcomes(
    vectors: WordVectors,
    sections: dict[str, Sequence[tuple[str, str, str, str]]],
    *,
    restrict_vocab: int | None = None,
) -> list[AnalogyOutcome]:
    """The 3CosAdd answer to every covered question (same rules as :func:`course_utils.vectors.evaluate_analogies`:
    the four words and the candidates among the first ``restrict_vocab`` words; a, b, c never answer).

    Scores all questions of a section with one matrix product instead of one question at a time.
    """
    if not sections:
        raise ValueError("no analogy sections given")
    if restrict_vocab is not None and restrict_vocab < 1:
        raise ValueError(f"restrict_vocab must be at least 1, got {restrict_vocab}")
    words = vectors.words if restrict_vocab is None else vectors.words[:restrict_vocab]
    index = {w: i for i, w in enumerate(words)}
    unit = vectors.matrix[: len(words)] / np.linalg.norm(vectors.matrix[: len(words)], axis=1, keepdims=True)
    outcomes = []
    for name, questions in sections.items():
        covered = [q for q in questions if len(q) == 4 and all(w in index for w in q)]
        if any(len(q) != 4 for q in questions):
            raise ValueError(f"every analogy question in {name!r} must have four words")
        if not covered:
            continue
        rows = np.array([[index[w] for w in q[:3]] for q in covered])  # (Q, 3)
        query = unit[rows[:, 1]] - unit[rows[:, 0]] + unit[rows[:, 2]]  # b̂ − â + ĉ, (Q, D)
        query /= np.linalg.norm(query, axis=1, keepdims=True)
        scores = query @ unit.T  # (Q, V)
        np.put_along_axis(scores, rows, -np.inf, axis=1)  # a, b and c never answer
        best = scores.argmax(axis=1)
        outcomes += [AnalogyOutcome(name, *q, words[i]) for q, i in zip(covered, best)]
    return outcomes


def analogy_accuracy_table(outcomes: Sequence[AnalogyOutcome], *, candidates: int) -> list[dict[str, object]]:
    """Per section: questions covered, correct, accuracy, and accuracy ÷ chance (chance = 1 / (candidates − 3)),
    best section first."""
    if candidates < 4:
        raise ValueError(f"candidates must be at least 4 (a, b, c and one answer), got {candidates}")
    chance = 1 / (candidates - 3)
    rows: dict[str, list[int]] = {}
    for outcome in outcomes:
        tally = rows.setdefault(outcome.section, [0, 0])
        tally[0] += outcome.correct
        tally[1] += 1
    table = [{"section": name, "covered": n, "correct": right, "accuracy": right / n, "times_chance": right / n / chance}
             for name, (right, n) in rows.items()]
    return sorted(table, key=lambda row: -row["accuracy"])


def show_analogy(vectors: WordVectors, a: str, b: str, c: str, topn: int = 5) -> list[tuple[str, float]]:
    """Print the ``topn`` answers to a : b :: c : ? (3CosAdd over all words) with their cosines and corpus
    ranks, or say which word is missing. The function behind notebook 03's analogy widget."""
    words = [w.strip().lower() for w in (a, b, c)]
    missing = [w for w in words if w not in vectors]
    if missing:
        print(f"not in the vocabulary: {', '.join(repr(w) for w in missing)} (the corpus has {len(vectors):,} words)")
        return []
    answers = vectors.analogy(*words, topn=topn)
    print(f"{words[0]} : {words[1]} :: {words[2]} : ?")
    for rank, (word, score) in enumerate(answers, start=1):
        print(f"  {rank}. {word:<15} cosine {score:.3f}   (frequency rank {vectors.index[word] + 1:,})")
    return answers


# ---------------------------------------------------------------------------------------------------
# The notebook's widget
# ---------------------------------------------------------------------------------------------------


def explore_word2vec(
    sentences: Sequence[Sequence[str]],
    *,
    architecture: str = "skipgram",
    dim: int = 50,
    window: int = 5,
    negatives: int = 5,
    epochs: int = 2,
    lr: float | None = None,
    probes: Sequence[str] = (),
    groups: dict[str, Sequence[str]] | None = None,
    similarity_sets: dict[str, Sequence[tuple[str, str, float]]] | None = None,
    device: str | torch.device | None = None,
) -> Word2VecResult:
    """Train a small model with these settings, print its scores and neighbours, plot a PCA of ``groups``.

    The function behind notebook 03's "try it yourself" panel; returns the training result.
    ``device``: where to train, as in :func:`course_utils.word2vec.train_word2vec`.
    """
    import matplotlib.pyplot as plt


    config = Word2VecConfig(architecture=architecture, dim=dim, window=window, negatives=negatives, epochs=epochs,
                            lr=lr)
    result = train_word2vec(sentences, config, progress=False, device=device)
    vectors = result.vectors
    print(f"{architecture}, D={dim}, window={window}, K={negatives}, {epochs} epochs: "
          f"{result.seconds:.1f} s ({result.words_per_second:,.0f} words/s)")
    for name, pairs in (similarity_sets or {}).items():
        print(f"  {name}: {evaluate_similarity(vectors, pairs)}")
    for word in probes:
        if word in vectors:
            print(f"  {word:>10} → " + ", ".join(w for w, _ in vectors.most_similar(word, topn=6)))
    words = [(w, g) for g, members in (groups or {}).items() for w in members if w in vectors]
    if len(words) >= 3:
        _, ax = plt.subplots(figsize=(6, 4.5))
        plot_projection(vectors.subset([w for w, _ in words]).matrix, [w for w, _ in words],
                        groups=[g for _, g in words], method="pca", ax=ax,
                        title=f"PCA of {architecture} vectors (D={dim}, window={window})")
    return result


# ---------------------------------------------------------------------------------------------------
# The cost of one step: full softmax against negative sampling
# ---------------------------------------------------------------------------------------------------


def time_training_step(
    vocab_size: int,
    *,
    objective: str,
    dim: int = 100,
    batch_size: int = 256,
    negatives: int = 5,
    repeats: int = 5,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> float:
    """Median seconds of one autograd training step (forward, backward, SGD) of a skip-gram model, on one core
    (or on ``device``; None: :func:`course_utils.training.choose_device`).

    Random ids stand in for data: the cost depends only on the sizes. The embeddings have sparse
    gradients, so a step updates only the rows it used: the full softmax's step grows with
    ``vocab_size`` (it scores, and updates, all V output vectors); negative sampling's touches only
    1 + K output rows per example. On an accelerator a step this small mostly measures kernel launches, so
    notebook 03 times the lesson on the CPU. Ids are drawn on the CPU, the same ones on every device.
    """
    if objective not in ("softmax", "negative"):
        raise ValueError(f"objective must be 'softmax' or 'negative', got {objective!r}")
    if repeats < 1:
        raise ValueError(f"repeats must be positive, got {repeats}")
    target = choose_device(device)
    generator = torch.Generator().manual_seed(seed)
    model = SkipGram(vocab_size, dim, sparse=True).to(target)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    noise = NoiseSampler(np.full(vocab_size, 1.0 / vocab_size), table_size=max(vocab_size, 10_000))
    times = []
    with single_thread():  # one core: the cost of the work itself, not of thread scheduling
        for _ in range(repeats + 1):  # the first step warms up
            centres = torch.randint(vocab_size, (batch_size,), generator=generator).to(target)
            contexts = torch.randint(vocab_size, (batch_size,), generator=generator).to(target)
            synchronize(target)
            begin = time.perf_counter()
            optimizer.zero_grad(set_to_none=True)
            if objective == "softmax":
                loss = model.full_softmax_loss(centres, contexts)
            else:
                noise_ids = noise.sample((batch_size, negatives), generator).to(target)
                loss = model.negative_sampling_loss(centres, contexts, noise_ids)
            loss.backward()
            optimizer.step()
            synchronize(target)
            times.append(time.perf_counter() - begin)
    return float(np.median(times[1:]))
