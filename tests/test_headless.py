"""Headless runs never hang: every notebook execution goes through the course's executor (tools/executor.py).

nbclient, as it comes, emulates the ipywidgets Output widget and writes its state back to the kernel on the channel
it uses to run cells; now and then a run then stalls after an explorer cell, the kernel idle
(jupyter/nbclient#312). The executor replaces that emulation by a stand-in that never writes to the kernel. Here:
nothing else in tools/ or tests/ builds a ``NotebookClient``; the stand-in keeps what an explorer draws out of the
cell (as JupyterLab does) without a message to the kernel; and every chapter's explorer cells run headless several
times in a row, each within its timeout.
"""

from __future__ import annotations

import copy
import re

import nbformat
import pytest

from tests.support.notebooks import CHAPTERS, ROOT, SETUP_SOURCE, code_cells, read
from tools import executor
from tools.notebooks import WIDGET

REPEATS = 3  # each chapter's explorers, one after the other, in one fresh kernel (kept cheap: about 30 s idle)
CELL_TIMEOUT_S = 120  # far above an explorer cell's second or two: reaching it means a hang
# Explorers that read what their chapter computed above them (a sweep over seeds) are called here on their own
# defaults, computed in a few seconds, instead of the chapter's cell: the same widget, drawn the same way.
OWN_CALLS = {
    "06": "from utils.widgets import explore_transfer\n\nexplore_transfer()",
    "07": "from utils.widgets import explore_pretraining\n\nexplore_pretraining()",
    # It opens on the exploding set-up: that one's broken and fixed runs, not all seven set-ups (about 20 s).
    "08": "from utils.capstone import run_setup\nfrom utils.widgets import explore_capstone\n\n"
    'explore_capstone({"exploding": {v: run_setup("exploding", v, 0) for v in ("broken", "fixed")}})',
}
EXPLORE = re.compile(r"\bexplore_\w+(?=\()")


def explorer_cells(path) -> list:
    """Return the chapter's explorer cells: they display an ``explore_*`` widget (tagged nbval-ignore-output)."""
    return [
        cell
        for cell in code_cells(read(path))
        if EXPLORE.search(cell.source) and "nbval-ignore-output" in cell.metadata.get("tags", [])
    ]


def explorer_sources(path) -> list[str]:
    """Return the code that shows the chapter's explorers headless: its explorer cells, or its entry in OWN_CALLS."""
    sources = [cell.source for cell in explorer_cells(path)]
    own = OWN_CALLS.get(path.name[:2])
    return [own] if own and sources else sources


def explorers_notebook() -> nbformat.NotebookNode:
    """Return a notebook: the setup cell, then each chapter's explorers, each ``REPEATS`` times."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = copy.deepcopy(read(CHAPTERS[0]).metadata)
    nb.cells = [nbformat.v4.new_code_cell(SETUP_SOURCE)]
    for path in CHAPTERS:
        for _ in range(REPEATS):
            for source in explorer_sources(path):
                nb.cells.append(nbformat.v4.new_code_cell(source, metadata={"chapter": path.name[:2]}))
    return nb


def test_every_chapter_from_01_has_an_explorer_cell():
    missing = [path.name for path in CHAPTERS if path.name[:2] != "00" and not explorer_cells(path)]
    assert not missing, f"no explorer cell (an explore_* call tagged nbval-ignore-output) found in {missing}"


def test_own_calls_show_the_explorer_their_chapter_shows():
    for number, source in OWN_CALLS.items():
        (path,) = [p for p in CHAPTERS if p.name.startswith(number)]
        shown = {name for cell in explorer_cells(path) for name in EXPLORE.findall(cell.source)}
        assert set(EXPLORE.findall(source)) <= shown, f"{path.name} shows {shown}: update OWN_CALLS[{number!r}]"


def test_nothing_runs_a_notebook_but_the_course_executor():
    """A ``NotebookClient`` (or nbconvert's ``ExecutePreprocessor``, the same client) only in tools/executor.py."""
    pattern = re.compile(r"\b(NotebookClient|ExecutePreprocessor)\s*\(|from nbclient import|nbclient\.execute\(")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("tools", "tests", "utils")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path.name != "executor.py" and path != ROOT / "tests" / "test_headless.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line) and "nbclient.exceptions" not in line
    ]
    assert not offenders, f"run notebooks with tools/executor.py (`from tools import executor`): {offenders}"


class _NoKernel:
    """A kernel client whose channels fail on any message: the stand-in must never send one."""

    def __getattr__(self, name):
        raise AssertionError(f"the Output widget stand-in used the kernel client ({name})")


def _comm(comm_id: str, state: dict, msg_type: str = "comm_msg", parent: str = "cell") -> dict:
    data = {"state": state, "buffer_paths": []}
    if msg_type == "comm_open":
        data["state"] = {"_model_module": "@jupyter-widgets/output", "_model_name": "OutputModel", **state}
    content = {"comm_id": comm_id, "data": data, "target_name": "jupyter.widget"}
    return {"msg_type": msg_type, "content": content, "parent_header": {"msg_id": parent}, "header": {}}


def test_the_output_widget_stand_in_keeps_explorer_drawings_out_of_the_cell_and_never_talks_to_the_kernel():
    client = executor.client(nbformat.v4.new_notebook(), ROOT)
    assert client.widget_registry[executor.OUTPUT_WIDGET] == {"OutputModel": executor.SilentOutputWidget}
    client.kc, client.clear_before_next_output = _NoKernel(), False  # as at the start of a cell
    outs: list = []
    client.handle_comm_msg(outs, _comm("w1", {"msg_id": "", "outputs": []}, "comm_open"), 0)
    client.handle_comm_msg(outs, _comm("w1", {"msg_id": "cell"}), 0)  # the kernel starts drawing into the widget
    figure = {"data": {"image/png": "iVBO"}, "metadata": {}, "transient": {}}
    header = {"msg_type": "display_data"}
    drawn = {"msg_type": "display_data", "content": figure, "parent_header": {"msg_id": "cell"}, "header": header}
    client.output(outs, drawn, None, 0)
    clear = {"msg_type": "clear_output", "content": {"wait": True}, "parent_header": {"msg_id": "cell"}, "header": {}}
    client.clear_output(outs, clear, 0)
    assert outs == [], "what the kernel drew into the Output widget reached the cell"
    client.handle_comm_msg(outs, _comm("w1", {"msg_id": ""}), 0)  # drawing done: later outputs belong to the cell
    client.output(outs, drawn, None, 0)
    assert len(outs) == 1 and outs[0].output_type == "display_data"


def test_explorer_cells_run_headless_again_and_again():
    from nbclient.exceptions import CellTimeoutError

    nb = explorers_notebook()
    try:
        seconds = executor.execute(nb, ROOT / "chapters", timeout=CELL_TIMEOUT_S)
    except CellTimeoutError as error:
        pytest.fail(f"a headless run hung at an explorer cell (no reply within {CELL_TIMEOUT_S} s): {error}")
    explorers = nb.cells[1:]
    assert len(explorers) >= REPEATS * (len(CHAPTERS) - 1)
    for cell in nb.cells:
        kinds = [output.output_type for output in cell.outputs]
        assert "error" not in kinds, f"chapter {cell.metadata.get('chapter')}: {cell.source!r} raised"
    for cell in explorers:
        shown = [output for output in cell.outputs if WIDGET in output.get("data", {})]
        assert len(shown) == 1, f"chapter {cell.metadata['chapter']}: {cell.source!r} showed no widget"
        assert not any("image/png" in output.get("data", {}) for output in cell.outputs), "a figure left the widget"
    print(f"{len(explorers)} explorer cells in {seconds:.1f} s")


def test_the_bench_times_compute_from_the_setup_cell_and_sums_chapters_01_to_06(monkeypatch, capsys):
    from tools import bench

    nb = nbformat.v4.new_notebook()
    for second, source in [(3, "import os"), (8, SETUP_SOURCE), (9, "f()"), (14, "g()")]:
        nb.cells.append(nbformat.v4.new_code_cell(source))
        nb.cells[-1].metadata["execution"] = {"iopub.status.idle": f"2026-01-01T00:00:{second:02d}.500000Z"}
    assert bench.compute_time(nb) == 6.0  # from the end of setup() to the end of the last cell
    six = [path for path in CHAPTERS if "01" <= path.name[:2] <= "06"]
    monkeypatch.setattr(bench, "bench_notebook", lambda path: {"wall_s": 21.0, "compute_s": 15.0, "peak_mib": 1.0})
    monkeypatch.setattr(bench, "time_tensorflow_import", lambda: 1.0)
    monkeypatch.setattr(bench, "time_glyphs", lambda: 0.1)
    monkeypatch.setattr(bench, "compute_functions", lambda: [])
    for key, value in bench.QUIET_TF.items():  # bench.main sets them: restored after the test
        monkeypatch.setenv(key, value)
    assert bench.main([str(path) for path in six]) == 1
    (line,) = [line for line in capsys.readouterr().out.splitlines() if line.startswith("chapters 01-06 together")]
    assert line.split()[3:9] == ["126.0", "s", "90.0", "s", "120", "s"] and "OVER BUDGET" in line
