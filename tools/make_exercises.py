"""Write the exercise notebooks from the solution notebooks: solutions/NN_*.ipynb -> exercises/NN_*.ipynb.

Usage: python tools/make_exercises.py           (or ``make exercises``) write exercises/ from solutions/
       python tools/make_exercises.py --check   exit 1, naming the files, when exercises/ is out of step

In each code cell, every region from a line ``### BEGIN SOLUTION`` to a line ``### END SOLUTION`` (any
indentation) is replaced, at the BEGIN line's indentation, by a placeholder that still runs:

- ``...`` when the region is indented (a function body: the function then returns None);
- at top level, ``NAME = None  # your code here`` for each ``NAME = ...`` (tuple targets too), ``def NAME`` or
  ``class NAME`` statement of the region, else ``# your code here`` and ``...``.

Outputs, execution counts, execution timings and ``metadata.widgets`` are dropped; "(solutions)" in the title
line becomes "(exercises)"; everything else (cell ids, tags, text) is kept as it is, so diffs stay small.
The output is deterministic: running this twice changes nothing.

The solution regions are also written, per exercise, to ``utils/checks/solutions.json`` (package data: what
``q.solution()`` prints). A region belongs to the exercise whose check (``chNN.qK.check(``) comes next in the
notebook; an indented region is shown under the lines that enclose it (its ``def`` line), without its docstring.

Learners' edits are never lost. ``exercises/.generated.json`` records a hash of each notebook as it was last
written. An exercise notebook that differs from that record (edited in JupyterLab, say) is moved to the
git-ignored ``exercises/.backup/NAME.<timestamp>.ipynb`` before the fresh one is written, and the backup's
path is printed (JupyterLab does not open files in dot-folders: copy it to e.g. ``exercises/my_NAME.ipynb``;
names that do not start with two digits are the learner's own, and the generator leaves them alone)."""

from __future__ import annotations

import argparse
import ast
import copy
import hashlib
import json
import re
import sys
import textwrap
from datetime import datetime
from pathlib import Path

if not __package__:  # run as `python tools/make_exercises.py`: import `tools` from the course folder, as `-m` does
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.notebooks import NOTEBOOK_GLOB, ROOT, render  # noqa: E402

MANIFEST = ".generated.json"
BACKUP_DIR = ".backup"
BEGIN = re.compile(r"^(?P<indent>[ \t]*)### BEGIN SOLUTION[ \t]*$")
END = re.compile(r"^[ \t]*### END SOLUTION[ \t]*$")
TODO = "# your code here"
TITLE_FROM, TITLE_TO = "(solutions)", "(exercises)"
SOLUTIONS_FILE = Path("utils") / "checks" / "solutions.json"  # managed only in a root that has utils/checks/
CHECK_CALL = re.compile(r"\bch(\d\d)\.(q\d+)\.check\(")
RUN_METADATA = ("execution", "ExecuteTime")  # per-cell timings written by nbclient and JupyterLab extensions


class MarkerError(ValueError):
    """A ``### BEGIN SOLUTION`` without its ``### END SOLUTION``, or the other way round."""


# ------------------------------------------------------------------------------------------------------------
# From a solution cell to an exercise cell
# ------------------------------------------------------------------------------------------------------------


def strip_solutions(source: str, where: str = "cell") -> str:
    """Return ``source`` with each solution region replaced by its placeholder."""
    lines = source.split("\n")
    out: list[str] = []
    region: list[str] | None = None
    indent = ""
    for number, line in enumerate(lines, start=1):
        begin = BEGIN.match(line)
        if begin:
            if region is not None:
                raise MarkerError(f"{where}, line {number}: '### BEGIN SOLUTION' inside another region")
            region, indent = [], begin["indent"]
        elif END.match(line):
            if region is None:
                raise MarkerError(f"{where}, line {number}: '### END SOLUTION' without '### BEGIN SOLUTION'")
            out.extend(placeholder(region, indent))
            region = None
        elif region is not None:
            region.append(line)
        else:
            out.append(line)
    if region is not None:
        raise MarkerError(f"{where}: '### BEGIN SOLUTION' without '### END SOLUTION'")
    return "\n".join(out)


def placeholder(region: list[str], indent: str) -> list[str]:
    """Return the lines that replace a solution ``region`` whose BEGIN line is indented by ``indent``."""
    if indent:
        return [f"{indent}..."]
    names = assigned_names("\n".join(region))
    if names:
        return [f"{name} = None  {TODO}" for name in names]
    return [TODO, "..."]


def assigned_names(code: str) -> list[str]:
    """Return the names that the top-level statements of ``code`` bind (assignments, def, class), in order."""
    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:  # e.g. IPython magics: fall back to the generic placeholder
        return []
    names: list[str] = []
    for statement in tree.body:
        if isinstance(statement, ast.Assign):
            targets = statement.targets
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            targets = [statement.target]
        elif isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(statement.name)
            continue
        else:
            continue
        for target in targets:
            names.extend(_target_names(target))
    return list(dict.fromkeys(names))  # unique, first occurrence first


def _target_names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple | ast.List):
        return [name for element in target.elts for name in _target_names(element)]
    if isinstance(target, ast.Starred):
        return _target_names(target.value)
    return []  # x[0] = ..., obj.attr = ...: nothing new to define


# ------------------------------------------------------------------------------------------------------------
# From a solution notebook to an exercise notebook (plain JSON, so nothing but what we change changes)
# ------------------------------------------------------------------------------------------------------------


def make_exercise(solution: dict, where: str = "notebook") -> dict:
    """Return the exercise notebook (a JSON dict) made from a solution notebook's JSON dict."""
    nb = copy.deepcopy(solution)
    nb.get("metadata", {}).pop("widgets", None)
    for index, cell in enumerate(nb.get("cells", [])):
        for key in RUN_METADATA:
            cell.get("metadata", {}).pop(key, None)
        if cell.get("cell_type") != "code":
            continue
        cell["outputs"] = []
        cell["execution_count"] = None
        source = _text(cell.get("source", ""))
        stripped = strip_solutions(source, f"{where}, cell {cell.get('id', index)}")
        if stripped != source:
            cell["source"] = _lines(stripped)
    _retitle(nb)
    return nb


def _retitle(nb: dict) -> None:
    """Say "(exercises)" where the first markdown cell's first line says "(solutions)"."""
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            first, sep, rest = _text(cell.get("source", "")).partition("\n")
            if TITLE_FROM in first:
                cell["source"] = _lines(first.replace(TITLE_FROM, TITLE_TO) + sep + rest)
            return


def _text(source) -> str:
    return "".join(source) if isinstance(source, list) else source


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def exercise_text(solution_path: Path) -> str:
    """Return the exercise notebook's text for one solution notebook."""
    solution = json.loads(_read(solution_path))
    return render(make_exercise(solution, where=solution_path.name))


# ------------------------------------------------------------------------------------------------------------
# The solution texts that ``q.solution()`` prints, one per exercise
# ------------------------------------------------------------------------------------------------------------


def solution_chunks(source: str) -> list[tuple[int, str]]:
    """Return (line index of its END, text) for each solution region of a cell, under its enclosing lines."""
    lines = source.split("\n")
    chunks, start = [], None
    for number, line in enumerate(lines):
        if BEGIN.match(line):
            start = number
        elif END.match(line) and start is not None:
            header = _enclosing(lines, start, len(BEGIN.match(lines[start])["indent"]))
            chunks.append((number, "\n".join(header + lines[start + 1 : number]).rstrip()))
            start = None
    return chunks


def _enclosing(lines: list[str], start: int, indent: int) -> list[str]:
    """Return the lines that open the blocks around line ``start`` (a ``def`` line, ...), outermost first."""
    header: list[str] = []
    for line in reversed(lines[:start]):
        width = len(line) - len(line.lstrip())
        if line.strip() and width < indent and not line.lstrip().startswith(("#", '"', "'")):
            header.insert(0, line)
            indent = width
        if indent == 0:
            break
    return header


def _join(chunks: list[str]) -> str:
    """Join a question's chunks as code is written: two blank lines around a function, none between statements."""
    text = ""
    for chunk in chunks:
        opens = chunk.lstrip().startswith(("def ", "class ", "@"))
        if text:
            text += "\n\n\n" if opens or text.lstrip().startswith(("def ", "class ", "@")) else "\n"
        text += chunk
    return text


def solution_texts(solution: dict, chapter: str) -> dict[str, str]:
    """Return {"chNN.qK": solution text} of one solution notebook (JSON dict): each region goes to the next check."""
    texts: dict[str, list[str]] = {}
    pending: list[str] = []
    for cell in solution.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        source = _text(cell.get("source", ""))
        chunks = solution_chunks(source)  # each is pending from its END line on
        for number, line in enumerate(source.split("\n")):
            pending.extend(text for end, text in chunks if end == number)
            for found in CHECK_CALL.finditer(line):
                if found[1] == chapter[2:] and pending:
                    texts.setdefault(f"{chapter}.{found[2]}", []).extend(pending)
                    pending = []
    return {key: _join(chunks) for key, chunks in texts.items()}


def expected_solutions(root: Path) -> str | None:
    """Return the text of ``utils/checks/solutions.json`` for ``root`` (None where it has no utils/checks/)."""
    if not (root / SOLUTIONS_FILE).parent.is_dir():
        return None
    texts: dict[str, str] = {}
    for path in sorted((root / "solutions").glob(NOTEBOOK_GLOB)):
        texts |= solution_texts(json.loads(_read(path)), f"ch{path.name[:2]}")
    about = "Written by tools/make_exercises.py from the solution regions of solutions/*.ipynb: do not edit."
    return json.dumps({"about": about, "solutions": texts}, indent=1, ensure_ascii=False) + "\n"


def stale_solutions(root: Path) -> str | None:
    """Return the text ``utils/checks/solutions.json`` should hold when the file differs from it, else None."""
    text = expected_solutions(root)
    path = root / SOLUTIONS_FILE
    return text if text is not None and not (path.exists() and _read(path) == text) else None


# ------------------------------------------------------------------------------------------------------------
# The folder: write, check, and keep learners' edits
# ------------------------------------------------------------------------------------------------------------


def digest(text: str) -> str:
    """Return the SHA-256 of ``text``, line endings normalized (a Windows checkout must not look edited)."""
    return hashlib.sha256(text.replace("\r\n", "\n").encode("utf-8")).hexdigest()


def expected_exercises(root: Path) -> dict[str, str]:
    """Return {exercise file name: its text} for every solution notebook under ``root``."""
    return {path.name: exercise_text(path) for path in sorted((root / "solutions").glob(NOTEBOOK_GLOB))}


def _read(path: Path) -> str:
    """Return a file's text; bytes that are not UTF-8 (a damaged file) still give a text, and a hash."""
    return path.read_bytes().decode("utf-8", errors="replace")


def read_manifest(exercises: Path) -> dict[str, str]:
    try:
        return dict(json.loads(_read(exercises / MANIFEST)).get("files", {}))
    except (OSError, ValueError, AttributeError):
        return {}


def manifest_text(hashes: dict[str, str]) -> str:
    about = "Written by tools/make_exercises.py: the SHA-256 of each exercise notebook as last generated."
    return json.dumps({"about": about, "files": dict(sorted(hashes.items()))}, indent=1) + "\n"


def problems(root: Path) -> list[str]:
    """Return one line per exercise file that is out of step with ``solutions/`` (empty: all in step)."""
    exercises = root / "exercises"
    expected = expected_exercises(root)
    recorded = read_manifest(exercises)
    found = []
    for name, text in expected.items():
        path = exercises / name
        if not path.exists():
            found.append(f"exercises/{name}: missing")
        elif digest(_read(path)) != digest(text):
            edited = recorded.get(name) == digest(text)
            why = "edited since it was generated" if edited else "out of step with solutions/" + name
            found.append(f"exercises/{name}: {why}")
    for path in sorted(exercises.glob(NOTEBOOK_GLOB)):
        if path.name not in expected:
            found.append(f"exercises/{path.name}: no solutions/{path.name} to generate it from")
    hashes = {name: digest(text) for name, text in expected.items()}
    manifest = exercises / MANIFEST
    in_step = manifest.exists() and _read(manifest) == manifest_text(hashes)
    if not in_step and (expected or manifest.exists()):
        found.append(f"exercises/{MANIFEST}: out of step")
    if stale_solutions(root) is not None:
        found.append(f"{SOLUTIONS_FILE.as_posix()}: out of step with solutions/")
    return found


def generate(root: Path, *, stamp: str | None = None) -> list[str]:
    """Write ``exercises/`` from ``solutions/`` under ``root``; return what was done, one line per change."""
    exercises = root / "exercises"
    exercises.mkdir(exist_ok=True)
    expected = expected_exercises(root)
    recorded = read_manifest(exercises)
    stamp = stamp or datetime.now().strftime("%Y%m%d-%H%M%S")
    done = []
    for name, text in expected.items():
        path = exercises / name
        if path.exists():
            on_disk = digest(_read(path))
            if on_disk == digest(text):
                continue
            if on_disk != recorded.get(name):
                backup = _backup(path, stamp).relative_to(root).as_posix()
                done.append(f"exercises/{name} had changes: kept them in {backup}")
                done.append(f"  (JupyterLab hides dot-folders; to open it: cp {backup} exercises/my_{name})")
        path.write_text(text, encoding="utf-8", newline="\n")
        done.append(f"wrote exercises/{name}")
    for path in sorted(exercises.glob(NOTEBOOK_GLOB)):
        if path.name in expected or path.name not in recorded:
            continue  # a learner's own notebook is left alone
        if digest(_read(path)) == recorded[path.name]:
            path.unlink()
            done.append(f"removed exercises/{path.name}: its solution notebook is gone")
        else:
            backup = _backup(path, stamp).relative_to(root).as_posix()
            done.append(f"moved exercises/{path.name} (its solution is gone; it had changes) to {backup}")
    manifest = manifest_text({name: digest(text) for name, text in expected.items()})
    manifest_path = exercises / MANIFEST
    if not manifest_path.exists() or _read(manifest_path) != manifest:
        manifest_path.write_text(manifest, encoding="utf-8", newline="\n")
        done.append(f"wrote exercises/{MANIFEST}")
    solutions = stale_solutions(root)
    if solutions is not None:
        (root / SOLUTIONS_FILE).write_text(solutions, encoding="utf-8", newline="\n")
        done.append(f"wrote {SOLUTIONS_FILE.as_posix()}")
    return done


def _backup(path: Path, stamp: str) -> Path:
    """Move ``path`` into the backup folder under a name that does not exist yet; return the new path."""
    folder = path.parent / BACKUP_DIR
    folder.mkdir(exist_ok=True)
    target = folder / f"{path.stem}.{stamp}{path.suffix}"
    counter = 1
    while target.exists():
        target = folder / f"{path.stem}.{stamp}-{counter}{path.suffix}"
        counter += 1
    return path.rename(target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when exercises/ is stale")
    parser.add_argument("--root", type=Path, default=ROOT, help="the course folder (default: this checkout)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    try:
        if args.check:
            found = problems(root)
            for line in found:
                print(line)
            if found:
                print("exercises/ is out of step with solutions/: run `make exercises` (it backs up edits).")
                return 1
            print("exercises/ is in step with solutions/.")
            return 0
        done = generate(root)
    except MarkerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for line in done:
        print(line)
    if not done:
        print("exercises/ was already in step with solutions/: nothing to do.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
