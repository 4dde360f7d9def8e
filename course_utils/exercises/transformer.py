"""Checkers for notebook 06's exercises: the decoder's self-attention mask and one greedy decoding step.

Each checker compares the student's function with the tested implementation in
``course_utils.transformer`` and prints one pass/fail line with a hint.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from course_utils import transformer
from course_utils.exercises import ExerciseResult, check_function, check_true, guards

__all__ = ["check_decoder_mask", "check_decoding_step"]


@guards(transformer.decoder_self_mask)
def check_decoder_mask(student: Callable) -> ExerciseResult:
    """``student(target, pad_id)`` must return the (B, 1, T, T) bool mask: causal AND key is not padding."""
    name = "decoder self-attention mask"
    hint = ("two conditions must both hold: the key comes no later than the query (a lower-triangular T × T "
            "pattern, diagonal included) and the key is not padding (compare the target with pad_id and give "
            "that (B, T) result singleton axes so it lines up with the key axis); combine them with a logical "
            "and, and let broadcasting produce (B, 1, T, T)")
    cases = [
        (torch.tensor([[1, 5, 6, 2]]), 0),  # no padding: just the causal triangle
        (torch.tensor([[1, 5, 6, 2, 0, 0], [1, 7, 2, 0, 0, 0]]), 0),  # right-padded batch
        (torch.tensor([[1, 4, 9, 9], [1, 9, 9, 9]]), 9),  # another padding id
    ]
    result = check_function(student, transformer.decoder_self_mask, cases, name=name, hint=hint)
    if not result:
        return result
    dtype = getattr(student(*cases[1]), "dtype", None)
    if dtype != torch.bool:
        return check_true(False, name=name, passed="", hint=hint,
                          failed=f"the values are right but the dtype is {dtype}, not torch.bool")
    return result


def _tiny_model() -> transformer.EncoderDecoder:
    config = transformer.TransformerConfig(src_vocab_size=9, tgt_vocab_size=11, d_model=16, n_heads=2, d_ff=32,
                                           n_encoder_layers=1, n_decoder_layers=2, dropout=0.0, max_len=10,
                                           tie_embeddings="none")
    torch.manual_seed(3)
    model = transformer.EncoderDecoder(config).eval()
    with torch.no_grad():  # a trained model never predicts <pad> or <s>; make this random one agree
        model.output.bias[[config.pad_id, config.bos_id]] = -1e4
    return model


@guards(transformer.greedy_step)
def check_decoding_step(student: Callable, model: transformer.EncoderDecoder | None = None,
                        sources: torch.Tensor | None = None, steps: int = 4) -> ExerciseResult:
    """``student(model, memory, source_mask, prefix)`` must return ``prefix`` (B, t) with the most probable
    next token appended, (B, t + 1). Checked for ``steps`` consecutive steps from ``<s>``.

    Uses ``model`` and ``sources`` (B, S) when given (e.g. the notebook's trained translator and some
    held-out inputs), else a small seeded model.
    """
    name = "one greedy decoding step"
    hint = ("model.decode returns scores for every prefix position, (B, t, V), but only the last position "
            "predicts the token that comes next; take the highest-scoring word there for each row and append it "
            "to the prefix as a new column")
    if model is None:
        model = _tiny_model()
        sources = torch.tensor([[3, 4, 5, 2], [6, 7, 2, 0], [8, 8, 3, 2]])
    if sources is None:
        raise ValueError("pass the sources (B, S) to decode together with the model")
    model.eval()
    with torch.no_grad():
        memory, source_mask = model.encode(sources), model.source_mask(sources)
        prefix = torch.full((sources.shape[0], 1), model.config.bos_id, dtype=torch.long)
        cases = []
        for _ in range(steps):
            cases.append((model, memory, source_mask, prefix))
            prefix = transformer.greedy_step(model, memory, source_mask, prefix)
        return check_function(student, transformer.greedy_step, cases, name=name, hint=hint)
