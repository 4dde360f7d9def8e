"""Helpers for the course's JupyterHub (``hub/jupyterhub_config.py``): settings and per-student set-up.

The hub runs as root with JupyterHub's ``LocalProcessSpawner``: every student is a system user whose
single-user server and kernels run under their own uid, in their own home folder (mode 0700), so the
operating system keeps one student's files from another. Before a student's server starts,
:func:`provision_home` copies the course's notebooks into ``~/lm-course/``, with the student's own rights:
on the first start all of them, later only notebooks the student does not have yet, so a student's
edits are never overwritten and notebooks added during the term still arrive.

Settings come from environment variables (see :class:`HubSettings`), so the same configuration file
serves a class (PAM log-in with the students' system passwords) and the smoke test (dummy log-in on
loopback).
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

HUB_DIR = Path(__file__).resolve().parent
COURSE_ROOT = HUB_DIR.parent
# Name of the folder inside each student's home that receives the course notebooks.
COURSE_FOLDER = "lm-course"


def _split_names(value: str) -> set[str]:
    return {name.strip() for name in value.split(",") if name.strip()}


@dataclass
class HubSettings:
    """What a class server needs to know, read from ``COURSE_HUB_*`` environment variables."""

    ip: str = "127.0.0.1"  # COURSE_HUB_IP: where the hub listens (0.0.0.0 for a class on a network)
    port: int = 8000  # COURSE_HUB_PORT
    state_dir: Path = HUB_DIR / "state"  # COURSE_HUB_STATE: database, cookie secret, proxy token
    auth: str = "pam"  # COURSE_HUB_AUTH: "pam" (system passwords) or "dummy" (tests, loopback only)
    users: set[str] = field(default_factory=set)  # COURSE_HUB_USERS: comma-separated students allowed in
    admins: set[str] = field(default_factory=set)  # COURSE_HUB_ADMINS: comma-separated instructors
    group: str = ""  # COURSE_HUB_GROUP: a system group whose members may log in (PAM), e.g. "students"
    notebooks: Path = COURSE_ROOT / "notebooks"  # COURSE_HUB_NOTEBOOKS: what each student gets a copy of
    venv: Path = COURSE_ROOT / ".venv-hub"  # COURSE_HUB_VENV: course environment + JupyterHub (make hub-setup)
    threads: int = 2  # COURSE_HUB_THREADS: math threads per kernel (the notebook budget assumes 2 cores)
    mem_limit: str = "2G"  # COURSE_HUB_MEM_LIMIT: enforced by spawners that can (systemd), else advisory
    cpu_limit: float = 2.0  # COURSE_HUB_CPU_LIMIT: likewise
    exchange: Path = Path("/srv/nbgrader/exchange")  # COURSE_HUB_EXCHANGE: nbgrader's shared exchange
    course_id: str = "lm-course"  # COURSE_HUB_COURSE_ID: nbgrader's course id

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> HubSettings:
        """Read the settings from ``environ`` (default ``os.environ``); unset variables keep the defaults."""
        env = os.environ if environ is None else environ
        settings = cls()
        if "COURSE_HUB_IP" in env:
            settings.ip = env["COURSE_HUB_IP"]
        if "COURSE_HUB_PORT" in env:
            settings.port = int(env["COURSE_HUB_PORT"])
        for name, attribute in (("COURSE_HUB_STATE", "state_dir"), ("COURSE_HUB_NOTEBOOKS", "notebooks"),
                                ("COURSE_HUB_VENV", "venv"), ("COURSE_HUB_EXCHANGE", "exchange")):
            if name in env:
                setattr(settings, attribute, Path(env[name]).resolve())
        settings.auth = env.get("COURSE_HUB_AUTH", settings.auth).strip().lower()
        settings.users = _split_names(env.get("COURSE_HUB_USERS", ""))
        settings.admins = _split_names(env.get("COURSE_HUB_ADMINS", ""))
        settings.group = env.get("COURSE_HUB_GROUP", settings.group).strip()
        settings.threads = int(env.get("COURSE_HUB_THREADS", settings.threads))
        settings.mem_limit = env.get("COURSE_HUB_MEM_LIMIT", settings.mem_limit)
        settings.cpu_limit = float(env.get("COURSE_HUB_CPU_LIMIT", settings.cpu_limit))
        settings.course_id = env.get("COURSE_HUB_COURSE_ID", settings.course_id)
        settings.validate()
        return settings

    def validate(self) -> None:
        """Refuse settings that would make an unsafe or broken hub, with a message naming the problem."""
        if self.auth not in ("pam", "dummy"):
            raise ValueError(f"COURSE_HUB_AUTH must be 'pam' or 'dummy', got {self.auth!r}")
        if self.auth == "dummy":
            if not ipaddress.ip_address(self.ip).is_loopback:
                raise ValueError(f"the dummy authenticator lets anyone in: it only listens on loopback, "
                                 f"not on {self.ip}")
            if not self.users:
                raise ValueError("the dummy authenticator needs COURSE_HUB_USERS (who may log in)")
        if not 0 < self.port < 65536:
            raise ValueError(f"COURSE_HUB_PORT must be a TCP port, got {self.port}")
        if self.threads < 1:
            raise ValueError(f"COURSE_HUB_THREADS must be at least 1, got {self.threads}")
        if not self.notebooks.is_dir():
            raise ValueError(f"COURSE_HUB_NOTEBOOKS is not a folder: {self.notebooks}")

    def singleuser_command(self) -> list[str]:
        """The single-user server from the course's environment, so kernels see its packages."""
        return [str(self.venv / "bin" / "jupyterhub-singleuser")]

    def closed_paths(self) -> list[str]:
        """What students' servers need but could not reach (see :func:`closed_to_others`), as messages."""
        needed = [self.venv / "bin" / "jupyterhub-singleuser", self.venv / "bin" / "python",
                  COURSE_ROOT / "course_utils" / "__init__.py", COURSE_ROOT / "data" / "checkpoints",
                  Path(__file__).resolve(), *course_notebooks(self.notebooks)]
        cache = COURSE_ROOT / "data" / "cache"
        if cache.exists():
            needed.append(cache)
        problems = []
        for path in needed:
            if not path.exists():
                problems.append(f"{path} is missing (run make hub-setup)")
            elif (closed := closed_to_others(path)) is not None:
                problems.append(f"{path}: students cannot reach it, {closed} is closed to other users")
        return problems

    def kernel_environment(self, instructor: bool = False) -> dict[str, str]:
        """Environment for a user's server and kernels: a thread cap and nbgrader's settings.

        Students' servers also read ``singleuser-config/students``, which turns off nbgrader's
        instructor tools (formgrader, course list, create assignment); instructors keep them.
        """
        threads = str(self.threads)
        config_path = [HUB_DIR / "singleuser-config"]
        if not instructor:
            config_path.insert(0, HUB_DIR / "singleuser-config" / "students")  # first = takes precedence
        return {
            # One student's kernel should not take every core of a shared server.
            "OMP_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
            "OPENBLAS_NUM_THREADS": threads,
            # nbgrader_config.py in this folder reads these (used once nbgrader is installed).
            "JUPYTER_CONFIG_PATH": os.pathsep.join(str(path) for path in config_path),
            "COURSE_HUB_EXCHANGE": str(self.exchange),
            "COURSE_HUB_COURSE_ID": self.course_id,
        }


def closed_to_others(path: Path) -> Path | None:
    """The first folder on the way to ``path`` (or ``path`` itself) that other users cannot pass, or None.

    Students' servers run under their own uid, so the course environment's interpreter (with every
    folder above it, following links), the package and the data must be readable by everyone; a venv
    made from a Python under ``/root`` (mode 0700) is not.
    """
    path = Path(os.path.realpath(path))
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    for step in [*reversed(path.parents), path]:
        mode = step.stat().st_mode
        if step.is_dir():
            needed = 0o001  # others may pass through
        else:
            needed = 0o005 if mode & 0o100 else 0o004  # an executable: read and run; a file: read
        if mode & needed != needed:
            return step
    return None


def course_notebooks(source: Path) -> list[Path]:
    """The notebooks a student receives: ``NN_topic.ipynb`` files of ``source``, in course order."""
    return sorted(source.glob("[0-9][0-9]_*.ipynb"))


def copy_missing_notebooks(home: Path, source: Path) -> list[Path]:
    """Make ``home`` private and copy into ``home/lm-course`` the notebooks it lacks; run as the student.

    Returns the notebooks copied this time. A name that already exists (a file, a folder or a link) is
    left alone: it holds the student's work.
    """
    home = Path(home)
    notebooks = course_notebooks(Path(source))
    if not notebooks:
        raise FileNotFoundError(f"no NN_topic.ipynb notebooks in {source}")
    home.chmod(0o700)  # the isolation between students rests on this
    target = home / COURSE_FOLDER
    if not os.path.lexists(target):
        target.mkdir(mode=0o700)
    copied = []
    for notebook in notebooks:
        destination = target / notebook.name
        if os.path.lexists(destination):
            continue
        with open(notebook, "rb") as original, open(destination, "xb") as copy:  # x: never through a link
            shutil.copyfileobj(original, copy)
        destination.chmod(0o600)
        copied.append(destination)
    return copied


def provision_home(home: Path, source: Path, uid: int, gid: int) -> list[Path]:
    """:func:`copy_missing_notebooks` for the account ``uid``/``gid``, done with that account's rights.

    The hub runs as root, but a student controls what lies in their home (a link named like a notebook
    could point anywhere), so root never writes there: the copy runs in a child process that has
    switched to the student's uid and gid.
    """
    home = Path(home)
    if not home.is_dir():
        raise FileNotFoundError(f"home folder {home} does not exist (create the system user with a home)")
    if os.geteuid() != 0 or uid == 0:
        return copy_missing_notebooks(home, source)
    completed = subprocess.run([sys.executable, __file__, str(home), str(source)], user=uid, group=gid,
                               extra_groups=[], cwd=home, env={"HOME": str(home), "PATH": os.defpath},
                               capture_output=True, text=True, timeout=60)
    if completed.returncode != 0:
        raise RuntimeError(f"copying the course notebooks into {home} as uid {uid} failed: "
                           f"{completed.stderr.strip()[-2000:]}")
    return [Path(line) for line in completed.stdout.splitlines() if line]


if __name__ == "__main__":  # the child process of provision_home, running as the student
    for path in copy_missing_notebooks(Path(sys.argv[1]), Path(sys.argv[2])):
        print(path)
