"""A class on one server: JupyterHub on loopback, two learners, a course server each, chapter 00 says "ready".

The hub runs tools/hub/jupyterhub_config.py (the configuration the README gives instructors) on free loopback
ports, with its state and the learners' home folders in a temporary folder: the shared-password authenticator,
one local single-user server per learner in a home of its own, and the pure-Python configurable-http-proxy that
`make setup` installs. Over HTTP, as a browser does, two learners log in with the class password and start their
servers; each server holds its own copy of the course and opens JupyterLab without the news prompt, and chapter 00
runs there, cell by cell, in a kernel of that server (over the Jupyter server's REST and WebSocket API) and prints
"You are ready". One learner cannot open the other's server (403), and a wrong password does not log in.

Offline by design: everything talks over 127.0.0.1. Without JupyterHub or its proxy the test is skipped with a
reason (a failure under ``CI=true``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.support.notebooks import ROOT
from tests.support.servers import Server, free_ports, user_environment
from tests.support.user_runs import cannot_run

CONFIG = ROOT / "tools" / "hub" / "jupyterhub_config.py"
BIN = Path(sys.executable).parent
PASSWORD = "course-test-password"  # the shared class password (the authenticator wants >= 8 characters)
USERS = ("ada", "alan")
CHAPTER = "chapters/00_setup_check.ipynb"
READY = "You are ready"
SECONDS = {"hub": 90, "spawn": 180, "cell": 300}
NEWS_PLUGIN = "@jupyterlab/apputils-extension:announcements"  # asks "get notified about official Jupyter news?"
HOW_TO_GET_IT = "JupyterHub or its proxy is missing, so the JupyterHub test did NOT run: `make setup` installs them"


# ------------------------------------------------------------------------------------------------------------
# The hub
# ------------------------------------------------------------------------------------------------------------


class Hub(Server):
    """JupyterHub started from the course's configuration, in its own process group, with its state in ``folder``."""

    name = "JupyterHub"

    def __init__(self, folder: Path):
        self.folder = folder
        self.homes = folder / "homes"
        port, proxy_api, hub_api = free_ports(3)
        self.base = f"http://127.0.0.1:{port}/"
        env = user_environment()
        env.update(
            COURSE_HUB_PORT=str(port),
            COURSE_HUB_PROXY_API_PORT=str(proxy_api),
            COURSE_HUB_API_PORT=str(hub_api),
            COURSE_HUB_STATE=str(folder),
            COURSE_HUB_HOMES=str(self.homes),
            COURSE_HUB_PASSWORD=PASSWORD,
            COURSE_HUB_USERS=",".join(USERS),
        )
        command = [str(BIN / "jupyterhub"), "-f", str(CONFIG)]
        self.start(command, cwd=folder, env=env, log_path=folder / "jupyterhub.log", seconds=SECONDS["hub"])

    def up(self) -> bool:
        import requests

        return requests.get(self.base + "hub/api", timeout=5).ok

    def stop(self) -> list[int]:
        """Stop the hub (it stops the learners' servers); kill, by process id, and return any server it left."""
        super().stop(timeout=60)
        left = self._servers_left()
        for pid in left:
            try:
                os.killpg(pid, signal.SIGKILL)  # each server leads its own session (start_new_session)
            except OSError:
                pass
        return left

    def _servers_left(self) -> list[int]:
        """Process ids of single-user servers whose home is one of this hub's (they outlive a killed hub)."""
        found, home = [], f"HOME={self.homes}/".encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                environ = (entry / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            ours = any(value.startswith(home) for value in environ)
            if ours and any(value.startswith(b"JUPYTERHUB_API_URL=") for value in environ):
                found.append(int(entry.name))
        return found


# ------------------------------------------------------------------------------------------------------------
# A learner: a browser's cookies, and their server's API
# ------------------------------------------------------------------------------------------------------------


class Learner:
    """One learner's browser session with the hub: log in, start the server, use its API."""

    def __init__(self, hub: Hub, name: str):
        import requests

        self.hub, self.name = hub, name
        self.session = requests.Session()

    def log_in(self, password: str = PASSWORD):
        """Post the login form as a browser does; return the hub's answer (a redirect on success)."""
        form = self.session.get(self.hub.base + "hub/login", timeout=30)
        form.raise_for_status()
        xsrf = re.search(r'name="_xsrf"\s+value="([^"]+)"', form.text)
        data = {"username": self.name, "password": password, "_xsrf": xsrf[1] if xsrf else ""}
        return self.session.post(self.hub.base + "hub/login", data=data, allow_redirects=False, timeout=30)

    def start_server(self) -> None:
        """Ask for the server (the hub's spawn page), then wait until the hub says it is ready."""
        self.session.get(self.hub.base + f"hub/spawn/{self.name}", timeout=60)
        deadline = time.monotonic() + SECONDS["spawn"]
        while time.monotonic() < deadline:
            state = self.hub_api("user")["servers"].get("", {})
            if state.get("ready"):
                return
            time.sleep(1)
        pytest.fail(f"{self.name}'s server was not ready within {SECONDS['spawn']} s:\n{self.hub.log_tail()}")

    def hub_api(self, path: str) -> dict:
        xsrf = self.session.cookies.get("_xsrf", path="/hub/") or ""
        answer = self.session.get(self.hub.base + f"hub/api/{path}", headers={"X-XSRFToken": xsrf}, timeout=30)
        answer.raise_for_status()
        return answer.json()

    def open_server(self, owner: str | None = None):
        """Open a server's JupyterLab page, as a browser does (following the hub's OAuth redirects)."""
        return self.session.get(self.hub.base + f"user/{owner or self.name}/lab", timeout=60)

    def server_api(self, path: str, method: str = "GET", owner: str | None = None, body: dict | None = None):
        """Call a single-user server's REST API with this learner's cookies; return the response."""
        prefix = f"/user/{owner or self.name}/"
        xsrf = self.session.cookies.get("_xsrf", path=prefix) or ""
        return self.session.request(
            method,
            self.hub.base + prefix.lstrip("/") + f"api/{path}",
            headers={"X-XSRFToken": xsrf},
            json=body,
            allow_redirects=False,
            timeout=60,
        )

    def run_notebook(self, path: str) -> list[str]:
        """Run the code cells of the server's own copy of ``path`` in a kernel of that server; return their text."""
        model = self.server_api(f"contents/{path}")
        assert model.status_code == 200, f"{self.name}'s server has no {path}: {model.status_code} {model.text[:300]}"
        cells = [c for c in model.json()["content"]["cells"] if c["cell_type"] == "code"]
        body = {"path": path, "type": "notebook", "name": Path(path).name, "kernel": {"name": "python3"}}
        session = self.server_api("sessions", "POST", body=body)
        assert session.status_code == 201, f"no kernel for {self.name}: {session.status_code} {session.text[:300]}"
        kernel = session.json()["kernel"]["id"]
        try:
            with KernelChannel(self, kernel) as channel:
                return [
                    channel.execute(_source(cell), where=f"{self.name}: {path}, code cell {i}")
                    for i, cell in enumerate(cells)
                ]
        finally:
            self.server_api(f"sessions/{session.json()['id']}", "DELETE")


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


class KernelChannel:
    """The Jupyter kernel protocol over a single-user server's WebSocket (JSON messages), as JupyterLab talks it."""

    def __init__(self, learner: Learner, kernel_id: str):
        self.learner, self.kernel_id, self.session_id = learner, kernel_id, uuid.uuid4().hex

    def __enter__(self) -> KernelChannel:
        import websocket

        prefix = f"/user/{self.learner.name}/"
        cookies = "; ".join(f"{c.name}={c.value}" for c in self.learner.session.cookies if prefix.startswith(c.path))
        url = self.learner.hub.base.replace("http://", "ws://") + prefix.lstrip("/")
        self.socket = websocket.create_connection(
            f"{url}api/kernels/{self.kernel_id}/channels?session_id={self.session_id}",
            header=[f"Cookie: {cookies}"],
            timeout=SECONDS["cell"],
        )
        return self

    def __exit__(self, *exc) -> None:
        self.socket.close()

    def execute(self, code: str, where: str) -> str:
        """Run ``code``; return its stdout and text results; fail with the traceback on an error."""
        msg_id = uuid.uuid4().hex
        header = {"msg_id": msg_id, "msg_type": "execute_request", "session": self.session_id}
        header.update(username=self.learner.name, version="5.3", date="")
        content = {"code": code, "silent": False, "store_history": True, "allow_stdin": False, "stop_on_error": True}
        message = {"header": header, "parent_header": {}, "metadata": {}, "content": content, "channel": "shell"}
        self.socket.send(json.dumps(message))
        text, replied, idle = [], False, False
        while not (replied and idle):
            reply = json.loads(self.socket.recv())
            if reply.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, body = reply["msg_type"], reply["content"]
            if kind == "stream":
                text.append(body["text"])
            elif kind in ("execute_result", "display_data"):
                text.append(body["data"].get("text/plain", ""))
            elif kind == "error":
                pytest.fail(f"{where} failed on the hub:\n" + "\n".join(body["traceback"]), pytrace=False)
            elif kind == "execute_reply":
                replied = True
            elif kind == "status" and body["execution_state"] == "idle":
                idle = True
        return "".join(text)


# ------------------------------------------------------------------------------------------------------------
# The test: one function, so that one xdist worker runs it, with one hub (pytest 9 ignores xdist_group markers)
# ------------------------------------------------------------------------------------------------------------


def test_a_class_on_one_server(tmp_path):
    missing = [
        name for name in ("jupyterhub", "configurable-http-proxy", "jupyterhub-singleuser") if not (BIN / name).exists()
    ]
    try:
        import requests  # noqa: F401
        import websocket  # noqa: F401
    except ImportError as error:
        missing.append(str(error))
    if missing:
        cannot_run(f"{HOW_TO_GET_IT} (missing: {', '.join(missing)})")
    hub = Hub(tmp_path)
    try:
        a_wrong_password_does_not_log_in(hub)
        learners = log_in_and_start_servers(hub)
        each_learner_has_a_server_and_a_course_of_their_own(hub, learners)
        jupyterlab_asks_no_news_question(hub, learners)
        chapter_00_runs_on_each_server_and_says_ready(hub, learners)
        a_learner_cannot_open_another_learners_server(hub, learners)
    finally:
        left = hub.stop()
    assert not left, f"the hub left single-user servers running when it stopped (killed now): {left}"


def a_wrong_password_does_not_log_in(hub: Hub) -> None:
    answer = Learner(hub, USERS[0]).log_in(password="not-the-class-password")
    assert answer.status_code != 302, "a wrong password logged in"
    answer = Learner(hub, "mallory").log_in()
    assert answer.status_code != 302, "a user who is not in the class logged in"


def log_in_and_start_servers(hub: Hub) -> dict[str, Learner]:
    """Log both learners in, then start their servers at the same time, as a class does."""
    logged_in = {}
    for name in USERS:
        learner = Learner(hub, name)
        answer = learner.log_in()
        assert answer.status_code == 302, f"{name} could not log in: {answer.status_code}\n{hub.log_tail()}"
        logged_in[name] = learner
    with ThreadPoolExecutor(len(USERS)) as pool:
        list(pool.map(Learner.start_server, logged_in.values()))
    for learner in logged_in.values():
        page = learner.open_server()
        assert page.status_code == 200 and page.url.startswith(hub.base + f"user/{learner.name}/"), (
            f"{learner.name} did not reach their JupyterLab: {page.status_code} at {page.url}"
        )
    return logged_in


def each_learner_has_a_server_and_a_course_of_their_own(hub: Hub, learners: dict[str, Learner]) -> None:
    for name, learner in learners.items():
        status = learner.server_api("status")
        assert status.status_code == 200, f"{name}'s server API: {status.status_code}"
        listing = learner.server_api("contents/chapters")
        assert listing.status_code == 200, f"{name}'s server has no chapters/: {listing.status_code}"
        assert Path(CHAPTER).name in {item["name"] for item in listing.json()["content"]}
        assert (hub.homes / name / CHAPTER).exists(), f"the course was not copied into {name}'s home"
    # A file one learner writes appears in their own home and server only.
    first, second = USERS
    note = {"type": "file", "format": "text", "content": f"{first} was here"}
    assert learners[first].server_api("contents/note.txt", "PUT", body=note).status_code in (200, 201)
    assert (hub.homes / first / "note.txt").exists()
    assert learners[second].server_api("contents/note.txt").status_code == 404


def jupyterlab_asks_no_news_question(hub: Hub, learners: dict[str, Learner]) -> None:
    """No "get notified about official Jupyter news?" prompt: `make setup` disables the plugin that asks it."""
    for name, learner in learners.items():
        page = learner.open_server()
        found = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page.text, re.S)
        assert found, f"{name}'s JupyterLab page has no page config"
        disabled = json.loads(found[1]).get("disabledExtensions", [])
        assert NEWS_PLUGIN in disabled, (
            f"{name}'s JupyterLab would ask every learner about Jupyter news: {NEWS_PLUGIN} is enabled "
            f'(`make setup` runs `jupyter labextension disable "{NEWS_PLUGIN}"`). Disabled: {disabled}'
        )


def chapter_00_runs_on_each_server_and_says_ready(hub: Hub, learners: dict[str, Learner]) -> None:
    with ThreadPoolExecutor(len(USERS)) as pool:  # the whole class presses "Run All" at once
        texts = pool.map(lambda learner: learner.run_notebook(CHAPTER), learners.values())
        outputs = dict(zip(learners, texts, strict=True))
    for name, cells in outputs.items():
        assert READY in cells[-1], f"{name}: chapter 00's last cell did not say {READY!r}: {cells[-1]!r}"
        assert (hub.homes / name / "outputs").is_dir(), f"chapter 00 did not write to {name}'s own outputs/"


def a_learner_cannot_open_another_learners_server(hub: Hub, learners: dict[str, Learner]) -> None:
    first, second = USERS
    intruder = learners[first]
    page = intruder.open_server(owner=second)
    assert page.status_code == 403, f"{first} opened {second}'s JupyterLab: {page.status_code} at {page.url}"
    for path in ("status", "contents/chapters", "kernels"):
        answer = intruder.server_api(path, owner=second)
        assert answer.status_code in (302, 403), f"{first} read {second}'s api/{path}: {answer.status_code}"
    body = {"type": "file", "format": "text", "content": "x"}
    put = intruder.server_api("contents/intruder.txt", "PUT", owner=second, body=body)
    assert put.status_code in (302, 403), f"{first} wrote into {second}'s server: {put.status_code}"
    assert not (hub.homes / second / "intruder.txt").exists()


def test_make_setup_turns_the_news_prompt_off():
    """`make setup` disables the announcements plugin in .venv, where `make lab` and the hub's servers start."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert f"LAB_NEWS_PLUGIN := {NEWS_PLUGIN}" in makefile
    recipe = makefile.split("$(STAMP): pyproject.toml", 1)[1].split("\n\n", 1)[0]
    assert 'jupyter labextension disable "$(LAB_NEWS_PLUGIN)"' in recipe, (
        "make setup no longer disables the news plugin"
    )
    assert "lab: $(STAMP)" in makefile, "make lab must start from the environment that make setup prepared"
