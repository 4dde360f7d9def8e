import ipywidgets as w
import pytest

from course_utils.widgets import choice, float_slider, int_slider, interactive_panel, text_box, toggle


def test_controls_have_defaults_and_report_on_release():
    slider = int_slider(5, 1, 10, description="window")
    assert isinstance(slider, w.IntSlider) and slider.value == 5 and slider.continuous_update is False
    assert float_slider(0.5, 0.0, 1.0).value == 0.5
    assert choice(["skip-gram", "cbow"]).value == "skip-gram"
    assert choice(["a", "b"], value="b").value == "b"
    assert text_box("bank").value == "bank" and toggle(True).value is True


def test_controls_reject_bad_defaults():
    with pytest.raises(ValueError, match="outside"):
        int_slider(0, 1, 10)
    with pytest.raises(ValueError, match="outside"):
        float_slider(2.0, 0.0, 1.0)
    with pytest.raises(ValueError, match="not one of the options"):
        choice(["a"], value="z")
    with pytest.raises(ValueError, match="at least one option"):
        choice([])


def test_interactive_panel_runs_at_once_with_defaults_and_on_every_change():
    calls = []
    slider = int_slider(2, 1, 5)
    panel = interactive_panel(lambda window: calls.append(window), window=slider)
    assert calls == [2]  # rendered headless with the default
    slider.value = 4
    assert calls == [2, 4]
    assert isinstance(panel, w.VBox) and slider in panel.children[0].children


def test_interactive_panel_with_button_waits_for_clicks():
    calls = []
    slider = int_slider(2, 1, 5)
    panel = interactive_panel(lambda steps: calls.append(steps), button="Train", steps=slider)
    slider.value = 3
    assert calls == [2]
    button = panel.children[0].children[-1]
    assert isinstance(button, w.Button) and button.description == "Train"
    button.click()
    assert calls == [2, 3]


def test_interactive_panel_can_wait_for_the_first_click():
    calls = []
    slider = int_slider(2, 1, 5)
    panel = interactive_panel(lambda steps: calls.append(steps), button="Train", run_now=False, steps=slider)
    assert calls == []
    slider.value = 4
    panel.children[0].children[-1].click()
    assert calls == [4]
    with pytest.raises(ValueError, match="needs a button"):
        interactive_panel(lambda steps: None, run_now=False, steps=int_slider(2, 1, 5))


def test_interactive_panel_shows_errors_instead_of_raising():
    def broken(word):
        raise KeyError(f"{word!r} is not in the vocabulary")

    panel = interactive_panel(broken, word=text_box("zzz"))
    assert isinstance(panel, w.VBox)  # built despite the error, which is printed in the output area


def test_interactive_panel_bad_input():
    with pytest.raises(TypeError, match="callable"):
        interactive_panel(3, x=int_slider(1, 0, 2))
    with pytest.raises(ValueError, match="at least one control"):
        interactive_panel(print)
    with pytest.raises(TypeError, match="control 'x'"):
        interactive_panel(print, x=3)
