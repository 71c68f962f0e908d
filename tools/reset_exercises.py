"""Give a class fresh exercise notebooks: learners' notebooks are moved aside, never deleted.

Usage: python tools/reset_exercises.py              (or ``make reset-exercises``)
       python tools/reset_exercises.py --root DIR   another copy of the course (a learner's home on a hub)

Every notebook in ``exercises/`` that is not a fresh, untouched copy (a learner's answers, a learner's own
``my_*.ipynb``, JupyterLab's checkpoints) is moved into ``exercises/.backup/reset-<timestamp>/`` (git-ignored),
and the exercise notebooks are written anew from ``solutions/`` (tools/make_exercises.py). Fresh copies stay as
they are. The folder of the moved files is printed; nothing is ever deleted.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

if not __package__:  # run as `python tools/reset_exercises.py`: import `tools` from the course folder, as `-m` does
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools import make_exercises  # noqa: E402 (the generator: the one place that knows how exercises are made)
from tools.notebooks import ROOT  # noqa: E402

CHECKPOINTS = ".ipynb_checkpoints"


def to_move_aside(root: Path) -> list[Path]:
    """Return what a reset moves out of ``exercises/``: every notebook that is not a fresh copy, and checkpoints."""
    exercises = root / "exercises"
    fresh = {name: make_exercises.digest(text) for name, text in make_exercises.expected_exercises(root).items()}
    moved = []
    for path in sorted(exercises.glob("*.ipynb")):
        if fresh.get(path.name) != make_exercises.digest(make_exercises._read(path)):
            moved.append(path)
    if (exercises / CHECKPOINTS).is_dir():
        moved.append(exercises / CHECKPOINTS)
    return moved


def reset(root: Path, *, stamp: str | None = None) -> list[str]:
    """Move learners' exercise notebooks aside and write fresh ones; return what was done, one line each."""
    exercises = root / "exercises"
    exercises.mkdir(exist_ok=True)
    stamp = stamp or datetime.now().strftime("%Y%m%d-%H%M%S")
    backup = exercises / make_exercises.BACKUP_DIR / f"reset-{stamp}"
    counter = 1
    while backup.exists():
        backup = backup.with_name(f"reset-{stamp}-{counter}")
        counter += 1
    done = []
    for path in to_move_aside(root):
        backup.mkdir(parents=True, exist_ok=True)
        path.rename(backup / path.name)
        done.append(f"moved exercises/{path.name} to {(backup / path.name).relative_to(root).as_posix()}")
    done += make_exercises.generate(root, stamp=stamp)
    return done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the course folder (default: this checkout)")
    args = parser.parse_args(argv)
    try:
        done = reset(args.root.resolve())
    except make_exercises.MarkerError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for line in done:
        print(line)
    moved = [line for line in done if line.startswith("moved ")]
    if moved:
        print(f"{len(moved)} learner file(s) kept under exercises/.backup/ (JupyterLab hides dot-folders: copy back)")
    print("Fresh exercise notebooks are in exercises/.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
