"""Devices (issue #13): every training entry point takes ``device``, and the CPU results do not depend on how
the CPU was chosen.

1. Every public function of every course_utils module whose name says it trains (``train*``, ``fit*``,
   ``pretrain*``, ``run_*``, ``*_experiment``) or whose code trains (calls ``fit(...)`` or
   ``....backward()``) has a ``device`` parameter defaulting to None (:func:`course_utils.training.choose_device`
   picks: cuda → mps → cpu, ``$COURSE_DEVICE`` overrides). New modules are enumerated too, unchanged.
2. The helpers of notebooks 01–06 that train or run a model give the same numbers with ``device="cpu"``,
   with ``COURSE_DEVICE=cpu`` and with the default, and they hand the device on to every place that
   chooses one (a spy on ``choose_device`` sees the caller's request, never a silent fallback).
3. ``COURSE_DEVICE=bogus`` is a clear error, from ``choose_device`` and from a helper.

No CUDA or MPS device was available where these tests were written: the accelerator path is covered by
the same code running on the CPU, not by a run on a GPU.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import sys
import textwrap

import numpy as np
import pytest
import torch

import course_utils
from course_utils import training

ENTRY_POINT = re.compile(r"^(train|fit|pretrain)(_|$)|^run_|_experiments?$")

# Names that match but train no PyTorch model: nothing to put on a device.
NOT_MODELS = {
    "course_utils.tokenization.train_wordpiece": "learns a WordPiece vocabulary by counting, on the CPU",
    "course_utils.tokenization.train_bpe": "learns byte-level BPE merges by counting, on the CPU",
}

# Packages whose training code is not an entry point: a checker trains the student's code where the
# student wrote it (the CPU).
NOT_ENTRY_POINTS = ("course_utils.exercises",)

# Modules whose compliance is pending (issue #13): none now; a module listed here is skipped by the
# entry-point check, so keep this empty unless a change is in flight.
PENDING_MODULES: set[str] = set()

# Helpers of notebooks 01–06 that run or train a model without a train*/fit* name; each takes ``device``.
NOTEBOOK_HELPERS = {
    "course_utils.word2vec": ["sgd_negative_sampling"],
    "course_utils.word2vec_evaluation": ["explore_word2vec", "time_training_step"],
    "course_utils.elmo": ["PretrainedElmo.embed"],
    "course_utils.elmo_training": ["bilm_perplexity"],
    "course_utils.elmo_features": ["token_vectors", "sentence_vectors", "layer_similarity", "show_layer_similarity"],
    "course_utils.attention_tasks": ["reversal_accuracy", "alignment_accuracy", "previous_word_accuracy"],
    "course_utils.translation_task": ["exact_match", "translate", "compare_layer_norms"],
    "course_utils.translation_inspection": ["cross_attention", "plot_cross_attention", "translation_attention",
                                            "plot_self_attention", "cross_attention_alignment", "compare_decoding",
                                            "TranslationLab.__init__"],
}


def _modules():
    for info in pkgutil.walk_packages(course_utils.__path__, "course_utils."):
        yield importlib.import_module(info.name)


def _trains(function) -> bool:
    """Whether the function's own code calls the training loop ``fit(...)`` or a ``.backward()``."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id == "fit":
                return True
            if isinstance(node.func, ast.Attribute) and node.func.attr == "backward":
                return True
    return False


def _entry_points() -> dict[str, object]:
    """Public module-level functions of course_utils that train, by name or by what their code calls."""
    found = {}
    for module in _modules():
        if module.__name__.startswith(NOT_ENTRY_POINTS):
            continue
        for name, obj in vars(module).items():
            if inspect.isfunction(obj) and obj.__module__ == module.__name__ and not name.startswith("_") \
                    and (ENTRY_POINT.search(name) or _trains(obj)):
                found[f"{module.__name__}.{name}"] = obj
    return found


def _device_parameter_problem(function) -> str | None:
    parameter = inspect.signature(function).parameters.get("device")
    if parameter is None:
        return "has no device parameter"
    if parameter.default is not None:
        return f"has device={parameter.default!r} as default instead of None (choose_device picks)"
    return None


def test_every_training_entry_point_accepts_device():
    entry_points = _entry_points()
    # the enumeration is not vacuous: it finds the entry points of notebooks 03-06 and the shared loop
    assert {"course_utils.training.fit", "course_utils.word2vec.train_word2vec", "course_utils.elmo_training.train_bilm",
            "course_utils.attention_tasks.train_reverser", "course_utils.translation_task.train_translation_model",
            "course_utils.translation_task.compare_layer_norms",  # found by its code: it calls fit
            "course_utils.word2vec_evaluation.time_training_step",  # found by its code: .backward()
            } <= set(entry_points)
    problems = []
    for name, function in sorted(entry_points.items()):
        module = name.rsplit(".", 1)[0]
        if name in NOT_MODELS or module in PENDING_MODULES:
            continue
        problem = _device_parameter_problem(function)
        if problem:
            problems.append(f"{name} {problem}")
    assert not problems, "training entry points without device=None:\n" + "\n".join(problems)


def test_training_code_is_recognised():
    def trains(model, batch):
        model(batch).sum().backward()

    def loops(model, batches):
        return fit(model, batches, None, None)  # noqa: F821 (never called, only parsed)

    def mentions(model):
        """Call fit() first; .backward() is not called here."""
        return "fit(" + ".backward()"

    assert _trains(trains) and _trains(loops) and not _trains(mentions)


def test_the_exemptions_name_real_things():
    entry_points = _entry_points()
    assert set(NOT_MODELS) <= set(entry_points), "an exempted name no longer exists: remove it from NOT_MODELS"
    for module in PENDING_MODULES:
        importlib.import_module(module)  # a pending module that was renamed or removed fails here


def test_notebook_helpers_that_run_a_model_accept_device():
    problems = []
    for module_name, names in NOTEBOOK_HELPERS.items():
        module = importlib.import_module(module_name)
        for name in names:
            function = module
            for part in name.split("."):
                function = getattr(function, part)
            problem = _device_parameter_problem(function)
            if problem:
                problems.append(f"{module_name}.{name} {problem}")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------------------
# The same numbers whichever way the CPU is chosen
# ---------------------------------------------------------------------------------------------------


@pytest.fixture
def device_requests(monkeypatch):
    """Record (request, answer) of every ``choose_device`` call in course_utils."""
    original = training.choose_device
    calls: list[tuple[object, torch.device]] = []

    def spy(preferred=None):
        answer = original(preferred)
        calls.append((preferred, answer))
        return answer

    for name, module in list(sys.modules.items()):
        if name.startswith("course_utils") and getattr(module, "choose_device", None) is original:
            monkeypatch.setattr(module, "choose_device", spy)
    return calls


def _handed_on(calls: list[tuple[object, torch.device]], request: object) -> bool:
    """Every choice asked for ``request`` (the caller's) or for a device an earlier choice answered (handed
    on from an outer helper), never for something made up on the way."""
    answers: list[torch.device] = []
    for asked, answer in calls:
        if not (asked == request or any(asked is earlier for earlier in answers)):
            return False
        answers.append(answer)
    return bool(calls)


def _word2vec_sentences():
    from course_utils.data import wiki_articles

    return [article.tokens[:400] for article in wiki_articles()[:3]]


def _run_word2vec(**device):
    from course_utils.word2vec import Word2VecConfig, train_many, train_word2vec

    sentences = _word2vec_sentences()
    config = Word2VecConfig(architecture="cbow", dim=8, epochs=1, min_count=2)
    result = train_word2vec(sentences, config, progress=False, **device)
    many = train_many([(sentences, Word2VecConfig(dim=8, epochs=1, min_count=2))], threads=1, progress=False,
                      **device)
    assert next(result.model.parameters()).device.type == "cpu"
    return result.losses, result.vectors.matrix, many[0].losses


def _run_word2vec_by_hand(**device):
    from course_utils.word2vec import SkipGram, sgd_negative_sampling, train_with_autograd
    from course_utils.word2vec_data import NoiseSampler

    generator = torch.Generator().manual_seed(1)
    centres, contexts = torch.randint(30, (64,), generator=generator), torch.randint(30, (64,), generator=generator)
    torch.manual_seed(0)
    model = SkipGram(30, 8)
    history = train_with_autograd(model, centres, contexts, noise=NoiseSampler(np.ones(30) / 30), epochs=1,
                                  batch_size=16, **device)
    torch.manual_seed(0)
    fast = SkipGram(30, 8)
    rows, targets = torch.randint(30, (64, 1), generator=generator), torch.randint(30, (64, 4), generator=generator)
    fast_losses = sgd_negative_sampling(fast, rows, targets, lr=0.1, batch_size=16, **device)
    return history.losses, model.input_embeddings.weight.detach(), fast_losses, fast.output_embeddings.weight


def _run_attention_tasks(**device):
    from course_utils import attention_tasks as tasks

    reverser, history = tasks.train_reverser(steps=4, batch_size=8, length=4, progress=False, embedding_size=8,
                                             hidden_size=8, attention_size=8, **device)
    source = tasks.reversal_batch(16, 4, torch.Generator().manual_seed(3))[0]
    positions, positions_history = tasks.train_previous_word_model("learned", steps=4, batch_size=8,
                                                                   progress=False, **device)
    words, targets = tasks.previous_word_batch(16, torch.Generator().manual_seed(4))
    return (history.losses, tasks.reversal_accuracy(reverser, source, **device),
            tasks.alignment_accuracy(reverser, source, **device), positions_history.losses,
            tasks.previous_word_accuracy(positions, words, targets, **device))


def _run_translation(**device):
    from course_utils import translation_inspection as inspection
    from course_utils import translation_task as tt

    task = tt.NumberTranslationTask()
    model = tt.make_model(task, d_model=16, n_heads=2, n_layers=1)
    history = tt.train_translation_model(task, model, steps=6, batch_size=8, warmup_steps=2, eval_numbers=[7, 407],
                                         eval_every=3, progress=False, **device)
    assert next(model.parameters()).device.type == "cpu"  # handed back where it was
    curves = tt.compare_layer_norms(task, steps=3, batch_size=4, warmup_steps=1, d_model=16, n_layers=1,
                                    progress=False, pre_ln_warmup=False, **device)
    alignment = inspection.cross_attention_alignment(model, task, list(range(100, 110)), **device)
    decoding = inspection.compare_decoding(model, task, [12, 345], beam_size=2, progress=False, **device)
    maps = inspection.translation_attention(model, task, "407", **device)
    lab = inspection.TranslationLab(task, [7, 12], steps=2, batch_size=4, warmup_steps=1, progress=False, **device)
    lab_model, lab_accuracy = lab.model(1, 2)
    return (history.losses, history.evaluations, tt.exact_match(model, task, list(range(20)), **device),
            tt.translate(model, task, "407", beam_size=2, n_best=2, **device), curves, alignment.per_number,
            [(d.greedy, d.greedy_log_prob, d.hypotheses) for d in decoding], maps.output,
            [w.numpy() for w in maps.cross], lab_accuracy, next(lab_model.parameters()).device.type)


def _run_elmo(**device):
    from elmo_stand_ins import SENTENCES, tiny_setup  # tests/ is on sys.path

    from course_utils import elmo, elmo_features, elmo_training

    model, chars, words = tiny_setup(dropout=0.1)
    corpus = elmo.encode_corpus(SENTENCES, chars, words)
    history = elmo_training.train_bilm(model.train(), corpus, steps=3, window=6, batch_size=2, progress=False, **device)
    pretrained = elmo.PretrainedElmo(model, chars, words)
    features = elmo_features.token_vectors(pretrained, [SENTENCES[0], SENTENCES[1], SENTENCES[2], SENTENCES[3]],
                                            [1, 3, 3, 3], **device)
    mix = elmo_features.fit_sense_mix(features, ["a", "b", "a", "b"], ["w"] * 4, steps=3, **device)
    return (history.losses, elmo_training.bilm_perplexity(model, corpus, window=6, **device),
            pretrained.embed(SENTENCES[:2], **device), features,
            elmo_features.sentence_vectors(pretrained, SENTENCES[:2], **device),
            elmo_features.layer_similarity(pretrained, "the bank of the river", "to the bank", "bank", **device),
            mix.weights.detach(), mix.gamma.detach())


RUNNERS = [_run_word2vec, _run_word2vec_by_hand, _run_attention_tasks, _run_translation, _run_elmo]


def _same(first, second) -> bool:
    """Exactly equal, through nested lists, tuples, dicts, arrays and tensors (bit for bit, NaN never)."""
    if isinstance(first, torch.Tensor):
        first = first.detach().cpu().numpy()
    if isinstance(second, torch.Tensor):
        second = second.detach().cpu().numpy()
    if isinstance(first, np.ndarray) or isinstance(second, np.ndarray):
        return np.array_equal(np.asarray(first), np.asarray(second))
    if isinstance(first, dict):
        return isinstance(second, dict) and first.keys() == second.keys() and all(_same(first[k], second[k])
                                                                                for k in first)
    if isinstance(first, (list, tuple)):
        return isinstance(second, (list, tuple)) and len(first) == len(second) and all(
            _same(a, b) for a, b in zip(first, second))
    return first == second


def test_same_compares_exactly():
    assert _same([1.0, (np.ones(2), torch.zeros(1))], [1.0, (np.ones(2), torch.zeros(1))])
    assert not _same([1.0, np.ones(2)], [1.0, np.ones(2) + 1e-12])
    assert not _same({"a": [1.0]}, {"a": [1.0, 2.0]})


@pytest.mark.parametrize("run", RUNNERS, ids=lambda run: run.__name__.removeprefix("_run_"))
def test_cpu_results_do_not_depend_on_how_the_cpu_was_chosen(run, monkeypatch, device_requests):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    default = run()
    assert _handed_on(device_requests, None), f"with no device given, choose_device decides: {device_requests}"

    device_requests.clear()
    explicit = run(device="cpu")
    assert _handed_on(device_requests, "cpu"), f"device='cpu' must reach every choice: {device_requests}"

    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    from_environment = run()

    assert _same(explicit, default), "device='cpu' changed the results"
    assert _same(from_environment, default), "COURSE_DEVICE=cpu changed the results"


def _same_structure(first, second) -> bool:
    """The same nesting, lengths, keys and tensor/array shapes; numbers may differ."""
    shapes = [tuple(v.shape) if isinstance(v, (torch.Tensor, np.ndarray)) else None for v in (first, second)]
    if shapes != [None, None]:
        return shapes[0] == shapes[1]
    if isinstance(first, dict):
        return isinstance(second, dict) and first.keys() == second.keys() and all(
            _same_structure(first[k], second[k]) for k in first)
    if isinstance(first, (list, tuple)):
        return isinstance(second, (list, tuple)) and len(first) == len(second) and all(
            _same_structure(a, b) for a, b in zip(first, second))
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        return isinstance(second, (int, float)) and not isinstance(second, bool)
    return type(first) is type(second)


def test_same_structure_ignores_values_only():
    assert _same_structure([1.0, {"a": np.zeros(3)}, torch.ones(2, 2), "x"], [2.5, {"a": np.ones(3)}, torch.zeros(2, 2), "y"])
    assert not _same_structure([np.zeros(3)], [np.zeros(4)])
    assert not _same_structure({"a": 1.0}, {"b": 1.0})
    assert not _same_structure([1.0], ["1.0"])


ACCELERATORS = [name for name in ("cuda", "mps") if training._available(name)]


@pytest.mark.skipif(not ACCELERATORS, reason="no CUDA or MPS device on this machine (the CPU-only PyTorch wheel)")
@pytest.mark.parametrize("run", RUNNERS, ids=lambda run: run.__name__.removeprefix("_run_"))
def test_an_accelerator_gives_the_cpu_losses(run):
    cpu = run(device="cpu")
    for accelerator in ACCELERATORS:
        other = run(device=accelerator)
        assert _same_structure(other, cpu), f"{accelerator} returned differently shaped results"
        if run is not _run_elmo:  # ELMo's dropout draws its masks from the device's own generator
            np.testing.assert_allclose(other[0], cpu[0], rtol=1e-3, atol=1e-5,
                                       err_msg=f"training losses on {accelerator} differ from the CPU's")


def test_time_training_step_runs_on_the_requested_device(device_requests):
    from course_utils.word2vec_evaluation import time_training_step

    seconds = time_training_step(200, objective="negative", dim=8, batch_size=8, repeats=1, device="cpu")
    assert seconds > 0 and [asked for asked, _ in device_requests] == ["cpu"]


def test_a_bogus_course_device_is_a_clear_error(monkeypatch):
    from course_utils.attention_tasks import train_reverser
    from course_utils.translation_task import NumberTranslationTask, exact_match, make_model

    monkeypatch.setenv("COURSE_DEVICE", "bogus")
    with pytest.raises(ValueError, match="unknown device 'bogus'; choose one of cuda, mps, cpu"):
        training.choose_device()
    with pytest.raises(ValueError, match="unknown device 'bogus'"):
        train_reverser(steps=1, batch_size=2, length=2, progress=False)
    task = NumberTranslationTask()
    with pytest.raises(ValueError, match="unknown device 'bogus'"):
        exact_match(make_model(task, d_model=8, n_heads=2, n_layers=1), task, [1])
    assert training.choose_device("cpu").type == "cpu", "an explicit device overrides the environment"


def test_an_absent_accelerator_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(training, "_available", lambda name: name == "cpu")
    monkeypatch.setenv("COURSE_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="'cuda' was requested but is not available"):
        training.choose_device()
    monkeypatch.delenv("COURSE_DEVICE")
    assert training.choose_device().type == "cpu"  # nothing else present: the CPU


# ---------------------------------------------------------------------------------------------------
# The shared pieces in course_utils.training
# ---------------------------------------------------------------------------------------------------


def test_model_device_reads_the_first_parameter_or_buffer():
    assert training.model_device(torch.nn.Linear(2, 2)).type == "cpu"
    assert training.model_device(torch.nn.Identity()).type == "cpu"
    with torch.device("meta"):
        assert training.model_device(torch.nn.Linear(2, 2)).type == "meta"


def test_on_device_yields_the_chosen_device_and_moves_the_model_back_even_on_error(monkeypatch):
    model = torch.nn.Linear(2, 2)
    weight = model.weight
    with training.on_device(model, "cpu") as device:
        assert device == torch.device("cpu") and training.model_device(model) == device
    assert model.weight is weight and model.weight.data_ptr() == weight.data_ptr()  # CPU → CPU copies nothing

    moves = []
    original_to = torch.nn.Module.to

    def recording_to(self, *args, **kwargs):
        moves.append(args[0] if args else kwargs.get("device"))
        return original_to(self, *args, **kwargs)

    monkeypatch.setattr(torch.nn.Module, "to", recording_to)
    with pytest.raises(KeyError), training.on_device(model, "cpu"):
        raise KeyError("inside the block")
    assert [str(torch.device(m)) for m in moves] == ["cpu", "cpu"], "moved there, and back after the error"
    with pytest.raises(TypeError, match="expects an nn.Module"):
        with training.on_device("not a model"):
            pass


def test_synchronize_is_a_no_op_on_the_cpu():
    assert training.synchronize("cpu") is None
    assert training.synchronize(torch.device("cpu")) is None
