"""Write a notebook from a percent-format script (``# %%`` code cells, ``# %% [markdown]`` text cells).

Usage: python tools/percent_to_ipynb.py source.py target.ipynb

An authoring aid for maintainers: write a chapter as a plain script, convert it, then execute it with
``tools/run_notebooks.py``. A cell header may carry tags: ``# %% tags=["nbval-ignore-output"]``.
In markdown cells, each line's leading ``# `` is removed.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat

HEADER = re.compile(r"^# %%(?P<md> \[markdown\])?(?:\s+tags=(?P<tags>\[.*\]))?\s*$")


def convert(text: str) -> nbformat.NotebookNode:
    """Return a notebook built from percent-format ``text``."""
    cells, current = [], None
    for line in text.splitlines():
        match = HEADER.match(line)
        if match:
            current = {"md": bool(match["md"]), "tags": json.loads(match["tags"] or "[]"), "lines": []}
            cells.append(current)
        elif current is not None:
            current["lines"].append(line)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    for cell in cells:
        source = "\n".join(cell["lines"]).strip("\n")
        if cell["md"]:
            source = "\n".join(re.sub(r"^# ?", "", ln) for ln in source.splitlines())
            new = nbformat.v4.new_markdown_cell(source)
        else:
            new = nbformat.v4.new_code_cell(source)
        if cell["tags"]:
            new.metadata["tags"] = cell["tags"]
        new.pop("id", None)
        cells_id = f"c{len(nb.cells):03d}"
        new["id"] = cells_id
        nb.cells.append(new)
    return nb


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__)
        return 2
    source, target = map(Path, argv)
    nbformat.write(convert(source.read_text(encoding="utf-8")), target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
