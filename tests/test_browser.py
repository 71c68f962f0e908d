"""The course as a user meets it: JupyterLab in a real browser (Debian's Chromium, driven by Playwright).

One JupyterLab server for the module, started as ``make lab`` starts it (127.0.0.1, root_dir = the course) plus
what a test needs (a free port, a known token, no browser of its own, autosave off, its own workspace). For chapter
01, then chapter 00: open the notebook, clear it, Run All, wait for the kernel, and check that no cell shows an
error or stderr output, that every cell ran, and that the widgets rendered (no "Error displaying widget", no
widget repr printed as text). Then move each explorer's first slider with the mouse and check that the explorer's
output (its figure, or its text) changed, still without errors. Screenshots go to ``outputs/screenshots/``.

No Chromium: the test is skipped with a reason that says how to get it, and fails under ``CI=true``.
``COURSE_BROWSER_NOTEBOOKS="chapters/*.ipynb"`` (paths or globs, relative to the course) checks other notebooks,
e.g. every chapter, or a deliberately broken copy under outputs/. ``COURSE_CHROMIUM`` names another Chromium.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import secrets
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.support.browser import launch_chromium
from tests.support.notebooks import CHAPTERS, ROOT, code_cells, read
from tests.support.servers import Server, free_ports, user_environment

DEFAULT = ("01", "00")  # chapter 01 (the first explorer), then chapter 00 (the setup check's slider)
NOTEBOOKS_ENV = "COURSE_BROWSER_NOTEBOOKS"
SECONDS = {"server": 120, "open": 120, "run": 600, "slider": 60}
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook tab in front
LAB_SETTINGS = {  # a fresh user's settings, except: never save the course's notebooks, and do not fetch news
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}


def _notebooks() -> list[Path]:
    patterns = os.environ.get(NOTEBOOKS_ENV, "").split()
    if patterns:
        found = [Path(p) for pattern in patterns for p in sorted(glob.glob(str(ROOT / pattern)))]
        return found or [ROOT / patterns[0]]  # a missing path fails loudly below
    return [p for prefix in DEFAULT for p in CHAPTERS if p.name.startswith(f"{prefix}_")]


NOTEBOOKS = _notebooks()


# ------------------------------------------------------------------------------------------------------------
# The server and the browser, one of each for the module
# ------------------------------------------------------------------------------------------------------------


class Lab(Server):
    """A JupyterLab server started as ``make lab`` does, for tests."""

    name = "JupyterLab"

    def __init__(self, folder: Path):
        self.folder = folder
        (self.port,), self.token = free_ports(), secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}/"
        for plugin, values in LAB_SETTINGS.items():
            target = folder / "settings" / f"{plugin.replace(':', '/')}.jupyterlab-settings"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(values), encoding="utf-8")
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--ServerApp.ip=127.0.0.1",  # as `make lab`
            f"--ServerApp.root_dir={ROOT}",  # as `make lab`
            "--no-browser",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--LabApp.user_settings_dir={folder / 'settings'}",
            f"--LabApp.workspaces_dir={folder / 'workspaces'}",
        ]
        if os.geteuid() == 0:
            command.append("--allow-root")
        # A user's environment: without what tests/conftest.py sets for the tests (MPLBACKEND=Agg would hide every
        # figure). The kernels write their files apart, so they never race a test run of the same notebook.
        env = user_environment()
        env["COURSE_OUTPUT_DIR"] = str(folder / "outputs")
        self.start(command, cwd=ROOT, env=env, log_path=folder / "jupyterlab.log", seconds=SECONDS["server"])

    def up(self) -> bool:
        self.api("status")
        return True

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(f"{self.base}api/{path}?token={self.token}", method=method)
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def url(self, path: Path) -> str:
        return f"{self.base}lab/tree/{path.relative_to(ROOT).as_posix()}?reset&token={self.token}"

    def shut_down_kernels(self) -> None:
        try:
            for kernel in self.api("kernels"):
                self.api(f"kernels/{kernel['id']}", method="DELETE")
        except OSError:
            pass

    def stop(self) -> None:
        if self.running():
            self.shut_down_kernels()
        super().stop()


@pytest.fixture(scope="module")
def chromium():
    yield from launch_chromium()


@pytest.fixture(scope="module")
def lab(chromium):
    with tempfile.TemporaryDirectory(prefix="course-lab-") as folder:
        server = Lab(Path(folder))
        yield server
        server.stop()


# ------------------------------------------------------------------------------------------------------------
# What the page shows
# ------------------------------------------------------------------------------------------------------------

PROMPTS_JS = f"() => [...document.querySelectorAll('{PANEL} .jp-CodeCell .jp-InputPrompt')].map(e => e.textContent)"
STATUS_JS = f"""() => document.querySelector('{PANEL} .jp-Notebook-ExecutionIndicator')
    ?.getAttribute('data-status') ?? 'idle'"""  # no indicator (another JupyterLab): the prompts alone tell
DIALOG_JS = "() => [...document.querySelectorAll('.jp-Dialog')].map(d => d.innerText.trim()).join(' | ')"
PROBLEMS_JS = f"""() => {{
    const problems = [];
    document.querySelectorAll('{PANEL} .jp-CodeCell').forEach((cell, index) => {{
        const outputs = cell.querySelector('.jp-Cell-outputArea');
        if (!outputs) return;
        outputs.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]').forEach(out =>
            problems.push(`code cell ${{index}}: an error or stderr output:\\n${{out.innerText.slice(0, 1500)}}`));
        if (outputs.querySelector('.jupyter-widgets-error-widget'))
            problems.push(`code cell ${{index}}: a widget failed to render (ipywidgets' error box; see the console)`);
        if (outputs.innerText.includes('Error displaying widget'))
            problems.push(`code cell ${{index}}: "Error displaying widget": ${{outputs.innerText.slice(0, 300)}}`);
        outputs.querySelectorAll('[data-mime-type="text/plain"]').forEach(out => {{
            if (/^\\s*(VBox|HBox|Box|interactive|[A-Za-z]*Slider|Dropdown|Output)\\(/.test(out.innerText))
                problems.push(`code cell ${{index}}: a widget shown as text: ${{out.innerText.slice(0, 200)}}`);
        }});
    }});
    return problems;
}}"""
EXPLORER_JS = f"""(index) => {{
    const cell = document.querySelectorAll('{PANEL} .jp-CodeCell')[index];
    const out = cell.querySelector('.jp-Cell-outputArea .widget-output');
    if (!out) return null;
    const images = [...out.querySelectorAll('img')].map(img => img.src);
    return JSON.stringify({{images, text: out.innerText}});
}}"""


IMAGES_LOADED_JS = f"""(index) => [...document.querySelectorAll('{PANEL} .jp-CodeCell')[index]
    .querySelectorAll('.jp-Cell-outputArea .widget-output img')].every(img => img.complete && img.naturalWidth > 0)"""


def _settle(page, cell, index: int) -> str | None:
    """Scroll the explorer into view, wait until its images are decoded; return what its output shows (JSON)."""
    cell.scroll_into_view_if_needed()
    page.wait_for_function(IMAGES_LOADED_JS, arg=index, timeout=SECONDS["slider"] * 1000)
    return page.evaluate(EXPLORER_JS, index)


def _explorer_cells(page) -> list[int]:
    return page.evaluate(
        f"""() => [...document.querySelectorAll('{PANEL} .jp-CodeCell')]
            .map((cell, index) => cell.querySelector('.jp-Cell-outputArea .widget-slider') ? index : -1)
            .filter(index => index >= 0)"""
    )


def _wait_for_idle(page, timeout_s: float) -> None:
    """Wait until no cell is queued or running and the kernel is idle, stable for a second."""
    deadline, calm_since = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        busy = any("*" in p for p in page.evaluate(PROMPTS_JS)) or page.evaluate(STATUS_JS) != "idle"
        if busy:
            calm_since = None
        elif calm_since is None:
            calm_since = time.monotonic()
        elif time.monotonic() - calm_since > 1.0:
            return
        page.wait_for_timeout(250)
    dialog = page.evaluate(DIALOG_JS)
    raise TimeoutError(
        f"the kernel was still busy after {timeout_s:.0f} s" + (f"; a dialog shows: {dialog}" if dialog else "")
    )


def _menu(page, menu: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click()
    page.get_by_role("menuitem", name=item, exact=True).click()


def _drag(page, slider) -> None:
    """Drag the slider's handle with the mouse a quarter of its track, toward the far side of its range."""
    handle = slider.locator(".noUi-handle").first
    handle.scroll_into_view_if_needed()
    value, low, high = (float(handle.get_attribute(a)) for a in ("aria-valuenow", "aria-valuemin", "aria-valuemax"))
    track = slider.locator(".noUi-base").first.bounding_box()
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    step = track["width"] / 4 * (1 if value <= (low + high) / 2 else -1)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + step, y, steps=6)
    page.mouse.up()


def _checkpoints_made_by(path: Path):
    """Remove the checkpoint JupyterLab writes on opening a notebook, when there was none before."""
    checkpoint = path.parent / ".ipynb_checkpoints" / f"{path.stem}-checkpoint.ipynb"
    existed = checkpoint.exists()

    def clean():
        if not existed and checkpoint.exists():
            checkpoint.unlink()
            if not any(checkpoint.parent.iterdir()):
                checkpoint.parent.rmdir()

    return clean


# ------------------------------------------------------------------------------------------------------------
# The test
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.xdist_group("browser")  # one worker, so one server and one browser (make test: --dist loadgroup)
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.relative_to(ROOT).as_posix() for p in NOTEBOOKS])
def test_run_all_in_jupyterlab_then_move_a_slider(path, lab, chromium):
    assert path.exists(), f"{path}: no such notebook ({NOTEBOOKS_ENV}={os.environ.get(NOTEBOOKS_ENV)!r})"
    from utils.course import output_dir

    shots = output_dir("screenshots")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    clean = _checkpoints_made_by(path)
    page = chromium.new_page(viewport={"width": 1400, "height": 1000})
    console = []
    page.on("console", lambda message: console.append(message.text) if message.type == "error" else None)
    failure = shots / f"{path.stem}.failure.png"
    try:
        _check_in_the_browser(page, path, lab, shots, console)
    except BaseException:
        page.screenshot(path=str(failure))
        raise
    finally:
        page.close()
        lab.shut_down_kernels()  # one kernel at a time: the next notebook gets the CPU
        clean()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, f"JupyterLab changed {path} (autosave?)"


def _check_in_the_browser(page, path: Path, lab: Lab, shots: Path, console: list[str]) -> None:
    where = f"{path.relative_to(ROOT)} in JupyterLab"
    count = len(code_cells(read(path)))
    page.goto(lab.url(path))
    page.wait_for_function(
        f"n => document.querySelectorAll('{PANEL} .jp-CodeCell .jp-InputPrompt').length === n",
        arg=count,
        timeout=SECONDS["open"] * 1000,
    )
    _wait(page, SECONDS["open"], where, "the kernel did not start")
    page.wait_for_timeout(1000)  # saved widget outputs settle
    broken = [p for p in page.evaluate(PROBLEMS_JS) if "Error displaying widget" in p or "failed to render" in p]
    _report(where, "on opening it, before running anything", broken, console)
    _menu(page, "Edit", "Clear Outputs of All Cells")
    _menu(page, "Run", "Run All Cells")
    _wait(page, SECONDS["run"], where, "Run All did not finish")
    page.screenshot(path=str(shots / f"{path.stem}.1_run_all.png"))

    problems = page.evaluate(PROBLEMS_JS)
    not_run = [i for i, prompt in enumerate(page.evaluate(PROMPTS_JS)) if not prompt.strip("[]: ").isdigit()]
    if not_run:
        problems.append(f"code cells {not_run} did not run (Run All stops at the first error)")
    _report(where, "after Run All", problems, console)

    explorers = _explorer_cells(page)
    if not explorers:
        _report(where, "after Run All", ["no widget with a slider rendered (is the explore_* cell missing?)"], console)
    for index in explorers:
        cell = page.locator(f"{PANEL} .jp-CodeCell").nth(index)
        slider = cell.locator(".widget-slider").first
        label = slider.locator(".widget-label").first.inner_text().strip() or "(no label)"
        before = _settle(page, cell, index)
        shown = json.loads(before or "null")
        if not shown or not (shown["images"] or shown["text"].strip()):
            empty = f"code cell {index}: the explorer shows no output: no figure, no text (MPLBACKEND=Agg?)"
            _report(where, "after Run All", [empty], console)
        cell.screenshot(path=str(shots / f"{path.stem}.2_cell{index}_before.png"))
        readout = slider.locator(".noUi-handle").first.get_attribute("aria-valuenow")
        _drag(page, slider)
        moved = slider.locator(".noUi-handle").first.get_attribute("aria-valuenow")
        when = f"after moving slider {label!r} ({readout} -> {moved})"
        if moved == readout:
            _report(where, when, [f"code cell {index}: dragging slider {label!r} did not change its value"], console)
        try:
            page.wait_for_function(
                f"([index, before]) => ({EXPLORER_JS})(index) !== before",
                arg=[index, before],
                timeout=SECONDS["slider"] * 1000,
            )
            _wait_for_idle(page, SECONDS["slider"])
            after = _settle(page, cell, index)
        except Exception:  # noqa: BLE001 (Playwright's TimeoutError, or ours): reported below, without its chain
            after = None
        if after is None:
            unchanged = f"code cell {index}: the explorer's figure and text did not change within {SECONDS['slider']} s"
            _report(where, when, [*page.evaluate(PROBLEMS_JS), unchanged], console)
        cell.screenshot(path=str(shots / f"{path.stem}.3_cell{index}_after.png"))
        problems = page.evaluate(PROBLEMS_JS)
        if after == before:
            problems.append(f"code cell {index}: the explorer changed, then came back to what it showed before")
        if shown["images"] and not json.loads(after)["images"]:
            problems.append(f"code cell {index}: the explorer's figure disappeared")
        _report(where, when, problems, console)


def _wait(page, seconds: float, where: str, what: str) -> None:
    try:
        _wait_for_idle(page, seconds)
    except TimeoutError as error:
        pytest.fail(f"{where}: {what}: {error}", pytrace=False)


def _report(where: str, when: str, problems: list[str], console: list[str]) -> None:
    if not problems:
        return
    message = [f"{where}, {when}:", *problems]
    if console:
        message += [
            "",
            "browser console errors (last 5, first lines):",
            *(m.splitlines()[0][:300] for m in console[-5:]),
        ]
    pytest.fail("\n".join(message), pytrace=False)
