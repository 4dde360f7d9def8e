"""Using ELMo's layers as features: word senses, sentence polarity, and which layer a task wants.

A pretrained biLM (:mod:`course_utils.elmo`) gives token k the vectors h_{k,0..L}, one per layer. Here
they are probed two ways: **word senses**, where each example of an ambiguous word is assigned the sense
whose leave-one-out centroid c_s of the *other* examples is nearest, argmax_s cos(h_k, c_s) (as in
Peters et al.'s nearest-neighbour word-sense experiment, and chance for a static vector, whose senses
all tie), and **sentence polarity**, where the averaged token vectors feed a logistic regression. Fitting
a task's scalar mix ELMo_k = γ Σ_j s_j h_{k,j}, s = softmax(w), shows which layers it prefers; static
word2vec averages are the baseline. Peters et al. (2018), "Deep contextualized word representations",
NAACL (the word-sense probe is their section 5.3). The notebook's small retrain-from-scratch widget lives here too.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from course_utils.data import wiki_split
from course_utils.elmo import (
    ElmoBiLM,
    ElmoConfig,
    PretrainedElmo,
    ScalarMix,
    build_vocabularies,
    encode_corpus,
    train_bilm,
)
from course_utils.training import TrainingHistory
from course_utils.wordnet import sense_examples

__all__ = [
    "token_vectors",
    "sentence_vectors",
    "nearest_sense_predictions",
    "nearest_sense_accuracy",
    "chance_sense_accuracy",
    "polysemy_examples",
    "fit_sense_mix",
    "fit_polarity_mix",
    "cross_validated_accuracy",
    "average_static_vectors",
    "train_small_bilm",
    "retrain_demo",
]


# ---------------------------------------------------------------------------------------------------
# Using the vectors: word senses and sentence polarity
# ---------------------------------------------------------------------------------------------------


def token_vectors(elmo: PretrainedElmo, sentences: Sequence[Sequence[str]], positions: Sequence[int],
                  *, batch_size: int = 64) -> np.ndarray:
    """The (N, L+1, D) layer vectors of one token per sentence (``positions[i]`` in ``sentences[i]``)."""
    if len(sentences) != len(positions):
        raise ValueError(f"{len(sentences)} sentences but {len(positions)} positions")
    for i, (sentence, position) in enumerate(zip(sentences, positions)):
        if not 0 <= position < len(sentence):
            raise IndexError(f"position {position} is outside sentence {i} of {len(sentence)} tokens")
    layers = elmo.embed(sentences, batch_size=batch_size)
    return np.stack([vectors[:, position] for vectors, position in zip(layers, positions)])


def sentence_vectors(elmo: PretrainedElmo, sentences: Sequence[Sequence[str]], *, batch_size: int = 64,
                     ) -> np.ndarray:
    """Each sentence's token vectors averaged, per layer: (N, L+1, D)."""
    return np.stack([vectors.mean(axis=1) for vectors in elmo.embed(sentences, batch_size=batch_size)])


def _check_senses(vectors: np.ndarray, senses: Sequence[str], words: Sequence[str]) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.ndim != 2:
        raise ValueError(f"vectors must be 2-D (examples × dimensions), got shape {vectors.shape}")
    if not len(vectors) == len(senses) == len(words):
        raise ValueError(f"{len(vectors)} vectors, {len(senses)} senses and {len(words)} words: lengths differ")
    if not np.isfinite(vectors).all():
        raise ValueError("the vectors contain NaN or infinite values")
    return vectors


def nearest_sense_predictions(vectors, senses: Sequence[str], words: Sequence[str]) -> list[list[str]]:
    """Leave-one-out nearest sense: for each example, the senses of the same word whose centroid (of the
    *other* examples) is closest in cosine similarity. A list of tied best senses per example."""
    vectors = _check_senses(vectors, senses, words)
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    senses, words = list(senses), list(words)
    predictions = []
    for i in range(len(unit)):
        scores = {}
        for sense in dict.fromkeys(s for s, w in zip(senses, words) if w == words[i]):
            members = [j for j, s in enumerate(senses) if s == sense and j != i]
            if members:
                centroid = unit[members].mean(axis=0)
                scores[sense] = float(unit[i] @ centroid / max(np.linalg.norm(centroid), 1e-12))
        if len(scores) < 2:
            raise ValueError(f"example {i} ({words[i]!r}) has fewer than two candidate senses with other examples")
        best = max(scores.values())
        predictions.append([s for s, v in scores.items() if v >= best - 1e-9])
    return predictions


def nearest_sense_accuracy(vectors, senses: Sequence[str], words: Sequence[str]) -> float:
    """Leave-one-out accuracy of :func:`nearest_sense_predictions`; a tie among k senses that includes the
    right one counts 1/k (what random tie-breaking scores on average, e.g. chance for a static vector)."""
    predictions = nearest_sense_predictions(vectors, senses, words)
    return float(np.mean([(1 / len(p)) if s in p else 0.0 for p, s in zip(predictions, senses)]))


def chance_sense_accuracy(senses: Sequence[str], words: Sequence[str]) -> float:
    """Accuracy of guessing uniformly among each word's candidate senses (those with ≥ 2 examples)."""
    per_word: dict[str, set] = {}
    for s, w in zip(senses, words):
        per_word.setdefault(w, set()).add(s)
    return float(np.mean([1 / len(per_word[w]) for w in words]))


def polysemy_examples(words: Sequence[str], *, min_examples: int = 2) -> list[tuple[str, object]]:
    """``(word, example)`` pairs from WordNet's example sentences (``wordnet.sense_examples``), keeping the
    senses with at least ``min_examples`` examples and the words left with at least two such senses."""

    kept = []
    for word in words:
        examples = sense_examples(word)
        counts = Counter(e.synset for e in examples)
        good = [e for e in examples if counts[e.synset] >= min_examples]
        if len({e.synset for e in good}) >= 2:
            kept += [(word, e) for e in good]
    if not kept:
        raise ValueError(f"none of {list(words)} has two senses with {min_examples}+ WordNet examples")
    return kept


def _as_tensor_features(features) -> torch.Tensor:
    features = torch.as_tensor(np.asarray(features), dtype=torch.float32)
    if features.dim() != 3:
        raise ValueError(f"features must have shape (examples, layers, dimensions), got {tuple(features.shape)}")
    if not torch.isfinite(features).all():
        raise ValueError("the features contain NaN or infinite values")
    return features


def _leave_one_out_scores(vectors: torch.Tensor, sense_of: torch.Tensor, own: torch.Tensor) -> torch.Tensor:
    """−‖v_i − c_k^{(−i)}‖² for every example i and sense k, where c_k^{(−i)} is the mean of sense k's
    vectors without v_i. ``own`` (N, K) is the one-hot of each example's sense. Returns (N, K)."""
    counts = own.sum(0)  # (K,)
    sums = own.T @ vectors  # (K, D) sum of each sense's vectors
    centroids = sums / counts.clamp_min(1)[:, None]  # (K, D)
    # Expanded square, so no (N, K, D) tensor is needed.
    scores = -((vectors ** 2).sum(-1, keepdim=True) - 2 * vectors @ centroids.T + (centroids ** 2).sum(-1))
    # Example i's own sense: its centroid must leave i out, (sum − v_i) / (n − 1).
    own_centroid = (sums[sense_of] - vectors) / (counts[sense_of] - 1).clamp_min(1)[:, None]
    own_score = -((vectors - own_centroid) ** 2).sum(-1)  # (N,)
    return torch.where(own.bool(), own_score[:, None], scores)


def fit_sense_mix(features, senses: Sequence[str], words: Sequence[str], *, steps: int = 150,
                  learning_rate: float = 0.05, seed: int = 0) -> ScalarMix:
    """Learn ScalarMix weights for nearest-sense classification of target-word vectors (N, L+1, D).

    Each layer's vectors are scaled to unit length; example i (mixed: m_i = γ Σ_j s_j h_ij) is scored
    against the leave-one-out centroids c_k of its word's senses by −‖m_i − c_k‖² (γ² acts as an inverse
    temperature), and the mix is trained by cross-entropy, so it learns which layers separate senses best.
    Returns the trained :class:`ScalarMix`.
    """
    features = _as_tensor_features(features)
    _check_senses(features[:, 0].numpy(), senses, words)
    torch.manual_seed(seed)
    sense_names = list(dict.fromkeys(senses))
    sense_of = torch.tensor([sense_names.index(s) for s in senses])  # (N,)
    word_of_sense = {s: w for s, w in zip(senses, words)}
    if len(word_of_sense) != len(sense_names) or any(word_of_sense[s] != w for s, w in zip(senses, words)):
        raise ValueError("each sense must belong to one word")
    counts = torch.bincount(sense_of, minlength=len(sense_names)).float()  # (K,)
    own = F.one_hot(sense_of, len(sense_names)).float()  # (N, K): 1 where k is example i's sense
    same_word = torch.tensor([[word_of_sense[k] == w for k in sense_names] for w in words])  # (N, K)
    others = counts[None, :] - own  # examples of sense k other than i
    candidate = same_word & (others > 0)
    if (candidate.sum(1) < 2).any() or not candidate[torch.arange(len(senses)), sense_of].all():
        raise ValueError("every example needs its own sense and another sense of its word with other examples")
    normalised = features / features.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    mix = ScalarMix(features.shape[1])
    optimizer = torch.optim.Adam(mix.parameters(), lr=learning_rate)
    for _ in range(steps):
        optimizer.zero_grad()
        mixed = mix(normalised.transpose(0, 1))  # (N, D)
        scores = _leave_one_out_scores(mixed, sense_of, own).masked_fill(~candidate, float("-inf"))
        F.cross_entropy(scores, sense_of).backward()
        optimizer.step()
    return mix


def fit_polarity_mix(features, labels: Sequence[int], *, steps: int = 300, learning_rate: float = 0.05,
                     weight_decay: float = 1e-3, seed: int = 0) -> tuple[ScalarMix, float]:
    """Learn ScalarMix weights jointly with a logistic-regression head on sentence vectors (N, L+1, D).

    Returns the mix and the training accuracy (for held-out accuracy use :func:`cross_validated_accuracy`).
    """
    features = _as_tensor_features(features)
    targets = torch.as_tensor(np.asarray(labels), dtype=torch.float32)
    if targets.shape != (features.shape[0],) or not set(targets.unique().tolist()) <= {0.0, 1.0}:
        raise ValueError(f"labels must be {features.shape[0]} values in {{0, 1}}")
    torch.manual_seed(seed)
    # Standardise each layer's features so the weights compare layers, not their scales.
    mean, std = features.mean(0, keepdim=True), features.std(0, keepdim=True).clamp_min(1e-6)
    features = (features - mean) / std
    mix = ScalarMix(features.shape[1])
    head = nn.Linear(features.shape[-1], 1)
    optimizer = torch.optim.Adam([*mix.parameters(), *head.parameters()], lr=learning_rate)
    for _ in range(steps):
        optimizer.zero_grad()
        logits = head(mix(features.transpose(0, 1))).squeeze(-1)
        loss = F.binary_cross_entropy_with_logits(logits, targets) + weight_decay * head.weight.pow(2).sum()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        accuracy = float(((head(mix(features.transpose(0, 1))).squeeze(-1) > 0).float() == targets).float().mean())
    return mix, accuracy


def cross_validated_accuracy(features, labels: Sequence[int], *, folds: int = 5, seed: int = 0,
                             regularisation: float = 1.0) -> float:
    """Mean accuracy of a standardised logistic regression (scikit-learn) over stratified folds."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) != len(labels):
        raise ValueError(f"features must be (examples, dimensions) with one label each; got {features.shape} "
                         f"and {len(labels)} labels")
    if not np.isfinite(features).all():
        raise ValueError("the features contain NaN or infinite values")
    model = make_pipeline(StandardScaler(), LogisticRegression(C=regularisation, max_iter=2000))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return float(cross_val_score(model, features, np.asarray(labels), cv=splitter).mean())


def average_static_vectors(vectors, sentences: Sequence[Sequence[str]]) -> np.ndarray:
    """Mean of the static vectors (a ``WordVectors``) of each sentence's known words; zeros if none."""
    rows = []
    for sentence in sentences:
        known = [vectors.vector(w) for w in sentence if w in vectors]
        rows.append(np.mean(known, axis=0) if known else np.zeros(vectors.dim, dtype=np.float32))
    return np.stack(rows)


# ---------------------------------------------------------------------------------------------------
# Retraining a small biLM from scratch (the notebook widget)
# ---------------------------------------------------------------------------------------------------


def train_small_bilm(layers: int = 1, hidden_size: int = 128, steps: int = 30, *, token_lists=None,
                     seed: int = 0, on_step: Callable[[int, float], None] | None = None,
                     ) -> tuple[ElmoBiLM, TrainingHistory]:
    """Train a small biLM from scratch: a light character encoder (64-d tokens), ``layers`` LSTM layers of
    ``hidden_size`` cells per direction and a 2,000-word softmax, on ``token_lists`` (default: the first
    20 training articles), windows of 32 words, batches of 16."""

    if layers < 1 or hidden_size < 16 or steps < 1:
        raise ValueError(f"need layers >= 1, hidden_size >= 16 and steps >= 1; got {layers}, {hidden_size}, {steps}")
    if token_lists is None:
        token_lists = [a.tokens for a in wiki_split()[0][:20]]
    torch.manual_seed(seed)
    chars, words = build_vocabularies(token_lists, vocab_size=2000)
    config = ElmoConfig(len(chars), len(words), filters=((1, 16), (2, 16), (3, 32), (4, 32)), token_dim=64,
                        hidden_size=max(hidden_size, 64), num_layers=layers, dropout=0.0)
    model = ElmoBiLM(config)
    history = train_bilm(model, encode_corpus(token_lists, chars, words), steps=steps, window=32, batch_size=16,
                         learning_rate=3e-3, seed=seed, progress=False, on_step=on_step)
    return model, history


def retrain_demo(layers: int = 1, hidden_size: int = 128, steps: int = 30, *, plot_every: int = 5,
                 seed: int = 0) -> None:
    """The notebook's widget: :func:`train_small_bilm` with a loss curve redrawn every ``plot_every`` steps."""
    import matplotlib.pyplot as plt
    from IPython.display import display

    losses: list[float] = []
    figure, ax = plt.subplots(figsize=(6, 3.5))
    handle = display(figure, display_id=True)

    def draw(step: int, loss: float) -> None:
        losses.append(loss)
        if step % plot_every and step != steps:
            return
        ax.clear()
        ax.plot(range(1, len(losses) + 1), np.exp(losses), color="tab:blue")
        ax.set(xlabel="step", ylabel="training perplexity (mean of both LMs)", yscale="log",
               title=f"biLM from scratch: {layers} layer(s) of {max(hidden_size, 64)} cells, step {step}/{steps}")
        if handle is not None:  # None outside IPython, where there is no live output to update
            handle.update(figure)

    start = time.perf_counter()
    _, history = train_small_bilm(layers, hidden_size, steps, seed=seed, on_step=draw)
    plt.close(figure)
    print(f"{history.steps} steps in {time.perf_counter() - start:.1f} s: training perplexity "
          f"{math.exp(history.losses[0]):.0f} → {math.exp(np.mean(history.losses[-5:])):.0f} (mean of the last 5)")


