"""Tests for course_utils.deepwalk: random walks over a graph, the WordNet hyponym graph, nodes within k hops."""

from __future__ import annotations

import pytest

from course_utils.deepwalk import nodes_within, random_walks, wordnet_hyponym_graph


def test_random_walks_follow_edges():
    graph = {"a": ["b"], "b": ["a", "c"], "c": ["b"], "d": []}
    walks = random_walks(graph, walks_per_node=3, length=5, seed=0)
    assert len(walks) == 9 and all(len(w) == 5 for w in walks)
    assert all(second in graph[first] for walk in walks for first, second in zip(walk, walk[1:]))
    with pytest.raises(ValueError):
        random_walks(graph, length=1)
    assert nodes_within(graph, "a", 1) == {"a", "b"} and nodes_within(graph, "a", 2) == {"a", "b", "c"}
    with pytest.raises(KeyError, match="zz"):
        nodes_within(graph, "zz", 1)


def test_wordnet_hyponym_graph_links_parents_and_children():
    graph, group = wordnet_hyponym_graph(["canine.n.02"])
    assert "dog.n.01" in graph["canine.n.02"] and "canine.n.02" in graph["dog.n.01"]
    assert "puppy.n.01" in graph["dog.n.01"] and set(group.values()) == {"canine.n.02"}
    assert all(a in graph[b] for a, links in graph.items() for b in links)  # undirected
    assert list(graph) == sorted(graph)  # a fixed order, so random walks are reproducible
    with pytest.raises(KeyError, match="no_such"):
        wordnet_hyponym_graph(["no_such.n.01"])
