"""Thin ipywidgets wrappers: a plain function plus controls becomes an interactive panel.

The function that does the work lives in its concept module and is tested there; this module only
wires controls to it. A panel calls the function once with the controls' default values as soon as it
is built, so a headless run (nbval, nbconvert, HTML export) still shows a result. Sliders update only
when released (``continuous_update=False``); slow functions get a button instead of live updates.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

__all__ = ["int_slider", "float_slider", "choice", "text_box", "toggle", "interactive_panel"]


def int_slider(value: int, low: int, high: int, step: int = 1, description: str = ""):
    """An integer slider that reports its value on release."""
    import ipywidgets as w

    if not low <= value <= high:
        raise ValueError(f"slider default {value} is outside [{low}, {high}]")
    return w.IntSlider(value=value, min=low, max=high, step=step, description=description,
                       continuous_update=False, style={"description_width": "initial"})


def float_slider(value: float, low: float, high: float, step: float = 0.1, description: str = ""):
    """A float slider that reports its value on release."""
    import ipywidgets as w

    if not low <= value <= high:
        raise ValueError(f"slider default {value} is outside [{low}, {high}]")
    return w.FloatSlider(value=value, min=low, max=high, step=step, description=description,
                         continuous_update=False, style={"description_width": "initial"})


def choice(options: Sequence, value=None, description: str = ""):
    """A drop-down list; ``value`` defaults to the first option."""
    import ipywidgets as w

    options = list(options)
    if not options:
        raise ValueError("choice needs at least one option")
    value = options[0] if value is None else value
    if value not in options:
        raise ValueError(f"default {value!r} is not one of the options {options}")
    return w.Dropdown(options=options, value=value, description=description, style={"description_width": "initial"})


def text_box(value: str = "", description: str = ""):
    """A one-line text input that reports its value when Enter is pressed or focus leaves."""
    import ipywidgets as w

    return w.Text(value=value, description=description, continuous_update=False,
                  style={"description_width": "initial"})


def toggle(value: bool = False, description: str = ""):
    """A check box."""
    import ipywidgets as w

    return w.Checkbox(value=value, description=description, style={"description_width": "initial"})


def interactive_panel(function: Callable[..., object], *, button: str | None = None, run_now: bool = True,
                      **controls):
    """Show ``controls`` above the output of ``function(**values)``; return the panel widget.

    ``function`` is called at once with the defaults, then on every change (or on each click of the
    button labelled ``button``). It may print, draw matplotlib figures or return a value to display.
    Exceptions are shown in the output area instead of breaking the panel. ``run_now=False`` (only with
    a button) skips the first call — for slow functions the notebook has already run with the defaults.
    """
    import ipywidgets as w
    import matplotlib.pyplot as plt
    from IPython.display import display

    if not callable(function):
        raise TypeError("interactive_panel needs a callable as its first argument")
    if not controls:
        raise ValueError("interactive_panel needs at least one control (keyword=widget)")
    if not run_now and button is None:
        raise ValueError("run_now=False needs a button: without one the panel would never run")
    for name, control in controls.items():
        if not isinstance(control, w.ValueWidget):
            raise TypeError(f"control {name!r} must be an ipywidgets value widget, got {type(control).__name__}")

    output = w.Output()

    def run(*_):
        output.clear_output(wait=True)
        with output:
            try:
                result = function(**{name: control.value for name, control in controls.items()})
                if result is not None:
                    display(result)
                plt.show()
            except Exception as error:  # show the problem where the student is looking
                print(f"{type(error).__name__}: {error}")

    children = list(controls.values())
    if button is not None:
        run_button = w.Button(description=button, button_style="primary")
        run_button.on_click(run)
        children.append(run_button)
    else:
        for control in controls.values():
            control.observe(run, names="value")
    if run_now:
        run()
    else:
        with output:
            print(f"Set the controls and press '{button}'.")
    return w.VBox([w.HBox(children, layout=w.Layout(flex_flow="row wrap")), output])
