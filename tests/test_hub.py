"""The course hub's configuration (hub/): settings, per-student set-up, config files load as JupyterHub would.

Fast and without JupyterHub installed; `make test-hub` runs the real hub (hub/smoke_test.py).
"""

import os
import pwd
import shutil
import stat
import sys
import tempfile
from pathlib import Path

import nbformat
import pytest
from traitlets.config import Config

ROOT = Path(__file__).resolve().parents[1]
HUB = ROOT / "hub"
sys.path.insert(0, str(HUB))

import course_hub  # noqa: E402
import smoke_test  # noqa: E402


def _load_config_file(path: Path) -> Config:
    """Execute a Jupyter config file the way traitlets' loader does: with get_config() in scope."""
    config = Config()
    exec(compile(path.read_text(), str(path), "exec"), {"get_config": lambda: config, "__file__": str(path)})
    return config


def _notebooks(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        nbformat.write(nbformat.v4.new_notebook(), folder / name)
    return folder


def test_settings_default_to_a_class_on_loopback_with_system_accounts():
    settings = course_hub.HubSettings.from_environment({})
    assert settings.ip == "127.0.0.1" and settings.port == 8000 and settings.auth == "pam"
    assert settings.notebooks == ROOT / "notebooks" and settings.venv == ROOT / ".venv-hub"
    assert settings.mem_limit == "2G" and settings.threads == 2


def test_settings_from_environment(tmp_path):
    settings = course_hub.HubSettings.from_environment({
        "COURSE_HUB_IP": "0.0.0.0", "COURSE_HUB_PORT": "8100", "COURSE_HUB_USERS": "ada, alan,,grace",
        "COURSE_HUB_ADMINS": "prof", "COURSE_HUB_GROUP": "students", "COURSE_HUB_THREADS": "1",
        "COURSE_HUB_NOTEBOOKS": str(tmp_path), "COURSE_HUB_STATE": str(tmp_path / "state")})
    assert settings.users == {"ada", "alan", "grace"} and settings.admins == {"prof"}
    assert settings.port == 8100 and settings.group == "students" and settings.notebooks == tmp_path
    assert settings.kernel_environment()["OMP_NUM_THREADS"] == "1"


@pytest.mark.parametrize("environment, message", [
    ({"COURSE_HUB_AUTH": "dummy", "COURSE_HUB_IP": "0.0.0.0", "COURSE_HUB_USERS": "a"}, "only listens on loopback"),
    ({"COURSE_HUB_AUTH": "dummy"}, "needs COURSE_HUB_USERS"),
    ({"COURSE_HUB_AUTH": "github"}, "must be 'pam' or 'dummy'"),
    ({"COURSE_HUB_PORT": "70000"}, "must be a TCP port"),
    ({"COURSE_HUB_THREADS": "0"}, "at least 1"),
    ({"COURSE_HUB_NOTEBOOKS": "/nonexistent/notebooks"}, "not a folder"),
])
def test_unsafe_or_broken_settings_are_refused(environment, message):
    with pytest.raises(ValueError, match=message):
        course_hub.HubSettings.from_environment(environment)


def test_provision_home_copies_missing_notebooks_and_never_overwrites(tmp_path):
    source = _notebooks(tmp_path / "course", "01_first.ipynb", "02_second.ipynb")
    (source / "notes.txt").write_text("not a notebook")
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    uid, gid = os.getuid(), os.getgid()
    copied = course_hub.provision_home(home, source, uid, gid)
    target = home / course_hub.COURSE_FOLDER
    assert [p.name for p in copied] == ["01_first.ipynb", "02_second.ipynb"]
    assert sorted(p.name for p in target.iterdir()) == ["01_first.ipynb", "02_second.ipynb"]
    assert stat.S_IMODE(home.stat().st_mode) == 0o700 and stat.S_IMODE(target.stat().st_mode) == 0o700
    assert stat.S_IMODE((target / "01_first.ipynb").stat().st_mode) == 0o600
    assert (target / "01_first.ipynb").stat().st_uid == uid

    (target / "01_first.ipynb").write_text("the student's work")
    _notebooks(source, "03_third.ipynb")
    again = course_hub.provision_home(home, source, uid, gid)
    assert [p.name for p in again] == ["03_third.ipynb"]
    assert (target / "01_first.ipynb").read_text() == "the student's work"
    assert course_hub.provision_home(home, source, uid, gid) == []


@pytest.fixture
def open_folder():
    """A temporary folder other accounts can reach (pytest's tmp_path sits below a private folder)."""
    base = Path(tempfile.mkdtemp())
    base.chmod(0o755)
    if course_hub.closed_to_others(base) is not None:
        pytest.skip(f"the temporary folder {base} is closed to other users here")
    yield base
    shutil.rmtree(base)


@pytest.mark.skipif(os.geteuid() != 0, reason="switching to another account needs root")
@pytest.mark.skipif(course_hub.closed_to_others(Path(sys.executable)) is not None,
                    reason="other accounts cannot run this Python (make test-hub runs this test in .venv-hub)")
def test_provision_home_copies_with_the_students_rights(open_folder):
    nobody = pwd.getpwnam("nobody")
    source = _notebooks(open_folder / "course", "01_first.ipynb", "02_second.ipynb")
    home = open_folder / "home"
    home.mkdir(mode=0o755)
    os.chown(home, nobody.pw_uid, nobody.pw_gid)
    (home / course_hub.COURSE_FOLDER).mkdir()
    os.chown(home / course_hub.COURSE_FOLDER, nobody.pw_uid, nobody.pw_gid)
    # A student's link named like a course notebook, pointing where only root may write.
    root_only = open_folder / "root-only"
    root_only.mkdir(mode=0o700)
    (home / course_hub.COURSE_FOLDER / "02_second.ipynb").symlink_to(root_only / "planted")

    copied = course_hub.provision_home(home, source, nobody.pw_uid, nobody.pw_gid)
    assert [p.name for p in copied] == ["01_first.ipynb"]
    assert (home / course_hub.COURSE_FOLDER / "01_first.ipynb").stat().st_uid == nobody.pw_uid
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert not (root_only / "planted").exists()  # the link was left alone, nothing written through it

    # The whole course folder swapped for a link to a root-owned folder: the copy fails as the student.
    shutil.rmtree(home / course_hub.COURSE_FOLDER)
    (home / course_hub.COURSE_FOLDER).symlink_to(root_only)
    with pytest.raises(RuntimeError, match="Permission denied"):
        course_hub.provision_home(home, source, nobody.pw_uid, nobody.pw_gid)
    assert list(root_only.iterdir()) == []


def test_provision_home_names_what_is_missing(tmp_path):
    source = _notebooks(tmp_path / "course", "01_first.ipynb")
    with pytest.raises(FileNotFoundError, match="home folder"):
        course_hub.provision_home(tmp_path / "nobody", source, os.getuid(), os.getgid())
    (tmp_path / "home").mkdir()
    with pytest.raises(FileNotFoundError, match="no NN_topic.ipynb"):
        course_hub.provision_home(tmp_path / "home", tmp_path, os.getuid(), os.getgid())


def test_closed_to_others_finds_the_folder_that_blocks_students(open_folder):
    private = open_folder / "private"
    private.mkdir(mode=0o700)
    (private / "python").write_text("")
    assert course_hub.closed_to_others(private / "python") == private
    open_file = open_folder / "data.txt"
    open_file.write_text("")
    open_file.chmod(0o644)
    assert course_hub.closed_to_others(open_file) is None
    program = open_folder / "program"
    program.write_text("")
    program.chmod(0o750)  # runs for its owner only
    assert course_hub.closed_to_others(program) == program
    program.chmod(0o755)
    assert course_hub.closed_to_others(program) is None
    with pytest.raises(FileNotFoundError):
        course_hub.closed_to_others(open_folder / "missing")


def test_jupyterhub_config_for_the_smoke_test(monkeypatch, tmp_path):
    monkeypatch.setattr(course_hub.HubSettings, "closed_paths", lambda self: [])
    for name, value in {"COURSE_HUB_AUTH": "dummy", "COURSE_HUB_USERS": "ada,alan", "COURSE_HUB_PORT": "8123",
                        "COURSE_HUB_STATE": str(tmp_path / "state"), "COURSE_HUB_VENV": str(tmp_path / "venv"),
                        "COURSE_HUB_ADMINS": "prof", "COURSE_HUB_EXCHANGE": str(tmp_path / "srv" / "exchange")}.items():
        monkeypatch.setenv(name, value)
    c = _load_config_file(HUB / "jupyterhub_config.py")
    assert c.JupyterHub.ip == "127.0.0.1" and c.JupyterHub.port == 8123 and c.JupyterHub.hub_ip == "127.0.0.1"
    assert c.JupyterHub.authenticator_class == "dummy"
    assert c.Authenticator.allowed_users == {"ada", "alan"} and c.Authenticator.admin_users == {"prof"}
    assert c.JupyterHub.spawner_class == "jupyterhub.spawner.LocalProcessSpawner"
    assert c.Spawner.cmd == [str(tmp_path / "venv" / "bin" / "jupyterhub-singleuser")]
    assert c.Spawner.default_url == f"/lab/tree/{course_hub.COURSE_FOLDER}"
    assert c.Spawner.environment["OMP_NUM_THREADS"] == "2" and c.Spawner.mem_limit == "2G"
    assert c.JupyterHub.db_url == f"sqlite:///{tmp_path / 'state' / 'jupyterhub.sqlite'}"
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700  # the cookie secret lives there
    assert callable(c.Spawner.pre_spawn_hook)
    assert stat.S_IMODE((tmp_path / "srv" / "exchange").stat().st_mode) == 0o777  # as nbgrader makes it
    assert c.Spawner.environment["COURSE_HUB_EXCHANGE"] == str(tmp_path / "srv" / "exchange")


def test_jupyterhub_config_for_a_class_uses_pam_and_a_group(monkeypatch, tmp_path):
    monkeypatch.setattr(course_hub.HubSettings, "closed_paths", lambda self: [])
    monkeypatch.setenv("COURSE_HUB_GROUP", "students")
    monkeypatch.setenv("COURSE_HUB_EXCHANGE", str(tmp_path / "exchange"))
    monkeypatch.setenv("COURSE_HUB_STATE", str(tmp_path / "state"))
    c = _load_config_file(HUB / "jupyterhub_config.py")
    assert c.JupyterHub.authenticator_class == "pam" and c.PAMAuthenticator.allowed_groups == {"students"}


def test_jupyterhub_config_refuses_an_environment_students_cannot_run(monkeypatch, tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    for name in ("python", "jupyterhub-singleuser"):
        (venv / "bin" / name).write_text("")
        (venv / "bin" / name).chmod(0o755)
    venv.chmod(0o700)  # as a venv under /root would be
    monkeypatch.setenv("COURSE_HUB_VENV", str(venv))
    monkeypatch.setenv("COURSE_HUB_STATE", str(tmp_path / "state"))
    with pytest.raises(SystemExit, match="students cannot reach it"):
        _load_config_file(HUB / "jupyterhub_config.py")


def test_nbgrader_config_points_at_the_hubs_exchange(monkeypatch):
    settings = course_hub.HubSettings.from_environment({"COURSE_HUB_EXCHANGE": "/srv/class/exchange",
                                                        "COURSE_HUB_COURSE_ID": "lm-2027"})
    environment = settings.kernel_environment()
    for name in ("COURSE_HUB_EXCHANGE", "COURSE_HUB_COURSE_ID"):
        monkeypatch.setenv(name, environment[name])
    folders = [Path(folder) for folder in environment["JUPYTER_CONFIG_PATH"].split(os.pathsep)]
    assert [folder for folder in folders if (folder / "nbgrader_config.py").exists()] == [HUB / "singleuser-config"]
    c = _load_config_file(HUB / "singleuser-config" / "nbgrader_config.py")
    assert c.Exchange.root == "/srv/class/exchange" and c.CourseDirectory.course_id == "lm-2027"


def test_smoke_test_finds_processes_by_owner():
    assert os.getpid() in smoke_test.processes_of(os.getuid())


def test_students_servers_hide_nbgraders_instructor_tools():
    import json

    settings = course_hub.HubSettings.from_environment({})
    student = settings.kernel_environment()["JUPYTER_CONFIG_PATH"].split(os.pathsep)
    instructor = settings.kernel_environment(instructor=True)["JUPYTER_CONFIG_PATH"].split(os.pathsep)
    assert instructor == [str(HUB / "singleuser-config")]
    assert student == [str(HUB / "singleuser-config" / "students"), str(HUB / "singleuser-config")]
    students = HUB / "singleuser-config" / "students"
    server = json.loads((students / "jupyter_server_config.d" / "nbgrader-students.json").read_text())
    assert server["ServerApp"]["jpserver_extensions"] == {"nbgrader.server_extensions.formgrader": False,
                                                          "nbgrader.server_extensions.course_list": False}
    lab = json.loads((students / "labconfig" / "page_config.json").read_text())["disabledExtensions"]
    assert {name for name, off in lab.items() if off} == {"@jupyter/nbgrader:formgrader",
                                                          "@jupyter/nbgrader:create-assignment",
                                                          "@jupyter/nbgrader:course-list"}
