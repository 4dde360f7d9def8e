"""Using ELMo's layers as features: how contextual they are, word senses, part of speech, and which
layer a task wants.

A pretrained biLM (:mod:`course_utils.elmo`) gives token k the vectors h_{k,0..L}, one per layer. They
are probed on WordNet's example sentences, whose sense (synset) and part of speech are known:

* **contextuality** — for each word, the mean cosine between its occurrences with the *same* sense and
  with *different* senses, per layer. A static vector (word2vec, or ELMo's context-free layer 0) gives
  one vector per spelling, so both means are 1 and the gap same − different is 0 by construction;
* **nearest-sense classification** — each example gets the label whose leave-one-out centroid c_s of the
  *other* examples of its word is nearest, argmax_s cos(h_k, c_s) (Peters et al.'s nearest-neighbour
  word-sense experiment), with chance and most-frequent-sense baselines. The same classifier with part
  of speech as the label is a syntactic probe, so a syntax probe and a sense probe can be compared layer
  by layer;
* **a learned scalar mix** ELMo_k = γ Σ_j s_j h_{k,j}, s = softmax(w), fitted per task, shows which
  layers the task prefers.

Peters et al. (2018), "Deep contextualized word representations", NAACL (word senses: section 5.3;
"lower layers syntax, upper layers semantics": section 5.3 and table 6). The notebook's widget (one
word's similarity in two sentences, layer by layer) lives here too.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from .elmo import PretrainedElmo, ScalarMix
from .tokenization import tokenize
from .training import choose_device

__all__ = [
    "token_vectors",
    "sentence_vectors",
    "average_static_vectors",
    "polysemy_examples",
    "part_of_speech",
    "contrastive_subset",
    "SenseSimilarity",
    "sense_similarity",
    "bootstrap_interval",
    "nearest_sense_predictions",
    "nearest_sense_credit",
    "nearest_sense_accuracy",
    "chance_sense_accuracy",
    "most_frequent_sense_accuracy",
    "fit_sense_mix",
    "cross_validated_accuracy",
    "layer_similarity",
    "show_layer_similarity",
]


# ---------------------------------------------------------------------------------------------------
# Vectors and examples
# ---------------------------------------------------------------------------------------------------


def token_vectors(elmo: PretrainedElmo, sentences: Sequence[Sequence[str]], positions: Sequence[int],
                  *, batch_size: int = 64, device: str | torch.device | None = None) -> np.ndarray:
    """The (N, L+1, D) layer vectors of one token per sentence (``positions[i]`` in ``sentences[i]``).

    ``device``: where the biLM runs (None: :func:`course_utils.training.choose_device`), as in
    :meth:`PretrainedElmo.embed`; the arrays are on the CPU."""
    if len(sentences) != len(positions):
        raise ValueError(f"{len(sentences)} sentences but {len(positions)} positions")
    for i, (sentence, position) in enumerate(zip(sentences, positions)):
        if not 0 <= position < len(sentence):
            raise IndexError(f"position {position} is outside sentence {i} of {len(sentence)} tokens")
    layers = elmo.embed(sentences, batch_size=batch_size, device=device)
    return np.stack([vectors[:, position] for vectors, position in zip(layers, positions)])


def sentence_vectors(elmo: PretrainedElmo, sentences: Sequence[Sequence[str]], *, batch_size: int = 64,
                     device: str | torch.device | None = None) -> np.ndarray:
    """Each sentence's token vectors averaged, per layer: (N, L+1, D) (``device`` as in :func:`token_vectors`)."""
    return np.stack([vectors.mean(axis=1) for vectors in elmo.embed(sentences, batch_size=batch_size, device=device)])


def average_static_vectors(vectors, sentences: Sequence[Sequence[str]]) -> np.ndarray:
    """Mean of the static vectors (a ``WordVectors``) of each sentence's known words; zeros if none."""
    rows = []
    for sentence in sentences:
        known = [vectors.vector(w) for w in sentence if w in vectors]
        rows.append(np.mean(known, axis=0) if known else np.zeros(vectors.dim, dtype=np.float32))
    return np.stack(rows)


def polysemy_examples(words: Sequence[str], *, min_examples: int = 2, same_form: bool = False,
                      skip_unknown: bool = False) -> list[tuple[str, object]]:
    """``(word, example)`` pairs from WordNet's example sentences (``wordnet.sense_examples``), keeping the
    senses with at least ``min_examples`` examples and the words left with at least two such senses.

    ``same_form=True`` keeps only examples where the word is spelled exactly as given (no inflections),
    so a static vector is the *same* vector in all of them. ``skip_unknown=True`` skips words WordNet
    does not know instead of raising ``KeyError`` (for scanning a whole vocabulary).
    """
    from .wordnet import sense_examples

    if min_examples < 1:
        raise ValueError(f"min_examples must be at least 1, got {min_examples}")
    kept = []
    for word in words:
        try:
            examples = sense_examples(word)
        except KeyError:
            if skip_unknown:
                continue
            raise
        if same_form:
            examples = [e for e in examples if e.tokens[e.position] == word.lower()]
        counts = Counter(e.synset for e in examples)
        good = [e for e in examples if counts[e.synset] >= min_examples]
        if len({e.synset for e in good}) >= 2:
            kept += [(word, e) for e in good]
    if not kept:
        raise ValueError(f"none of the {len(words)} words has two senses with {min_examples}+ WordNet examples")
    return kept


def part_of_speech(synset: str) -> str:
    """The part of speech of a synset name such as ``'bank.n.01'``: noun, verb, adjective or adverb
    (adjective satellites count as adjectives)."""
    names = {"n": "noun", "v": "verb", "a": "adjective", "s": "adjective", "r": "adverb"}
    parts = synset.rsplit(".", 2)
    if len(parts) != 3 or parts[1] not in names:
        raise ValueError(f"{synset!r} is not a WordNet synset name like 'bank.n.01'")
    return names[parts[1]]


def contrastive_subset(labels: Sequence[str], groups: Sequence[str], *, min_examples: int = 2) -> np.ndarray:
    """Indices of the examples whose label has ``min_examples``+ examples within its group, in the groups
    left with at least two such labels: the examples on which "which label?" is a real question.

    With labels = parts of speech and groups = words, it keeps words seen both as, say, a noun and a verb.
    """
    if len(labels) != len(groups):
        raise ValueError(f"{len(labels)} labels but {len(groups)} groups")
    counts = Counter(zip(groups, labels))
    good = [i for i, key in enumerate(zip(groups, labels)) if counts[key] >= min_examples]
    labels_per_group: dict[str, set] = {}
    for i in good:
        labels_per_group.setdefault(groups[i], set()).add(labels[i])
    return np.array([i for i in good if len(labels_per_group[groups[i]]) >= 2], dtype=np.int64)


# ---------------------------------------------------------------------------------------------------
# Contextuality: same sense versus different senses
# ---------------------------------------------------------------------------------------------------


def _as_layers(features) -> np.ndarray:
    """(N, D) or (N, L, D) → float64 (N, L, D), checked."""
    features = np.asarray(features.detach().cpu() if hasattr(features, "detach") else features, dtype=np.float64)
    if features.ndim == 2:
        features = features[:, None]
    if features.ndim != 3:
        raise ValueError(f"features must be (examples, dimensions) or (examples, layers, dimensions), "
                         f"got shape {features.shape}")
    if not np.isfinite(features).all():
        raise ValueError("the features contain NaN or infinite values")
    return features


def _groups(words: Sequence[str]) -> dict[str, np.ndarray]:
    """Example indices of each word, in order of first appearance."""
    found: dict[str, list[int]] = {}
    for i, word in enumerate(words):
        found.setdefault(word, []).append(i)
    return {word: np.array(index) for word, index in found.items()}


@dataclass
class SenseSimilarity:
    """Per word and layer, the mean cosine between two occurrences of the same sense and of different senses.

    ``same`` and ``different``: (W, L) for the W words in ``words``; ``examples``: occurrences per word.
    """

    words: list[str]
    same: np.ndarray
    different: np.ndarray
    examples: np.ndarray

    @property
    def gap(self) -> np.ndarray:
        """same − different, (W, L): positive where a layer keeps a word's senses apart."""
        return self.same - self.different


def sense_similarity(features, senses: Sequence[str], words: Sequence[str]) -> SenseSimilarity:
    """Mean cosine of same-sense and of different-sense pairs of occurrences, for every word and layer.

    ``features`` is (N, L, D) (or (N, D) for one layer). Every word needs two senses and at least one
    sense with two occurrences (:func:`polysemy_examples` guarantees both). All distinct pairs count.
    """
    features = _as_layers(features)
    if not len(features) == len(senses) == len(words):
        raise ValueError(f"{len(features)} vectors, {len(senses)} senses and {len(words)} words: lengths differ")
    unit = features / np.maximum(np.linalg.norm(features, axis=-1, keepdims=True), 1e-12)
    names, same, different, examples = [], [], [], []
    for word, index in _groups(words).items():
        labels = np.array([senses[i] for i in index])
        same_pair = (labels[:, None] == labels[None, :]) & ~np.eye(len(index), dtype=bool)
        different_pair = labels[:, None] != labels[None, :]
        if not same_pair.any() or not different_pair.any():
            raise ValueError(f"{word!r} needs two senses and two occurrences of one sense "
                             f"(it has {len(index)} occurrences of {len(set(labels))} senses)")
        cosines = np.einsum("ild,jld->lij", unit[index], unit[index])  # (L, n, n)
        names.append(word)
        same.append(cosines[:, same_pair].mean(axis=1))
        different.append(cosines[:, different_pair].mean(axis=1))
        examples.append(len(index))
    return SenseSimilarity(names, np.array(same), np.array(different), np.array(examples))


def bootstrap_interval(values, groups: Sequence | None = None, *, confidence: float = 0.95, samples: int = 2000,
                       seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval for the mean of ``values``.

    With ``groups`` (e.g. the word of each example), whole groups are resampled, since examples of one
    word are not independent; the mean is then over all values of the drawn groups.
    """
    values = np.asarray(values, dtype=np.float64).reshape(-1)
    if len(values) < 2 or not np.isfinite(values).all():
        raise ValueError("bootstrap_interval needs at least two finite values")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if groups is None:
        sums, counts = values, np.ones_like(values)
    else:
        if len(groups) != len(values):
            raise ValueError(f"{len(values)} values but {len(groups)} groups")
        index = _groups(list(groups))
        sums = np.array([values[i].sum() for i in index.values()])
        counts = np.array([len(i) for i in index.values()], dtype=np.float64)
    draws = np.random.RandomState(seed).randint(0, len(sums), size=(samples, len(sums)))
    means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    tail = (1 - confidence) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


# ---------------------------------------------------------------------------------------------------
# Nearest-sense classification and its baselines
# ---------------------------------------------------------------------------------------------------


def _check_senses(vectors, senses: Sequence[str], words: Sequence[str]) -> np.ndarray:
    vectors = np.asarray(vectors.detach().cpu() if hasattr(vectors, "detach") else vectors, dtype=np.float64)
    if vectors.ndim != 2:
        raise ValueError(f"vectors must be 2-D (examples × dimensions), got shape {vectors.shape}")
    if not len(vectors) == len(senses) == len(words):
        raise ValueError(f"{len(vectors)} vectors, {len(senses)} senses and {len(words)} words: lengths differ")
    if not np.isfinite(vectors).all():
        raise ValueError("the vectors contain NaN or infinite values")
    return vectors


def nearest_sense_predictions(vectors, senses: Sequence[str], words: Sequence[str], *,
                              tolerance: float = 1e-6) -> list[list[str]]:
    """Leave-one-out nearest sense: for each example, the senses of the same word whose centroid (of the
    *other* examples) is closest in cosine similarity. A list of tied best senses per example.

    Cosines within ``tolerance`` of the best count as ties: float32 vectors of one spelling computed in
    different batches differ in the last bits, and that noise must not decide between senses.
    """
    vectors = _check_senses(vectors, senses, words)
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    predictions: list[list[str]] = [[] for _ in range(len(unit))]
    for word, index in _groups(words).items():
        labels = [senses[i] for i in index]
        names = list(dict.fromkeys(labels))
        own = np.array([[label == name for name in names] for label in labels], dtype=np.float64)  # (n, K)
        u = unit[index]  # (n, D)
        sums = own.T @ u  # (K, D): each sense's summed unit vectors
        dots = u @ sums.T  # (n, K)
        self_dot = (u * u).sum(axis=1, keepdims=True)  # 1, or 0 for an all-zero vector
        # Leave example i out of its own sense: u·(S − u) and ‖S − u‖² = ‖S‖² − 2 u·S + ‖u‖².
        loo_dots = dots - own * self_dot
        loo_norms = np.sqrt(np.maximum((sums ** 2).sum(axis=1)[None, :] - own * (2 * dots - self_dot), 0.0))
        scores = loo_dots / np.maximum(loo_norms, 1e-12)  # cosine with the centroid (the sum's direction)
        others = own.sum(axis=0)[None, :] - own  # (n, K) examples of sense k other than i
        scores[others == 0] = -np.inf
        for row, i in enumerate(index):
            if np.isfinite(scores[row]).sum() < 2:
                raise ValueError(f"example {i} ({word!r}) has fewer than two candidate senses with other examples")
            best = scores[row].max()
            predictions[i] = [name for name, s in zip(names, scores[row]) if s >= best - tolerance]
    return predictions


def nearest_sense_credit(vectors, senses: Sequence[str], words: Sequence[str], *, tolerance: float = 1e-6,
                         ) -> np.ndarray:
    """Per example, 1/k if its sense is among the k tied predictions of :func:`nearest_sense_predictions`,
    else 0 (what random tie-breaking scores on average)."""
    predictions = nearest_sense_predictions(vectors, senses, words, tolerance=tolerance)
    return np.array([(1 / len(p)) if s in p else 0.0 for p, s in zip(predictions, senses)])


def nearest_sense_accuracy(vectors, senses: Sequence[str], words: Sequence[str], *, tolerance: float = 1e-6,
                           ) -> float:
    """Leave-one-out accuracy of :func:`nearest_sense_predictions`; a tie among k senses that includes the
    right one counts 1/k (so a static vector, whose senses all tie, scores chance)."""
    return float(nearest_sense_credit(vectors, senses, words, tolerance=tolerance).mean())


def chance_sense_accuracy(senses: Sequence[str], words: Sequence[str]) -> float:
    """Accuracy of guessing uniformly among each word's senses."""
    if len(senses) != len(words) or not senses:
        raise ValueError(f"need one sense per word and at least one example; got {len(senses)} and {len(words)}")
    per_word: dict[str, set] = {}
    for s, w in zip(senses, words):
        per_word.setdefault(w, set()).add(s)
    return float(np.mean([1 / len(per_word[w]) for w in words]))


def most_frequent_sense_accuracy(senses: Sequence[str], words: Sequence[str]) -> float:
    """Accuracy of always answering each word's most frequent sense (ties among k senses count 1/k).

    The frequencies are counted on the same examples that are scored, so this is the best that *any*
    classifier can do which sees only the word (one static vector per spelling) — an optimistic baseline.
    """
    if len(senses) != len(words) or not senses:
        raise ValueError(f"need one sense per word and at least one example; got {len(senses)} and {len(words)}")
    counts = Counter(zip(words, senses))
    best: dict[str, int] = {}
    for (word, _), n in counts.items():
        best[word] = max(best.get(word, 0), n)
    ties = Counter(word for (word, _), n in counts.items() if n == best[word])
    return float(np.mean([(1 / ties[w]) if counts[(w, s)] == best[w] else 0.0 for s, w in zip(senses, words)]))


# ---------------------------------------------------------------------------------------------------
# Which layers does a task want? A learned scalar mix, and a cross-validated probe
# ---------------------------------------------------------------------------------------------------


def _as_tensor_features(features) -> torch.Tensor:
    features = torch.as_tensor(np.asarray(features), dtype=torch.float32)
    if features.dim() != 3:
        raise ValueError(f"features must have shape (examples, layers, dimensions), got {tuple(features.shape)}")
    if not torch.isfinite(features).all():
        raise ValueError("the features contain NaN or infinite values")
    return features


def _leave_one_out_grams(features: torch.Tensor, labels: Sequence[str], words: Sequence[str],
                         ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per example i and candidate label k of its word, the (L, L) Gram matrix of the per-layer residuals
    r_j = h_ij − c_kj^{(−i)}, where c_k^{(−i)} is the mean of label k's examples other than i.

    A mix m = γ Σ_j s_j h_j is linear, so ‖m_i − c_k‖² = γ² sᵀ A_ik s: one (N, K_max, L, L) tensor computed
    once makes every training step cheap. Returns A, the candidate mask (N, K_max) (labels with other
    examples) and each example's own label column (N,). Labels are padded to the word with the most.
    """
    groups = _groups(words)
    widest = max(len(set(labels[i] for i in index)) for index in groups.values())
    count, layers = features.shape[0], features.shape[1]
    grams = torch.zeros(count, widest, layers, layers, dtype=features.dtype)
    candidate = torch.zeros(count, widest, dtype=torch.bool)
    target = torch.zeros(count, dtype=torch.long)
    for word, index in groups.items():
        names = list(dict.fromkeys(labels[i] for i in index))
        own = torch.tensor([[labels[i] == name for name in names] for i in index], dtype=features.dtype)  # (n, K)
        vectors = features[torch.as_tensor(index)]  # (n, L, D)
        sums = torch.einsum("nk,nld->kld", own, vectors)  # (K, L, D)
        others = own.sum(0)[None, :] - own  # (n, K): examples of label k other than i
        centroids = (sums[None] - own[:, :, None, None] * vectors[:, None]) / others.clamp_min(1)[:, :, None, None]
        residuals = vectors[:, None] - centroids  # (n, K, L, D)
        grams[index, : len(names)] = torch.einsum("nkjd,nkld->nkjl", residuals, residuals)
        candidate[index, : len(names)] = others > 0
        target[index] = own.argmax(1)
        lacking = (candidate[index].sum(1) < 2) | ~candidate[index, own.argmax(1)]
        if lacking.any():
            raise ValueError(f"every example needs its own label and another label of its word with other "
                             f"examples; {word!r} does not have them")
    return grams, candidate, target


def fit_sense_mix(features, senses: Sequence[str], words: Sequence[str], *, steps: int = 150,
                  learning_rate: float = 0.05, seed: int = 0, device: str | torch.device | None = None,
                  ) -> ScalarMix:
    """Learn ScalarMix weights for nearest-label classification of target-word vectors (N, L+1, D).

    Each layer's vectors are scaled to unit length; example i (mixed: m_i = γ Σ_j s_j h_ij) is scored
    against the leave-one-out centroids c_k of its word's labels by −‖m_i − c_k‖² (γ² acts as an inverse
    temperature), and the mix is trained by cross-entropy, so it learns which layers separate the labels
    best. Labels are senses, parts of speech, or any other label of a word's occurrences. Returns the
    trained :class:`ScalarMix`, on the CPU. ``device``: where the steps run (None:
    :func:`course_utils.training.choose_device`), in float64 (float32 on MPS, which has no float64).
    """
    features = _as_tensor_features(features).double()
    _check_senses(features[:, 0].numpy(), senses, words)
    if steps < 1 or learning_rate <= 0:
        raise ValueError(f"need steps >= 1 and learning_rate > 0, got {steps} and {learning_rate}")
    place = choose_device(device)
    dtype = torch.float32 if place.type == "mps" else torch.float64
    torch.manual_seed(seed)
    normalised = features / features.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    grams, candidate, target = _leave_one_out_grams(normalised, list(senses), list(words))  # on the CPU
    grams, candidate, target = grams.to(place, dtype), candidate.to(place), target.to(place)
    mix = ScalarMix(features.shape[1]).to(place, dtype)
    optimizer = torch.optim.Adam(mix.parameters(), lr=learning_rate)
    for _ in range(steps):
        optimizer.zero_grad()
        s = mix.weights
        distances = mix.gamma ** 2 * torch.einsum("j,nkjl,l->nk", s, grams, s)  # ‖m_i − c_k‖², (N, K_max)
        F.cross_entropy((-distances).masked_fill(~candidate, float("-inf")), target).backward()
        optimizer.step()
    return mix.to("cpu", torch.float32)


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


# ---------------------------------------------------------------------------------------------------
# The widget: one word in two sentences, layer by layer
# ---------------------------------------------------------------------------------------------------


def _locate(word: str, sentence: str, name: str) -> tuple[list[str], int]:
    tokens = tokenize(sentence)
    if not tokens:
        raise ValueError(f"{name} is empty")
    if word not in tokens:
        raise ValueError(f"{word!r} does not occur in {name} (its tokens: {' '.join(tokens)})")
    return tokens, tokens.index(word)


def layer_similarity(elmo: PretrainedElmo, sentence_a: str, sentence_b: str, word: str, *,
                     device: str | torch.device | None = None) -> np.ndarray:
    """Cosine similarity, per layer (L+1,), between the vectors of ``word`` in two sentences (its first
    occurrence in each; sentences are tokenised with :func:`course_utils.tokenization.tokenize`).
    ``device`` as in :func:`token_vectors`."""
    target = tokenize(word)
    if len(target) != 1:
        raise ValueError(f"word must be a single token, got {word!r} ({len(target)} tokens)")
    target = target[0]
    sentences, positions = zip(*(_locate(target, s, name) for s, name in
                                 ((sentence_a, "sentence A"), (sentence_b, "sentence B"))))
    vectors = token_vectors(elmo, list(sentences), list(positions), device=device)  # (2, L+1, D)
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-12)
    return (unit[0] * unit[1]).sum(-1).astype(np.float64)


def show_layer_similarity(elmo: PretrainedElmo, sentence_a: str, sentence_b: str, word: str, *,
                          reference: SenseSimilarity | None = None, ax=None,
                          device: str | torch.device | None = None) -> None:
    """The widget: :func:`layer_similarity` as bars, one per layer, next to a static vector's 1.

    ``reference`` (from :func:`sense_similarity` over many words) adds, per layer, the average cosine of
    two occurrences with the same sense and with different senses, to read the pair against.
    """
    import matplotlib.pyplot as plt

    cosines = layer_similarity(elmo, sentence_a, sentence_b, word, device=device)
    layers = np.arange(len(cosines))
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.5))
    ax.bar(layers, cosines, color="tab:blue", width=0.6, label=f"'{word}' in A vs B")
    ax.axhline(1.0, color="grey", linestyle=":", label="static vector (word2vec): always 1")
    if reference is not None:
        if reference.same.shape[1] != len(cosines):
            raise ValueError(f"reference has {reference.same.shape[1]} layers, the model {len(cosines)}")
        ax.plot(layers, reference.same.mean(0), "o--", color="tab:green", label="average, same sense")
        ax.plot(layers, reference.different.mean(0), "s--", color="tab:red", label="average, different senses")
    ax.set(xticks=layers, xticklabels=["0 (characters)", *[str(j) for j in layers[1:]]], xlabel="ELMo layer",
           ylabel="cosine similarity", ylim=(min(0.0, float(cosines.min()) - 0.05), 1.05),
           title=f"'{word}' in two sentences, layer by layer")
    ax.legend(fontsize=8, loc="lower left")
    print("\n".join(f"layer {j}: cosine {c:.3f}" for j, c in enumerate(cosines)))
