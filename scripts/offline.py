"""Run a command with the network switched off, to prove the course works offline.

Usage: ``python scripts/offline.py --mode auto -- pytest ...``

The command runs in a fresh Linux network namespace (``unshare --net``) that has only the loopback
interface, which Jupyter kernels need to talk to pytest. Creating one needs root or unprivileged user
namespaces; ``--mode auto`` falls back to running the command normally (and says so) where that is not
possible, ``--mode 1`` refuses, ``--mode 0`` never tries.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys


def _namespace_prefix() -> list[str] | None:
    """The command prefix that enters a network-less namespace, or None where this is impossible."""
    unshare = shutil.which("unshare")
    if unshare is None or not sys.platform.startswith("linux"):
        return None
    candidates = [[unshare, "--net"], [unshare, "--net", "--map-root-user"]]
    for prefix in candidates:
        probe = subprocess.run(
            [*prefix, "sh", "-c", "ip link set lo up 2>/dev/null || ifconfig lo up 2>/dev/null; true"],
            capture_output=True,
        )
        if probe.returncode == 0:
            return prefix
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["auto", "0", "1"], default="auto")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    prefix = None if args.mode == "0" else _namespace_prefix()
    if prefix is None:
        if args.mode == "1":
            print("offline.py: cannot create a network namespace (needs root or user namespaces)", file=sys.stderr)
            return 2
        if args.mode == "auto":
            print("offline.py: network namespaces unavailable; running with the network on", flush=True)
        return subprocess.call(command)
    print("offline.py: running with the network switched off (loopback only)", flush=True)
    script = 'ip link set lo up 2>/dev/null || ifconfig lo up 2>/dev/null; exec "$@"'
    return subprocess.call([*prefix, "sh", "-c", script, "offline", *command])


if __name__ == "__main__":
    sys.exit(main())
