"""DeepWalk: "xxx2vec" on graphs, word2vec trained on random walks instead of sentences.

word2vec only needs sequences of tokens in which neighbours are related. A graph supplies them: start
at every node, repeatedly step to a uniformly chosen neighbour, and treat each walk v_1 → v_2 → … → v_L
as a sentence. Skip-gram on these walks then maximises log p(v_j | v_i) for nodes within ``window``
steps of each other, so nodes that share many short paths (parents, children, siblings) get close
vectors. Paper: Perozzi, Al-Rfou and Skiena 2014, "DeepWalk: Online Learning of Social
Representations" (KDD 2014, arXiv:1403.6652).

:func:`random_walks` makes the walks (train them with :func:`course_utils.word2vec.train_word2vec`),
:func:`wordnet_hyponym_graph` turns WordNet's noun hierarchy into the graph notebook 03 embeds, and
:func:`nodes_within` (breadth-first search) checks whether vector neighbours are graph neighbours.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

__all__ = ["random_walks", "wordnet_hyponym_graph", "nodes_within"]


def random_walks(
    neighbours: dict[Hashable, Sequence[Hashable]],
    *,
    walks_per_node: int = 5,
    length: int = 10,
    seed: int = 0,
) -> list[list[Hashable]]:
    """Uniform random walks over a graph given as adjacency lists (DeepWalk, Perozzi et al. 2014).

    Every node with neighbours starts ``walks_per_node`` walks of at most ``length`` nodes; each step
    moves to a uniformly chosen neighbour. The walks are "sentences" for :func:`train_word2vec`.
    """
    if walks_per_node < 1 or length < 2:
        raise ValueError(f"walks_per_node must be ≥ 1 and length ≥ 2, got {walks_per_node} and {length}")
    if not neighbours:
        raise ValueError("the graph has no nodes")
    rng = np.random.default_rng(seed)
    nodes = [node for node in neighbours if neighbours[node]]
    walks = []
    for _ in range(walks_per_node):
        for start in rng.permutation(len(nodes)):
            walk = [nodes[start]]
            while len(walk) < length:
                options = neighbours.get(walk[-1]) or ()
                if not options:
                    break
                walk.append(options[int(rng.integers(len(options)))])
            walks.append(walk)
    return walks


def wordnet_hyponym_graph(roots: Sequence[str]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """WordNet's noun hierarchy below ``roots`` as an undirected graph of synset names.

    Returns ``(neighbours, group)``: adjacency lists linking every synset with its hypernyms and
    hyponyms inside the subtree, and, for every synset, the root it descends from (its "group").
    ``wordnet_hyponym_graph(["mammal.n.01", "vehicle.n.01"])`` gives the mammals and the vehicles.
    """
    from nltk.corpus import wordnet as wn

    if not roots:
        raise ValueError("give at least one root synset name, e.g. 'mammal.n.01'")
    group: dict[str, str] = {}
    for root in roots:
        try:
            synset = wn.synset(root)
        except Exception as error:  # nltk raises WordNetError or ValueError for unknown names
            raise KeyError(f"{root!r} is not a WordNet synset name") from error
        for member in [synset, *synset.closure(lambda s: s.hyponyms())]:
            group.setdefault(member.name(), root)
    neighbours: dict[str, set[str]] = {name: set() for name in group}
    for name in group:
        for hyponym in wn.synset(name).hyponyms():
            if hyponym.name() in group:
                neighbours[name].add(hyponym.name())
                neighbours[hyponym.name()].add(name)
    # nltk's closure order varies between processes (it goes through sets): sort for reproducible walks
    names = sorted(group)
    return {name: sorted(neighbours[name]) for name in names}, {name: group[name] for name in names}


def nodes_within(neighbours: dict[Hashable, Sequence[Hashable]], source: Hashable, hops: int) -> set[Hashable]:
    """The nodes at most ``hops`` edges from ``source`` (breadth-first search), ``source`` included."""
    if source not in neighbours:
        raise KeyError(f"node {source!r} is not in the graph")
    if hops < 0:
        raise ValueError(f"hops must be ≥ 0, got {hops}")
    seen, frontier = {source}, [source]
    for _ in range(hops):
        frontier = [n for node in frontier for n in neighbours.get(node, ()) if n not in seen]
        seen.update(frontier)
    return seen
