"""Copy each notebook's time line into its metadata, where `make schedule` and other tools read it.

Usage: python tools/stamp_timings.py              stamp chapters/ and solutions/, then run `make exercises`
       python tools/stamp_timings.py PATH ...     stamp these notebooks only
       python tools/stamp_timings.py --check      write nothing; exit 1 naming each notebook out of step

A notebook's title cell says how long it takes, e.g. ``**Time:** ~45 min (teaching) · ~30 min (exercises)``
(``no exercises`` means 0). This writes ``metadata["course"] = {"teaching_min": 45, "exercise_min": 30}`` and
touches nothing else in the file: the notebook is read and written as plain JSON, in nbformat's layout, so the
diff is the metadata alone. Idempotent: a notebook already in step is not rewritten. Exercise notebooks are
generated: they get their solution's metadata from `make exercises` (tools/make_exercises.py copies it), so
this tool writes chapters/ and solutions/ only, unless given paths. It also copies each chapter's time line into
its instructor notes (docs/instructors/NN_x.md), whose **Time:** line repeats it. tests/test_schedule.py tests the
tool on copies, and checks that every notebook of the course (exercises too) is in step with its title line.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

if not __package__:  # run as `python tools/stamp_timings.py`: import `tools` from the course folder, as `-m` does
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.notebooks import TIME_LINE, course_notebooks, read_json, title_cell, write_json  # noqa: E402

KEY = "course"
MINUTES = r"~?\s*(?P<{name}>\d+)\s*(?:min|minutes)\s*\({label}\)"
TEACHING = re.compile(MINUTES.format(name="minutes", label="teaching"))
EXERCISES = re.compile(MINUTES.format(name="minutes", label="exercises?"))
NO_EXERCISES = re.compile(r"\bno exercises?\b", re.IGNORECASE)


class TimeLineError(ValueError):
    """A title cell without a ``**Time:**`` line this tool can read."""


def parse_time_line(title: str) -> dict[str, int]:
    """Return ``{"teaching_min": T, "exercise_min": E}`` read from a title cell's ``**Time:**`` line."""
    found = TIME_LINE.search(title)
    if not found:
        raise TimeLineError("no '**Time:**' line in the title cell")
    line = found["line"]
    teaching = TEACHING.search(line)
    exercises = EXERCISES.search(line)
    if teaching is None:
        raise TimeLineError(f"no 'N min (teaching)' in the time line {line.strip()!r}")
    if exercises is None and not NO_EXERCISES.search(line):
        raise TimeLineError(f"neither 'N min (exercises)' nor 'no exercises' in the time line {line.strip()!r}")
    return {"teaching_min": int(teaching["minutes"]), "exercise_min": int(exercises["minutes"]) if exercises else 0}


def stamp(path: Path, *, write: bool = True) -> bool:
    """Put the title line's minutes into ``path``'s metadata; return True when it was out of step."""
    nb = read_json(path)
    minutes = parse_time_line(title_cell(nb))
    metadata = nb.setdefault("metadata", {})
    if metadata.get(KEY) == minutes:
        return False
    metadata[KEY] = minutes
    if write:
        write_json(path, nb)
    return True


def _shown(path: Path) -> str:
    """Return ``path`` relative to the working folder where it is inside it."""
    try:
        return path.resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


def stamp_notes(chapter: Path, *, write: bool = True) -> bool:
    """Copy a chapter's time line into its instructor notes' **Time:** line; return True when it was out of step.

    The notes are ``docs/instructors/<chapter stem>.md`` beside the chapter's course folder; a chapter without
    notes, or notes without a time line, are left alone (tests/test_schedule.py asks for both).
    """
    notes = chapter.parent.parent / "docs" / "instructors" / f"{chapter.stem}.md"
    source = TIME_LINE.search(title_cell(read_json(chapter)))
    if chapter.parent.name != "chapters" or source is None or not notes.exists():
        return False
    text = notes.read_text(encoding="utf-8")
    target = TIME_LINE.search(text)
    if target is None or target[0].rstrip() == source[0].rstrip():
        return False
    if write:
        notes.write_text(text[: target.start()] + source[0].rstrip() + text[target.end() :], encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: every notebook of the course)")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a notebook is out of step")
    args = parser.parse_args(argv)
    paths = args.paths or course_notebooks()
    status = 0
    for path in paths:
        try:
            changed = stamp(path, write=not args.check)
        except (TimeLineError, OSError, ValueError) as error:
            print(f"{_shown(path)}: {error}", file=sys.stderr)
            status = 2
            continue
        if changed:
            print(f"{_shown(path)}: {'out of step' if args.check else 'stamped'}")
            status = max(status, 1 if args.check else 0)
        if stamp_notes(path, write=not args.check):
            notes = f"docs/instructors/{path.stem}.md"
            print(f"{notes}: {'time line out of step' if args.check else 'time line copied from the chapter'}")
            status = max(status, 1 if args.check else 0)
    if status == 0 and not args.check and not args.paths:
        print("Done. Exercise notebooks take their solution's metadata: run `make exercises` now.")
    if status == 1:
        print("Run `python tools/stamp_timings.py`, then `make exercises`, to bring the metadata in step.")
    return status


if __name__ == "__main__":
    sys.exit(main())
