"""Shared test set-up: headless plotting, and no network for unit tests (the course runs offline)."""

from __future__ import annotations

import ipaddress
import os
import socket

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

# Fixture notebooks (a deliberately failing cell for the browser test, a grading fixture) are inputs
# to tests, not course notebooks: nbval must not collect and run them.
collect_ignore_glob = ["fixtures/*"]

_real_connect = socket.socket.connect


def _guarded_connect(self, address, *args, **kwargs):
    host = address[0] if isinstance(address, tuple) else address
    if self.family in (socket.AF_INET, socket.AF_INET6):
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            raise RuntimeError(f"unit tests must not use the network (tried to connect to {host!r})")
    return _real_connect(self, address, *args, **kwargs)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    yield


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Unit tests use tiny tensors: one intra-op thread is fastest, and pytest-xdist already runs one
    worker per core, so more threads would only fight each other."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")
