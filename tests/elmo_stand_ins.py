"""Tiny ELMo stand-ins shared by tests/test_elmo.py and tests/test_elmo_features.py (not a test module)."""

from __future__ import annotations

import torch

from course_utils import elmo

SENTENCES = [
    "the bank of the river was steep".split(),
    "she went to the bank to deposit money".split(),
    "the plant grows in the garden".split(),
    "workers at the plant make cars".split(),
]


def tiny_setup(num_layers: int = 2, hidden_size: int = 24, dropout: float = 0.0, seed: int = 0):
    """A seeded biLM with a few hundred parameters over SENTENCES, with its character and word vocabularies."""
    torch.manual_seed(seed)
    chars, words = elmo.build_vocabularies(SENTENCES, vocab_size=20, char_min_count=1, max_chars=10)
    config = elmo.ElmoConfig(len(chars), len(words), max_chars=10, char_dim=4, filters=((1, 4), (2, 6), (3, 6)),
                             token_dim=8, hidden_size=hidden_size, num_layers=num_layers, dropout=dropout)
    model = elmo.ElmoBiLM(config).eval()
    return model, chars, words
