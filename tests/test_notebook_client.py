"""scripts/notebook_client.py: the guard that keeps a missed kernel-message wake-up from costing a whole cell timeout."""

import asyncio
import sys
import time
from pathlib import Path
from queue import Empty

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from notebook_client import notebook_client, sliced_get_msg  # noqa: E402


class MissedWakeUpChannel:
    """A stand-in for a zmq channel whose poll, once started, is never woken: a wait returns the message only
    if it was already there when the wait began (what the final check at a real poll's timeout finds)."""

    def __init__(self, ready_after_calls: int | None):
        self.ready_after_calls = ready_after_calls
        self.timeouts: list[float | None] = []

    async def get_msg(self, timeout=None):
        self.timeouts.append(timeout)
        if self.ready_after_calls is not None and len(self.timeouts) > self.ready_after_calls:
            return {"msg": "reply"}
        await asyncio.sleep(0 if timeout is None else min(timeout, 0.01))
        raise Empty


def test_a_missed_wake_up_costs_one_slice_not_the_whole_timeout():
    channel = MissedWakeUpChannel(ready_after_calls=3)
    get = sliced_get_msg(channel.get_msg, slice_seconds=0.5)
    assert asyncio.run(get(timeout=300)) == {"msg": "reply"}
    assert len(channel.timeouts) == 4  # three empty slices, then the message
    assert all(t is not None and t <= 0.5 for t in channel.timeouts)  # no wait is ever the full 300 s


def test_waiting_for_ever_is_also_sliced():
    channel = MissedWakeUpChannel(ready_after_calls=2)
    assert asyncio.run(sliced_get_msg(channel.get_msg, slice_seconds=0.25)(timeout=None)) == {"msg": "reply"}
    assert channel.timeouts == [0.25, 0.25, 0.25]


def test_the_total_timeout_still_holds_and_raises_empty():
    channel = MissedWakeUpChannel(ready_after_calls=None)  # the message never comes
    get = sliced_get_msg(channel.get_msg, slice_seconds=0.01)
    start = time.monotonic()
    with pytest.raises(Empty):
        asyncio.run(get(timeout=0.05))
    assert time.monotonic() - start >= 0.05
    assert len(channel.timeouts) >= 2  # it went on slicing until the deadline
    with pytest.raises(Empty):  # a zero timeout asks once, without waiting
        asyncio.run(sliced_get_msg(MissedWakeUpChannel(None).get_msg)(timeout=0))


def test_a_bad_slice_is_refused():
    with pytest.raises(ValueError, match="slice_seconds must be positive"):
        sliced_get_msg(MissedWakeUpChannel(0).get_msg, slice_seconds=0)


def test_the_guarded_client_runs_a_notebook_with_a_widget_panel(tmp_path):
    cells = [
        nbformat.v4.new_code_cell("import ipywidgets as w\nfrom course_utils.widgets import interactive_panel\n"
                                  "panel = interactive_panel(lambda n: print('n =', n), n=w.IntSlider(value=3))\npanel"),
        nbformat.v4.new_code_cell("print(6 * 7)"),
    ]
    notebook = nbformat.v4.new_notebook(cells=cells)
    client = notebook_client(notebook, kernel_name="python3", timeout=60, resources={"metadata": {"path": str(tmp_path)}})
    with client.setup_kernel():
        for channel in (client.kc.shell_channel, client.kc.iopub_channel):
            assert channel.get_msg.__wrapped__.__self__ is channel  # the guard wraps the channel's own get_msg
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
    texts = [o.get("text", "") for o in notebook.cells[1].outputs]
    assert texts == ["42\n"]
    widget_views = [o for o in notebook.cells[0].outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert widget_views, notebook.cells[0].outputs
