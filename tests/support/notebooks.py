"""The course's notebooks as the tests see them: every file in each folder (a misnamed one too), read with nbformat."""

from __future__ import annotations

import re

from tools.notebooks import ROOT, course_notebooks, read  # noqa: F401 (read: the tests' one notebook reader)

# Every .ipynb, not only NN_*.ipynb: the structure tests must see a misnamed notebook to fail on it.
CHAPTERS = course_notebooks(ROOT, ("chapters",), "*.ipynb")
SOLUTIONS = course_notebooks(ROOT, ("solutions",), "*.ipynb")
EXERCISES = course_notebooks(ROOT, ("exercises",), "*.ipynb")
EXECUTED = CHAPTERS + SOLUTIONS
ALL_NOTEBOOKS = EXECUTED + EXERCISES
NAME = re.compile(r"^(\d\d)_[a-z0-9_]+\.ipynb$")
SETUP_SOURCE = "from utils.course import setup\n\nsetup()"


def code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def markdown(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def ids(paths) -> list[str]:
    return [f"{p.parent.name}/{p.name}" for p in paths]
