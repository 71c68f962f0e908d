"""A pytest plugin for the nbval pass: each notebook runs twice, as a user runs it, and must not notice.

Loaded by ``make test`` with ``-p tests.support.user_runs`` next to ``--nbval``. For every notebook that nbval
collects it adds one item after the notebook's cells, in the same xdist scope (so ``--dist loadscope`` keeps it on the
notebook's worker, right after nbval's run). That item is the **re-run and determinism test**:

- it runs the whole notebook again in a fresh kernel, in the notebook's own folder, after nbval's run there
  ("Restart and Run All" twice in a row): files the first run wrote must not break the second;
- it runs on **another numeric path**, a stand-in for a learner's machine (another CPU, a Mac, a GPU): other
  thread counts for TensorFlow and BLAS, another OpenBLAS kernel, and TensorFlow's oneDNN kernels
  (:func:`second_numeric_path`). Float results change in their last digits there (tests/test_user_runs.py shows
  it), so a notebook passes only if it prints what any machine prints: numbers rounded to what the claim needs;
- the compared outputs of this second run must equal the saved ones, sanitized as nbval does (cells tagged
  ``nbval-ignore-output`` and PNGs are not compared); nbval checked the first run against the same reference,
  so the two fresh runs print identical compared outputs;
- no new untracked file may appear outside git-ignored folders (compared with ``git ls-files --others
  --exclude-standard`` from before nbval's first cell of the notebook).

It also prints whether the network is cut (tests/support/offline.py) in the report header, adds an "offline" note to
failures caused by a refused network access, and ends the session with a loud banner listing the user-facing
checks that were skipped (browser, offline), so a skip never passes unnoticed.
"""

from __future__ import annotations

import copy
import difflib
import os
import re
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest

from tests.support.offline import CUT, ENV
from tools.notebooks import ROOT, WIDGET, read

SANITIZE_FILE = ROOT / "tests" / "nbval_sanitize.cfg"
RERUN_NAME = "rerun: Restart and Run All again, same folder, another numeric path, same outputs"
CELL_TIMEOUT = 600  # seconds; a notebook should take well under a minute
NOT_COMPARED = {"image/png", "image/jpeg", WIDGET}  # as nbval
NETWORK_ERRORS = re.compile(
    r"Network is unreachable|Temporary failure in name resolution|Name or service not known|"
    r"No address associated with hostname|URLError|gaierror|ConnectionRefusedError|Errno 101"
)
ANSI = re.compile(r"\x1b\[[0-9;]*m")
USER_CHECKS = ("tests/test_browser.py", "tests/test_user_runs.py", "tests/test_site.py", "tests/test_hub.py")


# ------------------------------------------------------------------------------------------------------------
# Shared by the test modules: a check that cannot run here is skipped loudly, and fails under CI
# ------------------------------------------------------------------------------------------------------------


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def cannot_run(reason: str) -> None:
    """Skip with ``reason`` (which should say how to enable the check); under ``CI=true`` fail instead."""
    if under_ci():
        pytest.fail(f"{reason} (CI=true: a check that cannot run is a failure here, not a skip)", pytrace=False)
    pytest.skip(reason)


def network_status() -> str:
    """``cut`` inside tests/support/offline.py's namespace; otherwise a sentence that says why not."""
    status = os.environ.get(ENV)
    if status is None:
        return "not cut: pytest was not started through tests/support/offline.py (`make test` does that)"
    return status


# ------------------------------------------------------------------------------------------------------------
# The second numeric path: what another machine would change
# ------------------------------------------------------------------------------------------------------------


def second_numeric_path(environ=None, cpu_flags: str | None = None) -> dict[str, str]:
    """Return the environment variables that put a kernel on another numeric path than nbval's first run.

    Measured on the 2-core CI machine (tests/test_user_runs.py keeps it true): TensorFlow's reductions over large
    tensors change with 3 intra-op threads (1, 2 and 4 give the same bits there), oneDNN's kernels change its
    softmax, and OpenBLAS' Haswell kernel, single-threaded, changes NumPy's matrix products (the numpy MLP's
    training loss in its 7th digit). The OpenBLAS kernel is one the processor runs and the first run does not use.
    """
    environ = os.environ if environ is None else environ
    flags = set((_cpu_flags() if cpu_flags is None else cpu_flags).split())
    # The kernel OpenBLAS picks by itself (or the one the environment forces), and those this CPU can run.
    first = environ.get("OPENBLAS_CORETYPE") or next(
        (
            kernel
            for flag, kernel in [("avx512f", "SkylakeX"), ("avx2", "Haswell"), ("avx", "Sandybridge")]
            if flag in flags
        ),
        "Nehalem",
    )
    runnable = [
        kernel for flag, kernel in [("avx2", "Haswell"), ("avx", "Sandybridge"), ("sse4_2", "Nehalem")] if flag in flags
    ]
    kernel = next((k for k in [*runnable, "Prescott"] if k.lower() != first.lower()), "Prescott")
    return {
        "TF_NUM_INTRAOP_THREADS": "3",
        "TF_NUM_INTEROP_THREADS": "1",
        "TF_ENABLE_ONEDNN_OPTS": "1",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OPENBLAS_CORETYPE": kernel,
    }


def _cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            return next((line.split(":", 1)[1] for line in info if line.startswith("flags")), "")
    except OSError:  # not Linux: OpenBLAS' Haswell kernel needs AVX2, which every x86-64 CPU since 2013 has
        return "avx2"


# ------------------------------------------------------------------------------------------------------------
# Comparing a fresh run with the saved notebook, the way nbval does
# ------------------------------------------------------------------------------------------------------------


def sanitize_patterns(path: Path = SANITIZE_FILE) -> list[tuple[str, str]]:
    from nbval.plugin import get_sanitize_patterns

    return get_sanitize_patterns(path.read_text(encoding="utf-8")) if path.exists() else []


def is_compared(cell) -> bool:
    """Whether nbval compares this code cell's outputs (no ignore-output or skip marker, a saved run)."""
    from nbval.plugin import find_comment_markers, find_metadata_tags

    options = dict(find_metadata_tags(cell.metadata))
    options.update(find_comment_markers(cell.source))
    return options.get("check", True) and not options.get("skip", False) and cell.execution_count is not None


def compared_outputs(cell, patterns) -> dict[str, list]:
    """A cell's outputs as nbval compares them: streams merged, by key, sanitized, images and tracebacks out."""
    from nbval.plugin import coalesce_streams

    flat = defaultdict(list)
    for output in coalesce_streams(copy.deepcopy(cell.outputs)):
        if output.output_type == "stream":
            items = [(output.name, output.text)]
        elif output.output_type == "error":
            items = [("ename", output.ename), ("evalue", output.evalue)]
        else:
            items = list(output.get("data", {}).items())
        for key, value in items:
            if key not in NOT_COMPARED:
                flat[key].append(_sanitize(value, patterns))
    return dict(flat)


def _sanitize(value, patterns):
    if isinstance(value, list):
        value = "".join(value)
    if isinstance(value, str):
        for regex, replace in patterns:
            value = re.sub(regex, replace, value)
    return value


def output_differences(saved, fresh, patterns, limit: int = 3) -> list[str]:
    """Describe the compared cells whose fresh outputs differ from the saved ones (empty: identical)."""
    problems = []
    old_cells = [c for c in saved.cells if c.cell_type == "code"]
    new_cells = [c for c in fresh.cells if c.cell_type == "code"]
    for number, (old, new) in enumerate(zip(old_cells, new_cells, strict=True)):
        if not is_compared(old):
            continue
        before, after = compared_outputs(old, patterns), compared_outputs(new, patterns)
        if before != after:
            problems.append(f"Cell {number} (id {old.get('id', '?')}):\n{_indent(old.source)}\n{_diff(before, after)}")
        if len(problems) == limit:
            problems.append("(further cells not shown)")
            break
    return problems


def _diff(before: dict, after: dict) -> str:
    def text(outputs):
        return [
            f"[{key}] {line}" for key, values in sorted(outputs.items()) for v in values for line in str(v).splitlines()
        ]

    lines = difflib.unified_diff(text(before), text(after), "saved", "this run", lineterm="", n=2)
    return _indent("\n".join(lines))


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


# ------------------------------------------------------------------------------------------------------------
# Files left behind
# ------------------------------------------------------------------------------------------------------------


def untracked_files() -> set[str] | None:
    """Untracked files outside git-ignored folders, relative to the repository (None: not a git checkout)."""
    try:
        listing = subprocess.run(
            ["git", "ls-files", "--others", "--exclude-standard", "-z"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if listing.returncode != 0:
        return None
    return {name for name in listing.stdout.split("\0") if name}


# ------------------------------------------------------------------------------------------------------------
# The pytest plugin
# ------------------------------------------------------------------------------------------------------------


class RerunItem(pytest.Item):
    """Run the notebook again in a fresh kernel and check what a user would see the second time."""

    def __init__(self, *, notebook, **kwargs):
        super().__init__(**kwargs)
        self.notebook = notebook  # nbval's IPyNbFile collector

    def runtest(self):
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

        from tools import executor

        key = self.notebook.nodeid
        if key in _STATE.failed:
            pytest.skip("nbval's first run of this notebook failed: fix that first")
        path = Path(self.notebook.path)
        saved = read(path)
        fresh = copy.deepcopy(saved)
        try:
            # As nbval, the kernel's own log stays out of the report; unlike nbval's run, another numeric path.
            executor.execute(
                fresh,
                path.parent,
                timeout=CELL_TIMEOUT,
                km=_current_env_kernel(),
                stderr=subprocess.DEVNULL,
                env={**os.environ, **second_numeric_path()},
            )
        except (CellExecutionError, CellTimeoutError, DeadKernelError) as error:
            raise RerunFailure(
                "the second run (fresh kernel, same folder, after nbval's run) stopped with an error. "
                "Files written by the first run are a likely cause: a notebook must run again unchanged "
                f"(overwrite its outputs; do not assume a file is absent).\n\n{ANSI.sub('', str(error))}"
            ) from None
        problems = output_differences(saved, fresh, sanitize_patterns(SANITIZE_FILE))
        if problems:
            raise RerunFailure(
                "a second fresh run, on another numeric path (as on a learner's machine: "
                + " ".join(f"{k}={v}" for k, v in second_numeric_path().items())
                + "), printed different compared outputs than the saved notebook (nbval's first run was compared "
                "with the same reference). Print numbers rounded to what the claim needs (another CPU changes "
                "their last digits; the assert keeps the tolerance), or a coarser statistic where a rounded "
                "number sits on its rounding edge; seed every experiment (utils.course.seed_everything); tag a "
                "cell nbval-ignore-output only if its output legitimately varies (timings, logs).\n\n"
                + "\n\n".join(problems)
            )
        before = _STATE.untracked.get(key)
        after = untracked_files()
        if before is not None and after is not None:
            new = sorted(after - before)
            if new:
                raise RerunFailure(
                    "new untracked files appeared outside git-ignored folders while this notebook ran twice "
                    "(notebooks run two at a time, so another notebook may have written them): "
                    + ", ".join(new)
                    + ". Write files under utils.course.output_dir(...), the git-ignored outputs/ folder."
                )

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, RerunFailure):
            return f"{self.notebook.nodeid}: {excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"{self.notebook.nodeid}::{self.name}"


class RerunFailure(Exception):
    """A failed re-run, with a message that says what to fix."""


def _current_env_kernel():
    """A kernel of the Python running the tests, as ``--nbval-current-env`` starts one."""
    from jupyter_client.manager import KernelManager
    from nbval.kernel import CURRENT_ENV_KERNEL_NAME, NbvalKernelspecManager

    return KernelManager(kernel_name=CURRENT_ENV_KERNEL_NAME, kernel_spec_manager=NbvalKernelspecManager())


class _State:
    def __init__(self):
        self.failed: set[str] = set()  # notebooks (nodeids) with a failed nbval cell
        self.untracked: dict[str, set[str] | None] = {}  # notebook -> untracked files before its first cell
        self.skipped: list[tuple[str, str]] = []  # (nodeid, reason) of skipped user-facing checks


_STATE = _State()  # one per process (the xdist controller and each worker load this plugin)


def pytest_report_header(config):
    status = network_status()
    if status == CUT:
        return "network: cut (tests/support/offline.py: a network namespace with loopback only)"
    return f"network: NOT CUT, {status.removeprefix('not cut: ')}"


def _is_notebook(node) -> bool:
    from nbval.plugin import IPyNbFile

    return isinstance(node, IPyNbFile)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    last = {}
    for index, item in enumerate(items):
        if item.parent is not None and _is_notebook(item.parent):
            last[item.parent] = index
    for notebook, index in sorted(last.items(), key=lambda pair: -pair[1]):
        items.insert(index + 1, RerunItem.from_parent(notebook, name=RERUN_NAME, notebook=notebook))


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    notebook = item.parent
    if notebook is not None and _is_notebook(notebook) and notebook.nodeid not in _STATE.untracked:
        _STATE.untracked[notebook.nodeid] = untracked_files()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and network_status() == CUT and NETWORK_ERRORS.search(report.longreprtext or ""):
        report.sections.append(
            (
                "offline",
                "This run has the network cut (tests/support/offline.py): the failure above looks like a network "
                "access. Notebooks must run offline: no downloads (Keras' dataset loaders download), use utils.data.",
            )
        )
    return report


def pytest_runtest_logreport(report):
    notebook = report.nodeid.split("::")[0]
    if report.failed and notebook.endswith(".ipynb"):
        _STATE.failed.add(notebook)
    if report.skipped and report.nodeid.startswith(USER_CHECKS):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _STATE.skipped.append((report.nodeid, reason.removeprefix("Skipped: ")))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    lines = [f"{nodeid}: {reason}" for nodeid, reason in _STATE.skipped]
    if network_status() != CUT:
        lines.insert(0, f"this session ran WITH the network: it is {network_status()}")
    if lines:
        terminalreporter.section("NOT TESTED: user-facing checks that were skipped", sep="!", yellow=True, bold=True)
        for line in lines:
            terminalreporter.line(line, yellow=True, bold=True)
