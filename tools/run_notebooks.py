"""Execute notebooks top to bottom in fresh kernels and save them with their outputs (execution counts 1..n).

Usage: python tools/run_notebooks.py chapters/01_vanishing_exploding_gradients.ipynb [more.ipynb ...]
       python tools/run_notebooks.py --all        (every notebook in chapters/ and solutions/)

Each notebook runs with its own folder as the working directory, as in JupyterLab, and prints its wall time.
It runs through the course's executor (tools/executor.py), which never hangs at an explorer cell the way plain
`jupyter nbconvert --execute` can (see its docstring); a cell that runs over the timeout fails the run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

if not __package__:  # run as `python tools/run_notebooks.py`: import `tools` from the course folder, as `-m` does
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.executor import CELL_TIMEOUT_S, execute_file  # noqa: E402
from tools.notebooks import WIDGET, course_notebooks  # noqa: E402


def execute(path: Path, timeout: int = CELL_TIMEOUT_S) -> float:
    """Run ``path`` in a fresh kernel, save it in place and return the wall time in seconds."""
    # No timing metadata: timestamps would change every saved notebook on every run.
    nb, elapsed = execute_file(path, timeout=timeout, record_timing=False)
    nb.metadata.pop("widgets", None)  # widget state is view-only and changes on every run
    nbformat.write(with_widget_hints(nb), path)
    return elapsed


WIDGET_HINT = "Interactive widget: run this cell (and the cells above it) in JupyterLab to use it."


def with_widget_hints(nb):
    """Replace the saved text of widget outputs (``VBox(children=...)``) by a hint to run the cell.

    Widget state is not saved, so a reader who opens the notebook without running it (or views it on GitHub)
    sees this text instead of a widget: tell them what to do rather than print a widget's repr.
    """
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if WIDGET in output.get("data", {}):
                output["data"]["text/plain"] = WIDGET_HINT
    return nb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--all", action="store_true", help="every notebook in chapters/ and solutions/")
    args = parser.parse_args(argv)
    paths = list(args.notebooks)
    if args.all:
        paths += course_notebooks()
    if not paths:
        parser.error("name notebooks to run, or pass --all")
    for path in paths:
        print(f"{execute(path.resolve()):6.1f} s  {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
