"""Where the course's notebooks are, and how the tools read and write them: the one place for both.

Every tool takes the course folder, the notebook folders and the title cell from here, and so do the tests
(``from tools.notebooks import ROOT``). A tool run as a script (``python tools/NAME.py``) has only tools/ on its
path: before importing this module it puts the course folder there too, as ``python -m tools.NAME`` would.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXECUTED = ("chapters", "solutions")  # executed, outputs committed (exercises/ are generated from solutions/)
FOLDERS = ("chapters", "exercises", "solutions")  # every notebook of the course; the chapters lead
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"  # a course notebook: NN_topic.ipynb (other names are a learner's own)
WIDGET = "application/vnd.jupyter.widget-view+json"  # a widget's output (its view; the state is not saved)
TIME_LINE = re.compile(r"\*\*Time:\*\*(?P<line>[^\n]*)")


def course_notebooks(
    root: Path = ROOT, folders: tuple[str, ...] = EXECUTED, pattern: str = NOTEBOOK_GLOB
) -> list[Path]:
    """Return the notebooks in ``folders`` under ``root``, folder by folder, each in course order (the NN prefix)."""
    return [path for folder in folders for path in sorted((root / folder).glob(pattern))]


def read(path: Path | str):
    """Return the notebook at ``path`` as an ``nbformat.NotebookNode`` (version 4)."""
    import nbformat

    return nbformat.read(path, as_version=4)


def read_json(path: Path) -> dict:
    """Return the notebook at ``path`` as plain JSON (a tool that writes it back changes nothing else)."""
    return json.loads(path.read_text(encoding="utf-8"))


def render(nb: dict) -> str:
    """Return ``nb`` serialized the way nbformat writes notebooks (sorted keys, one-space indent)."""
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def write_json(path: Path, nb: dict) -> None:
    """Write ``nb`` to ``path`` in nbformat's layout, with Unix line ends on every platform."""
    path.write_text(render(nb), encoding="utf-8", newline="\n")


def source(cell: dict) -> str:
    """Return a cell's source as one string (plain JSON may hold it as a list of lines)."""
    text = cell.get("source", "")
    return "".join(text) if isinstance(text, list) else text


def title_cell(nb: dict) -> str:
    """Return the source of the notebook's first markdown cell (its title cell; empty when it has none)."""
    return next((source(cell) for cell in nb.get("cells", []) if cell.get("cell_type") == "markdown"), "")


def title_line(nb: dict) -> str:
    """Return the title cell's first line without its '#' marks, e.g. ``01 · Vanishing and exploding gradients``."""
    lines = title_cell(nb).strip().splitlines()
    return lines[0].lstrip("#").strip() if lines else ""


def time_line(nb: dict) -> str:
    """Return the text after the title cell's ``**Time:**`` (empty when it has none)."""
    found = TIME_LINE.search(title_cell(nb))
    return found["line"].strip() if found else ""
