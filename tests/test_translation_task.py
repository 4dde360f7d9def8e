"""The number-translation task: correct words, a deterministic split that never leaks, batching, helpers."""

from __future__ import annotations

import pytest
import torch

from course_utils.translation_task import (
    WORD_KINDS,
    NumberTranslationTask,
    compare_layer_norms,
    exact_match,
    make_model,
    number_to_digits,
    number_to_words,
    train_translation_model,
    translate,
    word_sources,
)


@pytest.mark.parametrize("n, words", [
    (0, "zero"), (7, "seven"), (13, "thirteen"), (20, "twenty"), (45, "forty five"), (100, "one hundred"),
    (110, "one hundred ten"), (999, "nine hundred ninety nine"), (1000, "one thousand"),
    (40712, "forty thousand seven hundred twelve"), (100001, "one hundred thousand one"),
    (999999, "nine hundred ninety nine thousand nine hundred ninety nine"),
])
def test_number_to_words(n, words):
    assert " ".join(number_to_words(n)) == words


def test_words_are_a_translation_not_a_cipher():
    """Different numbers get different sentences (the mapping can be inverted)."""
    sentences = {" ".join(number_to_words(n)) for n in range(0, 1_000_000, 37)}
    assert len(sentences) == len(range(0, 1_000_000, 37))
    assert number_to_digits(407) == ["4", "0", "7"]
    for bad in (-1, 1_000_000):
        with pytest.raises(ValueError, match="0..999999"):
            number_to_words(bad)
    with pytest.raises(TypeError):
        number_to_words(3.0)


def test_split_is_deterministic_and_never_leaks():
    task = NumberTranslationTask(seed=0)
    assert not any(task.is_heldout(n) for n in range(100))
    share = sum(task.is_heldout(n) for n in range(100, 200_000)) / (200_000 - 100)
    assert 0.09 < share < 0.11
    assert [task.is_heldout(n) for n in range(5000)] == [NumberTranslationTask(seed=0).is_heldout(n) for n in range(5000)]
    assert [task.is_heldout(n) for n in range(5000)] != [NumberTranslationTask(seed=1).is_heldout(n) for n in range(5000)]
    train = {n for b in task.training_batches(20, 64, seed=3) for n in b.numbers}
    heldout = set(task.sample_numbers(500, "heldout", seed=4))
    assert not train & heldout and all(task.is_heldout(n) for n in heldout)
    assert task.sample_numbers(50, "train", seed=5) == task.sample_numbers(50, "train", seed=5)
    lengths = {len(str(n)) for n in task.sample_numbers(300, "train", seed=6)}
    assert lengths == {1, 2, 3, 4, 5, 6}  # every length is sampled


def test_batches_shift_the_target_for_teacher_forcing():
    task = NumberTranslationTask()
    batch = task.batch([40712, 5])
    assert batch.source.tolist()[1][:2] == [task.source_vocab["5"], task.eos_id]
    assert batch.source[1, 2:].eq(task.pad_id).all()
    assert batch.target_in[:, 0].eq(task.bos_id).all()
    assert torch.equal(batch.target_in[:, 1:], batch.target_out[:, :-1])
    assert task.decode_target(batch.target_out[0]) == "forty thousand seven hundred twelve"
    assert task.decode_target(batch.target_in[1]) == "five"
    assert task.parse_source("40,712") == batch.source[0].tolist()
    with pytest.raises(ValueError, match="digits"):
        task.parse_source("forty")
    with pytest.raises(ValueError, match="heldout_fraction"):
        NumberTranslationTask(heldout_fraction=1.0)
    with pytest.raises(ValueError, match="split"):
        task.sample_numbers(3, "test")


def test_training_helpers_run_and_learn_something():
    task = NumberTranslationTask()
    model = make_model(task, d_model=32, n_heads=2, n_layers=1)
    heldout = task.sample_numbers(50, "heldout", seed=1)
    history = train_translation_model(task, model, steps=60, batch_size=64, lr=3e-3, warmup_steps=10,
                                      eval_numbers=heldout, eval_every=30, progress=False)
    assert history.steps == 60 and len(history.evaluations) == 2
    assert sum(history.losses[-10:]) / 10 < 0.7 * sum(history.losses[:10]) / 10
    accuracy = exact_match(model, task, heldout)
    assert 0.0 <= accuracy <= 1.0 and accuracy == history.evaluations[-1][1]
    (sentence, score), = translate(model, task, "12", beam_size=2)
    assert isinstance(sentence, str) and score <= 0.0


def test_compare_layer_norms_runs_four_variants():
    curves = compare_layer_norms(NumberTranslationTask(), steps=3, batch_size=8, d_model=16, n_layers=1,
                                 warmup_steps=2, progress=False)
    assert list(curves) == ["post-LN, no warm-up", "post-LN, 2-step warm-up", "pre-LN, no warm-up",
                            "pre-LN, 2-step warm-up"]
    assert all(len(losses) == 3 for losses in curves.values())
    first_losses = {losses[0] for losses in curves.values()}
    assert len({round(x, 6) for x in first_losses}) <= 2  # same weights and batch: LN variant sets step 1
    three = compare_layer_norms(NumberTranslationTask(), steps=2, batch_size=8, d_model=16, n_layers=1,
                                warmup_steps=1, progress=False, pre_ln_warmup=False)
    assert list(three) == ["post-LN, no warm-up", "post-LN, 1-step warm-up", "pre-LN, no warm-up"]


def test_on_step_sees_every_step_and_can_keep_weights_part_way():
    task = NumberTranslationTask()
    model = make_model(task, d_model=16, n_heads=2, n_layers=1)
    seen, kept = [], {}

    def on_step(step, loss):
        seen.append(step)
        if step == 2:
            kept.update({k: v.clone() for k, v in model.state_dict().items()})

    train_translation_model(task, model, steps=4, batch_size=8, warmup_steps=1, progress=False, on_step=on_step)
    assert seen == [1, 2, 3, 4] and kept
    assert any(not torch.equal(kept[k], v) for k, v in model.state_dict().items())  # it trained after step 2




def test_translation_loss_is_teacher_forced_label_smoothed_cross_entropy():
    import torch.nn.functional as F

    from course_utils.translation_task import translation_loss

    task = NumberTranslationTask()
    model = make_model(task, d_model=16, n_heads=2, n_layers=1).eval()
    batch = task.training_batches(1, 8, seed=0)[0]
    logits = model(batch.source, batch.target_in).logits
    expected = F.cross_entropy(logits.flatten(0, 1), batch.target_out.flatten(), label_smoothing=0.1,
                               ignore_index=model.config.pad_id)
    torch.testing.assert_close(translation_loss(model, batch, smoothing=0.1), expected)


def test_word_sources_name_the_digits_each_word_comes_from():
    assert word_sources(40712) == [("forty", "tens", (0,)), ("thousand", "thousand", (1, 2)),
                                   ("seven", "hundreds digit", (2,)), ("hundred", "hundred", (2,)),
                                   ("twelve", "teen", (3, 4)), ("</s>", "</s>", (5,))]
    assert word_sources(0) == [("zero", "ones", (0,)), ("</s>", "</s>", (1,))]
    assert word_sources(100001)[2:4] == [("thousand", "thousand", (2, 3)), ("one", "ones", (5,))]
    for n in range(0, 1_000_000, 997):  # the words are exactly the translation, in order
        sources = word_sources(n)
        assert [w for w, _, _ in sources[:-1]] == number_to_words(n)
        assert all(kind in WORD_KINDS for _, kind, _ in sources)
        assert all(0 <= p <= len(str(n)) for _, _, positions in sources for p in positions)
