"""JupyterHub configuration for teaching the course to a class on one server.

Run as root from the repository root (``make hub``, see README "A class on one server"):
``.venv/bin/jupyterhub -f hub/jupyterhub_config.py``. Settings come from ``COURSE_HUB_*`` environment
variables (``hub/course_hub.py`` lists them with their defaults).

- Log-in: system accounts via PAM (the students' own passwords); ``COURSE_HUB_AUTH=dummy`` is for the
  smoke test only and is refused unless the hub listens on loopback.
- Each student's server and kernels run as that student (``LocalProcessSpawner``) from the course's
  environment (``.venv``, built from requirements.txt by ``make setup``).
- On every start the student's home is made private (0700) and the course notebooks they do not have
  yet are copied into ``~/lm-course/`` (their own copies are never overwritten).
- nbgrader: ``singleuser-config/nbgrader_config.py`` points every user at one exchange folder;
  ``singleuser-config/students`` hides the instructor tools (formgrader) from students.
"""

import pwd
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from course_hub import COURSE_FOLDER, HUB_DIR, HubSettings, provision_home  # noqa: E402

settings = HubSettings.from_environment()
if problems := settings.closed_paths():
    raise SystemExit("the course hub cannot serve students:\n  " + "\n  ".join(problems))
c = get_config()  # noqa: F821 -- provided by JupyterHub when it loads this file

# --- where the hub listens and keeps its state ---------------------------------------------------
c.JupyterHub.ip = settings.ip
c.JupyterHub.port = settings.port
c.JupyterHub.hub_ip = "127.0.0.1"  # the hub's own API stays on loopback; the proxy forwards to it
settings.state_dir.mkdir(parents=True, exist_ok=True)
settings.state_dir.chmod(0o700)
c.JupyterHub.db_url = f"sqlite:///{settings.state_dir / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(settings.state_dir / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(settings.state_dir / "jupyterhub-proxy.pid")
# configurable-http-proxy from npm, installed into hub/node_modules by `make hub` / `make test-hub`.
proxy = HUB_DIR / "node_modules" / ".bin" / "configurable-http-proxy"
if proxy.exists():
    c.ConfigurableHTTPProxy.command = [str(proxy)]

# nbgrader's exchange: every student writes submissions into it, as nbgrader itself sets it up (0777).
if not settings.exchange.exists():
    settings.exchange.mkdir(parents=True)
    settings.exchange.chmod(0o777)

# --- who may log in --------------------------------------------------------------------------------
if settings.auth == "dummy":
    c.JupyterHub.authenticator_class = "dummy"
else:
    c.JupyterHub.authenticator_class = "pam"
    if settings.group:
        c.PAMAuthenticator.allowed_groups = {settings.group}
c.Authenticator.allowed_users = settings.users
c.Authenticator.admin_users = settings.admins

# --- each student's server -------------------------------------------------------------------------
c.JupyterHub.spawner_class = "jupyterhub.spawner.LocalProcessSpawner"
c.Spawner.cmd = settings.singleuser_command()
c.Spawner.notebook_dir = "~"
c.Spawner.default_url = f"/lab/tree/{COURSE_FOLDER}"
c.Spawner.environment = settings.kernel_environment()
# LocalProcessSpawner only passes these on (MEM_LIMIT, CPU_LIMIT); a spawner that enforces them
# (for example jupyterhub-systemdspawner) makes them hard limits. Figures: see the README.
c.Spawner.mem_limit = settings.mem_limit
c.Spawner.cpu_limit = settings.cpu_limit
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120


def _prepare_student(spawner) -> None:
    """Make the student's home private and give them the course notebooks they lack."""
    # Instructors (admins) keep nbgrader's grading tools; students get the Assignments panel only.
    spawner.environment = {**spawner.environment, **settings.kernel_environment(instructor=spawner.user.admin)}
    account = pwd.getpwnam(spawner.user.name)
    copied = provision_home(Path(account.pw_dir), settings.notebooks, account.pw_uid, account.pw_gid)
    spawner.log.info("course notebooks for %s: %d copied into ~/%s", spawner.user.name, len(copied),
                     COURSE_FOLDER)


c.Spawner.pre_spawn_hook = _prepare_student
