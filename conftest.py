"""Repository-wide pytest set-up for the notebook runs.

nbval waits a hard-coded 5 s for a kernel's outputs after a cell's reply. On a busy 2-core machine
(CI runs two notebooks side by side) the kernel's output thread can lag longer than that behind a cell
that just finished a long training loop, and nbval then fails a cell that actually succeeded. We give
it 60 s; a cell that really hangs is still stopped by ``--nbval-cell-timeout`` and pytest-timeout.
"""

from __future__ import annotations

NBVAL_OUTPUT_TIMEOUT_SECONDS = 60

try:
    from nbval.plugin import IPyNbCell
except ImportError:  # nbval not installed: nothing to adjust
    IPyNbCell = None

if IPyNbCell is not None:
    _original_init = IPyNbCell.__init__

    def _patient_init(self, *args, **kwargs):
        _original_init(self, *args, **kwargs)
        self.output_timeout = NBVAL_OUTPUT_TIMEOUT_SECONDS

    IPyNbCell.__init__ = _patient_init
