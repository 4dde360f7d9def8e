"""The notebook runner shared by ``build_site.py`` and ``grade.py``: nbclient, guarded against a lost wake-up.

Why: now and then a cell that had finished kept nbclient waiting until the whole cell timeout ran out —
300 s in a grading run (twice, on notebook 06's widget-panel cell), 600 s once in a site build. py-spy
showed the kernel idle and the client parked in its wait for the cell's reply. The likely cause is a
wake-up lost by the asyncio zmq poll (the class of bug in nbclient issue 312 and pyzmq issue 2173): the
reply is there, but the poll only looks again when its timeout fires.

The guard: every wait for a kernel message on the shell and IOPub channels is cut into slices of at most
``SLICE_SECONDS``. Each slice ends with that same final check, so a missed wake-up now costs at most one
slice, while a cell's real timeout still counts from its start.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from queue import Empty
from typing import Any

SLICE_SECONDS = 1.0


def sliced_get_msg(get_msg: Callable[..., Awaitable[dict]], slice_seconds: float = SLICE_SECONDS):
    """Wrap a channel's ``async get_msg(timeout=...)`` so that no single wait lasts over ``slice_seconds``.

    ``timeout=None`` waits for ever (in slices); a number waits at most that long in all, then raises
    ``queue.Empty`` like the channel itself.
    """
    if slice_seconds <= 0:
        raise ValueError(f"slice_seconds must be positive, got {slice_seconds}")

    @functools.wraps(get_msg)
    async def get(timeout: float | None = None) -> dict:
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        while True:
            left = slice_seconds if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                return await get_msg(timeout=min(slice_seconds, left))
            except Empty:
                if deadline is not None and time.monotonic() >= deadline:
                    raise

    return get


def notebook_client(notebook, **options):
    """An ``nbclient.NotebookClient`` for ``notebook`` (keyword ``options`` as nbclient's) with the guard."""
    from nbclient import NotebookClient
    from nbclient.util import run_sync

    class GuardedNotebookClient(NotebookClient):
        async def async_start_new_kernel_client(self, **kwargs: Any):
            result = await super().async_start_new_kernel_client(**kwargs)
            for channel in (self.kc.shell_channel, self.kc.iopub_channel):
                channel.get_msg = sliced_get_msg(channel.get_msg)
            return result

        start_new_kernel_client = run_sync(async_start_new_kernel_client)  # what setup_kernel() calls

    return GuardedNotebookClient(notebook, **options)
