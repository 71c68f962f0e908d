"""The course's one way to run a notebook headless: nbclient's ``NotebookClient``, made safe for the explorers.

Every tool and test that executes notebooks goes through here (tools/run_notebooks.py, tools/bench.py,
tests/test_exercises.py, the re-run in tests/support/user_runs.py, tests/test_headless.py), imported as
``from tools import executor``; tests/test_headless.py checks that nothing else builds a ``NotebookClient``.

Why not nbclient as it comes: it emulates the ipywidgets Output widget, which every explorer draws into
(``interactive_output``), and the emulation writes the widget's new state back to the kernel on the shell channel
while the client itself sends and awaits messages on that channel. Now and then a run then stalls after an explorer
cell with the kernel idle (jupyter/nbclient#312, jupyter/nbconvert#2029). Measured on chapter 03 (2-core machine):
plain ``jupyter nbconvert --execute`` stalled right after ``show(explore_activations())`` in 3 of 13 runs, the next
cell reaching the kernel only when the cell timeout ran out (299 s twice with a 300 s timeout, 59 s with 60 s;
without a timeout it waits forever), while this executor finished 25 runs of 25 without a stall (28-173 s each,
under load 1-7).

Here that emulation is turned off: the Output widget's entry in the client's widget registry is replaced by a
stand-in that never writes to the kernel. It only keeps what an explorer draws out of the cell's own outputs, as
JupyterLab does (the figure belongs inside the widget), so that a notebook saved by this executor shows what it
showed before: the widget (with a hint to run it), and the static figure that the chapter draws in the next cell.
A cell that still never reports back fails the run after ``CELL_TIMEOUT_S`` instead of waiting forever.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

OUTPUT_WIDGET = "@jupyter-widgets/output"  # nbclient's widget_registry key for its Output widget emulation
CELL_TIMEOUT_S = 600  # per cell: a cell that never reports back fails the run instead of waiting forever


class SilentOutputWidget:
    """Stand-in for the ipywidgets Output widget: take what is drawn into it out of the cell; never reply.

    nbclient calls ``handle_msg`` with the widget's state changes (``msg_id`` set while the kernel draws into it),
    then ``output`` / ``clear_output`` for every message the kernel sends meanwhile; nothing goes back to the kernel.
    """

    def __init__(self, comm_id, state, kernel_client, executor):
        self.executor, self.msg_id = executor, None

    def handle_msg(self, msg) -> None:
        state = msg["content"]["data"].get("state", {})
        if "msg_id" not in state:
            return
        hooks = self.executor.output_hook_stack[self.msg_id] if self.msg_id else []
        if self in hooks:
            hooks.remove(self)
        self.msg_id = state["msg_id"] or None
        if self.msg_id:
            self.executor.register_output_hook(self.msg_id, self)

    def output(self, outs, msg, display_id, cell_index) -> None:
        """Drop an output drawn into the widget (the saved notebook keeps no widget state)."""

    def clear_output(self, outs, msg, cell_index) -> None:
        """Ignore a clear of the widget's own outputs."""


class CourseNotebookClient(NotebookClient):
    """A ``NotebookClient`` whose Output widget never writes to the kernel (see the module docstring)."""

    def __init__(self, nb, km=None, **kwargs):
        super().__init__(nb, km=km, **kwargs)
        self.widget_registry = {**self.widget_registry, OUTPUT_WIDGET: {"OutputModel": SilentOutputWidget}}


def client(nb, folder: Path | str, *, timeout: int = CELL_TIMEOUT_S, **kwargs) -> CourseNotebookClient:
    """Return a client that runs ``nb`` in a fresh kernel with ``folder`` as its working directory (as in JupyterLab).

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The notebook; its cells receive the outputs.
    folder : path
        The kernel's working directory: the notebook's own folder, as JupyterLab does.
    timeout : int
        Seconds one cell may run before the run fails (``CellTimeoutError``).
    **kwargs
        Passed to ``NotebookClient`` (``km``, ``kernel_name``, ``record_timing``, ...).
    """
    kwargs.setdefault("kernel_name", "python3")
    return CourseNotebookClient(nb, timeout=timeout, resources={"metadata": {"path": str(folder)}}, **kwargs)


def execute(nb, folder: Path | str, *, timeout: int = CELL_TIMEOUT_S, env=None, stderr=None, **kwargs) -> float:
    """Run every cell of ``nb`` (in place) in a fresh kernel working in ``folder``; return the wall time in seconds.

    ``env`` and ``stderr`` go to the kernel's process (e.g. another numeric path, or the kernel's log silenced);
    other keyword arguments go to :func:`client`. Errors are nbclient's (``CellExecutionError``, ``CellTimeoutError``,
    ``DeadKernelError``).
    """
    runner = client(nb, folder, timeout=timeout, **kwargs)
    start_kwargs = {key: value for key, value in (("env", env), ("stderr", stderr)) if value is not None}
    start = time.perf_counter()
    runner.execute(**start_kwargs)
    return time.perf_counter() - start


def execute_file(path: Path | str, *, folder: Path | str | None = None, **kwargs):
    """Read the notebook at ``path``, run it (in its own folder unless ``folder`` is given); return (nb, seconds)."""
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    return nb, execute(nb, folder or path.parent, **kwargs)
