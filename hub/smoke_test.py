"""Smoke test of the course hub: real students, a real JupyterHub, one notebook each, private files.

Usage (as root, after ``make test-hub``'s installs): ``.venv/bin/python hub/smoke_test.py
[--notebook notebooks/05_self_attention.ipynb] [--users 3]``.

1. Creates ``--users`` temporary system users (homes under a temporary folder).
2. Starts JupyterHub with ``hub/jupyterhub_config.py`` on loopback (free ports), the dummy
   authenticator limited to those users, and configurable-http-proxy from ``hub/node_modules``.
3. Each user logs in through the log-in form, gets an API token, starts their server, and runs every
   code cell of the notebook (from their own copy in ``~/lm-course``) in a kernel through the REST
   and kernel WebSocket API; all users run at the same time. Every cell must finish without an error.
4. Isolation: from user A's kernel, reading user B's notebook raises PermissionError (while A's own
   copy reads), and A's token gets no answer from B's server; an unlisted name cannot log in.
5. With nbgrader installed: an instructor (root here) releases a one-exercise assignment into the
   exchange the hub points every student at; each student fetches and submits it from their kernel
   (nbgrader's command line, as the Assignments panel does) but cannot list the others' submissions;
   the instructor collects every student's notebook; a student's server has no formgrader.
6. Stops the hub, ends what the test users still run, deletes the users and the temporary folder.

Exit status 0 when every check passed; the last line is one JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HUB_DIR = Path(__file__).resolve().parent
ROOT = HUB_DIR.parent
sys.path.insert(0, str(HUB_DIR))

from course_hub import COURSE_FOLDER, closed_to_others  # noqa: E402

CELL_TIMEOUT_S = 600


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Failure(AssertionError):
    """A check of the smoke test failed."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise Failure(message)


# --- users ------------------------------------------------------------------------------------------

def create_user(name: str, home_base: Path) -> pwd.struct_passwd:
    subprocess.run(["useradd", "--create-home", "--base-dir", str(home_base), "--user-group",
                    "--shell", "/bin/sh", name], check=True)
    return pwd.getpwnam(name)


def processes_of(uid: int) -> list[int]:
    """Process ids owned by ``uid`` (read from /proc)."""
    pids = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            for line in status.read_text().splitlines():
                if line.startswith("Uid:"):
                    if int(line.split()[1]) == uid:
                        pids.append(int(status.parent.name))
                    break
        except (OSError, ValueError):
            continue
    return pids


def memory_of(uid: int) -> dict:
    """Memory of a student's processes, from /proc: the kernel's peak (VmHWM) and the server's resident set."""
    kernel_peak_kb = server_kb = 0
    for pid in processes_of(uid):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                          if ":" in line)
        except OSError:
            continue
        if "ipykernel" in command:
            kernel_peak_kb = max(kernel_peak_kb, int(fields.get("VmHWM", "0 kB").split()[0]))
        elif "jupyterhub-singleuser" in command:
            server_kb += int(fields.get("VmRSS", "0 kB").split()[0])
    return {"kernel_peak_mb": round(kernel_peak_kb / 1024), "server_rss_mb": round(server_kb / 1024)}


def remove_user(name: str) -> None:
    try:
        uid = pwd.getpwnam(name).pw_uid
    except KeyError:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pids = processes_of(uid)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 10
        while processes_of(uid) and time.monotonic() < deadline:
            time.sleep(0.2)
        if not processes_of(uid):
            break
    subprocess.run(["userdel", "--remove", name], check=False, stderr=subprocess.DEVNULL)


# --- the hub ----------------------------------------------------------------------------------------

class Hub:
    """A JupyterHub process on loopback, stopped by :meth:`stop`."""

    def __init__(self, state: Path, users: list[str], notebooks: Path, exchange: Path | None):
        self.port, self.hub_port, self.proxy_api_port = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = state / "jupyterhub.log"
        env = dict(os.environ,
                   COURSE_HUB_IP="127.0.0.1", COURSE_HUB_PORT=str(self.port), COURSE_HUB_STATE=str(state),
                   COURSE_HUB_AUTH="dummy", COURSE_HUB_USERS=",".join(users),
                   COURSE_HUB_NOTEBOOKS=str(notebooks), COURSE_HUB_VENV=sys.prefix,
                   CONFIGPROXY_AUTH_TOKEN=secrets.token_hex(32))
        if exchange is not None:
            env.update(COURSE_HUB_EXCHANGE=str(exchange), COURSE_HUB_COURSE_ID=COURSE_ID)
        command = [sys.executable, "-m", "jupyterhub", "-f", str(HUB_DIR / "jupyterhub_config.py"),
                   f"--JupyterHub.hub_port={self.hub_port}",
                   f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{self.proxy_api_port}"]
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(command, cwd=state, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def wait_ready(self, timeout: float = 90) -> None:
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            check(self.process.poll() is None, f"JupyterHub exited with {self.process.returncode}")
            try:
                if requests.get(f"{self.url}/hub/api", timeout=5).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.5)
        raise Failure(f"JupyterHub did not answer on {self.url} within {timeout} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # the hub stops the proxy and the users' servers
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


# --- one student ------------------------------------------------------------------------------------

class Student:
    """A logged-in user with an API token and a running server."""

    def __init__(self, hub: Hub, name: str):
        import requests

        self.hub, self.name = hub, name
        self.session = requests.Session()
        self.token = ""

    def log_in(self) -> bool:
        """Submit the log-in form; True when the hub accepted the user (session cookie set)."""
        hub = self.hub.url
        self.session.get(f"{hub}/hub/login", timeout=30)
        xsrf = self.session.cookies.get("_xsrf", "")
        response = self.session.post(f"{hub}/hub/login", data={"username": self.name, "password": "any",
                                                               "_xsrf": xsrf},
                                     allow_redirects=False, timeout=60)
        return response.status_code == 302 and "jupyterhub-hub-login" in self.session.cookies

    def request_token(self) -> None:
        response = self.session.post(f"{self.hub.url}/hub/api/users/{self.name}/tokens",
                                     json={"note": "hub smoke test"},
                                     headers={"X-XSRFToken": self.session.cookies.get("_xsrf", "")}, timeout=30)
        check(response.status_code in (200, 201), f"{self.name}: token request answered {response.status_code}")
        self.token = response.json()["token"]

    def api(self, method: str, path: str, **kwargs):
        import requests

        return requests.request(method, f"{self.hub.url}{path}", timeout=60,
                                headers={"Authorization": f"token {self.token}"}, **kwargs)

    def start_server(self, timeout: float = 180) -> None:
        response = self.api("POST", f"/hub/api/users/{self.name}/server")
        check(response.status_code in (201, 202), f"{self.name}: server start answered {response.status_code}")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            server = self.api("GET", f"/hub/api/users/{self.name}").json().get("servers", {}).get("", {})
            if server.get("ready"):
                return
            time.sleep(1)
        raise Failure(f"{self.name}: server not ready within {timeout} s")

    def stop_server(self) -> None:
        self.api("DELETE", f"/hub/api/users/{self.name}/server")

    def read_notebook(self, name: str) -> dict:
        response = self.api("GET", f"/user/{self.name}/api/contents/{COURSE_FOLDER}/{name}")
        check(response.status_code == 200, f"{self.name}: reading {name} answered {response.status_code}")
        return response.json()["content"]

    def start_kernel(self, notebook: str) -> str:
        response = self.api("POST", f"/user/{self.name}/api/sessions",
                            json={"path": f"{COURSE_FOLDER}/{notebook}", "name": notebook, "type": "notebook",
                                  "kernel": {"name": "python3"}})
        check(response.status_code == 201, f"{self.name}: session start answered {response.status_code}")
        return response.json()["kernel"]["id"]


class KernelClient:
    """Runs code in a kernel over the Jupyter WebSocket channel and collects outputs and errors."""

    def __init__(self, student: Student, kernel_id: str):
        self.student, self.kernel_id = student, kernel_id
        self.session = uuid.uuid4().hex
        self.connection = None

    async def connect(self) -> None:
        from tornado.httpclient import HTTPRequest
        from tornado.websocket import websocket_connect

        url = (f"ws://127.0.0.1:{self.student.hub.port}/user/{self.student.name}/api/kernels/"
               f"{self.kernel_id}/channels?session_id={self.session}")
        request = HTTPRequest(url, headers={"Authorization": f"token {self.student.token}"})
        self.connection = await websocket_connect(request, max_message_size=256 * 1024 * 1024)

    async def execute(self, code: str, timeout: float = CELL_TIMEOUT_S) -> dict:
        """Run ``code``; return {"status", "errors", "stdout"} once the kernel is idle again."""
        msg_id = uuid.uuid4().hex
        await self.connection.write_message(json.dumps({
            "header": {"msg_id": msg_id, "username": self.student.name, "session": self.session,
                       "msg_type": "execute_request", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True},
        }))
        result = {"status": None, "errors": [], "stdout": ""}
        idle = False
        deadline = time.monotonic() + timeout
        while result["status"] is None or not idle:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Failure(f"{self.student.name}: a cell ran past {timeout} s")
            raw = await asyncio.wait_for(self.connection.read_message(), remaining)
            check(raw is not None, f"{self.student.name}: the kernel connection closed")
            if isinstance(raw, bytes):  # binary frames carry widget buffers; nothing to check there
                continue
            message = json.loads(raw)
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = message["msg_type"], message["content"]
            if kind == "execute_reply":
                result["status"] = content["status"]
                if content["status"] == "error":
                    result["errors"].append(f"{content.get('ename')}: {content.get('evalue')}")
            elif kind == "error":
                result["errors"].append(f"{content['ename']}: {content['evalue']}")
            elif kind == "stream" and content.get("name") == "stdout":
                result["stdout"] += content["text"]
            elif kind == "status" and content["execution_state"] == "idle":
                idle = True
        return result

    async def close(self) -> None:
        if self.connection is not None:
            self.connection.close()


EXCHANGE_STEP = """
import os, subprocess, sys
for step in ("fetch_assignment", "submit"):
    done = subprocess.run([sys.executable, "-m", "nbgrader", step, {assignment!r}], capture_output=True, text=True)
    print("nbgrader_" + step, done.returncode)
    if done.returncode:
        print("nbgrader_error", done.stderr.strip().splitlines()[-1:])
try:
    os.listdir({inbound!r})
    print("inbound READ")
except PermissionError:
    print("inbound DENIED")
"""


async def run_notebook(student: Student, notebook: str, other_notebook_path: Path,
                       exchange: Path | None = None) -> dict:
    """Run every code cell of the student's copy of ``notebook``, the isolation probe, and with an
    nbgrader ``exchange``: fetch and submit the released assignment, then try to list the inbox."""
    cells = [cell for cell in student.read_notebook(notebook)["cells"] if cell["cell_type"] == "code"]
    client = KernelClient(student, student.start_kernel(notebook))
    await client.connect()
    start = time.perf_counter()
    errors = []
    try:
        for index, cell in enumerate(cells):
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            outcome = await client.execute(source)
            if outcome["status"] != "ok" or outcome["errors"]:
                errors.append({"cell": index, "errors": outcome["errors"] or [outcome["status"]]})
                break  # later cells depend on this one
        seconds = time.perf_counter() - start
        probe = await client.execute(
            "def _probe(path):\n"
            "    try:\n"
            "        with open(path, 'rb') as handle:\n"
            "            handle.read(1)\n"
            "        return 'READ'\n"
            "    except PermissionError:\n"
            "        return 'DENIED'\n"
            "import os\n"
            f"print('own', _probe(os.path.expanduser({f'~/{COURSE_FOLDER}/{notebook}'!r})))\n"
            f"print('other', _probe({str(other_notebook_path)!r}))\n"
            "print('uid', os.getuid())\n", timeout=60)
        if exchange is not None:
            inbound = exchange / COURSE_ID / "inbound"
            step = await client.execute(EXCHANGE_STEP.format(assignment=ASSIGNMENT, inbound=str(inbound)),
                                        timeout=300)
            probe["stdout"] += step["stdout"]
            errors += [{"cell": "nbgrader", "errors": step["errors"]}] if step["errors"] else []
    finally:
        await client.close()
    lines = dict(line.split(" ", 1) for line in probe["stdout"].splitlines() if " " in line)
    return {"cells": len(cells), "seconds": round(seconds, 1), "errors": errors,
            "own_file": lines.get("own"), "other_file": lines.get("other"), "kernel_uid": lines.get("uid"),
            "nbgrader_fetch": lines.get("nbgrader_fetch_assignment"), "nbgrader_submit": lines.get("nbgrader_submit"),
            "nbgrader_error": lines.get("nbgrader_error"), "exchange_inbound": lines.get("inbound")}


# --- nbgrader's exchange -----------------------------------------------------------------------------

ASSIGNMENT = "ps1"
COURSE_ID = "lm-course"
ASSIGNMENT_CELL = """def double(x):
    \"\"\"Return twice x.\"\"\"
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION"""


def nbgrader_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("nbgrader") is not None


def instructor(course: Path, *args: str) -> None:
    """Run an nbgrader command as the instructor (root here) in the course folder."""
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("JUPYTER_CONFIG_PATH", None)
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env, capture_output=True,
                          text=True, timeout=300)
    check(done.returncode == 0, f"instructor: nbgrader {' '.join(args)} failed: {done.stderr[-1500:]}")


def release_assignment(course: Path, exchange: Path) -> None:
    """A one-exercise assignment, generated and released into ``exchange`` as an instructor would."""
    import nbformat

    (course / "source" / ASSIGNMENT).mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
        f"c.Exchange.root = {str(exchange)!r}\n")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(ASSIGNMENT_CELL)]
    notebook.cells[0].metadata["nbgrader"] = {"solution": True, "grade": False, "locked": False,
                                              "grade_id": "double", "schema_version": 3}
    nbformat.write(notebook, course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    instructor(course, "generate_assignment", ASSIGNMENT, "--no-db", "--force")
    instructor(course, "release_assignment", ASSIGNMENT)


def collected(course: Path) -> list[str]:
    """Collect the submissions as the instructor; the students whose notebook arrived."""
    instructor(course, "collect", ASSIGNMENT)
    return sorted(p.parts[-3] for p in (course / "submitted").glob(f"*/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"))


# --- the whole test ---------------------------------------------------------------------------------

def prerequisites() -> list[str]:
    problems = []
    if os.geteuid() != 0:
        problems.append("run as root: the test creates system users and the hub switches to them")
    try:
        import jupyterhub  # noqa: F401
    except ImportError:
        problems.append("jupyterhub is not installed in this environment (make test-hub installs it)")
    if not (HUB_DIR / "node_modules" / ".bin" / "configurable-http-proxy").exists():
        problems.append("configurable-http-proxy is missing: run `npm install` in hub/ (make test-hub does)")
    closed = closed_to_others(Path(sys.executable))
    if closed is not None:
        problems.append(f"students cannot run this environment's Python ({closed} is closed to other users): "
                        "build it from a Python every account may run, e.g. make test-hub HUB_PYTHON=/usr/bin/python3")
    for tool in ("useradd", "userdel"):
        if shutil.which(tool) is None:
            problems.append(f"{tool} is not on PATH")
    return problems


def smoke_test(notebook: Path, n_users: int) -> dict:
    import requests

    letters = "abcdefghij"[:n_users]
    tag = f"{os.getpid() % 100000:05d}"
    names = [f"lmhub{tag}{letter}" for letter in letters]
    base = Path(tempfile.mkdtemp(prefix="lm-hub-smoke-"))
    base.chmod(0o755)  # homes below it are private; the folder itself must be traversable
    homes, state, source = base / "home", base / "state", base / "notebooks"
    course, exchange = base / "course", (base / "exchange" if nbgrader_available() else None)
    homes.mkdir(mode=0o755)
    state.mkdir()
    source.mkdir()
    shutil.copyfile(notebook, source / notebook.name)
    created: list[str] = []
    hub = None
    summary: dict = {"notebook": notebook.name, "users": names, "load_before": round(os.getloadavg()[0], 2)}
    try:
        for name in names:
            create_user(name, homes)
            created.append(name)
        hub = Hub(state, names, source, exchange)
        hub.wait_ready()
        if exchange is not None:
            check((exchange.stat().st_mode & 0o777) == 0o777, "the hub did not create nbgrader's exchange")
            release_assignment(course, exchange)
        students = [Student(hub, name) for name in names]
        for student in students:
            check(student.log_in(), f"{student.name} could not log in")
            student.request_token()
        outsider = Student(hub, f"lmhub{tag}x")
        check(not outsider.log_in(), "a user who is not on the list logged in")
        with ThreadPoolExecutor(len(students)) as pool:
            list(pool.map(lambda s: s.start_server(), students))
        for student in students:
            account = pwd.getpwnam(student.name)
            home = Path(account.pw_dir)
            check((home.stat().st_mode & 0o777) == 0o700, f"{home} is not private (mode 0700)")
            copy = home / COURSE_FOLDER / notebook.name
            check(copy.is_file() and copy.stat().st_uid == account.pw_uid,
                  f"{student.name} has no own copy of {notebook.name}")

        def run(index: int) -> dict:
            other = pwd.getpwnam(names[(index + 1) % len(names)]).pw_dir
            result = asyncio.run(run_notebook(students[index], notebook.name,
                                              Path(other) / COURSE_FOLDER / notebook.name, exchange))
            result.update(memory_of(pwd.getpwnam(names[index]).pw_uid))  # the kernel is still running
            return result

        start = time.perf_counter()
        with ThreadPoolExecutor(len(students)) as pool:
            results = list(pool.map(run, range(len(students))))
        summary["concurrent_seconds"] = round(time.perf_counter() - start, 1)
        summary["per_user"] = dict(zip(names, results))
        for student, result in zip(students, results):
            check(not result["errors"], f"{student.name}: errors while running {notebook.name}: {result['errors']}")
            check(result["kernel_uid"] == str(pwd.getpwnam(student.name).pw_uid),
                  f"{student.name}: kernel runs as uid {result['kernel_uid']}, not as the student")
            check(result["own_file"] == "READ", f"{student.name} cannot read their own notebook")
            check(result["other_file"] == "DENIED", f"{student.name} could read another student's notebook")
        if exchange is not None:
            for student, result in zip(students, results):
                check(result["nbgrader_fetch"] == "0" and result["nbgrader_submit"] == "0",
                      f"{student.name}: nbgrader fetch/submit failed: {result['nbgrader_error']}")
                check(result["exchange_inbound"] == "DENIED", f"{student.name} could list the submissions")
            summary["nbgrader_collected"] = collected(course)
            check(summary["nbgrader_collected"] == sorted(names),
                  f"the instructor collected {summary['nbgrader_collected']}, not every student's submission")
            # nbgrader's instructor tools are off on students' servers.
            summary["formgrader_status"] = students[0].api("GET", f"/user/{names[0]}/formgrader",
                                                           allow_redirects=False).status_code
            check(summary["formgrader_status"] == 404, f"a student's server serves nbgrader's formgrader "
                                                        f"({summary['formgrader_status']})")
        else:
            summary["nbgrader_collected"] = "nbgrader not installed: exchange not tested"
        # Through the proxy: A's token must not reach B's server.
        response = students[0].api("GET", f"/user/{names[1]}/api/contents/{COURSE_FOLDER}",
                                   allow_redirects=False)
        summary["cross_user_api_status"] = response.status_code
        check(response.status_code in (302, 403, 404) and "content" not in response.text[:200],
              f"{names[0]}'s token read {names[1]}'s files through the API ({response.status_code})")
        for student in students:
            student.stop_server()
        summary["passed"] = True
    except (Failure, requests.RequestException, subprocess.CalledProcessError, asyncio.TimeoutError) as error:
        summary["passed"] = False
        summary["failure"] = f"{type(error).__name__}: {error}"
        if hub is not None:
            print(hub.log_tail(), file=sys.stderr)
    finally:
        if hub is not None:
            hub.stop()
        for name in created:
            remove_user(name)
        summary["users_left"] = [name for name in names if _user_exists(name)]
        shutil.rmtree(base, ignore_errors=True)
        summary["load_after"] = round(os.getloadavg()[0], 2)
    return summary


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", type=Path, default=ROOT / "notebooks" / "05_self_attention.ipynb",
                        help="an NN_topic.ipynb notebook every user runs (default: the fastest course notebook)")
    parser.add_argument("--users", type=int, default=3, choices=range(2, 11), metavar="2..10")
    args = parser.parse_args(argv)
    problems = prerequisites()
    if problems:
        print("cannot run the hub smoke test:\n  " + "\n  ".join(problems), file=sys.stderr)
        return 2
    notebook = args.notebook.resolve()
    if not notebook.is_file():
        print(f"no notebook at {notebook}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up on `kill` too
    summary = smoke_test(notebook, args.users)
    for name, result in summary.get("per_user", {}).items():
        print(f"{name}: {result['cells']} cells in {result['seconds']} s, errors {result['errors'] or 'none'}, "
              f"own notebook {result['own_file']}, other's notebook {result['other_file']}, kernel peak "
              f"{result.get('kernel_peak_mb')} MB, server {result.get('server_rss_mb')} MB")
    print(f"nbgrader exchange: collected {summary.get('nbgrader_collected')}")
    print("PASSED" if summary["passed"] else f"FAILED: {summary.get('failure')}")
    print(json.dumps(summary))
    return 0 if summary["passed"] and not summary["users_left"] else 1


if __name__ == "__main__":
    sys.exit(main())
