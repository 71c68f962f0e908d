"""Print the course's timings and a half-day and a full-day workshop plan, from the notebooks' metadata.

Usage: python tools/schedule.py            (or ``make schedule``)
       python tools/schedule.py --root DIR  another copy of the course

Minutes come from each notebook's ``metadata["course"]`` (``teaching_min``, ``exercise_min``), which
tools/stamp_timings.py copies from the notebook's ``**Time:**`` line; tests/test_schedule.py keeps the two in
step. A chapter's block in a workshop is its teaching plus its exercise minutes, as its own time line says;
the exercise notebook's line (solutions/ = exercises/) is shown beside it. Chapters are taught in course order
(the NN prefix); a plan stops at the first chapter that does not fit, and lists the rest for self-study.
Exit status 1, naming them, when a notebook has no timing metadata.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

if not __package__:  # run as `python tools/schedule.py`: import `tools` from the course folder, as `-m` does
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.notebooks import ROOT, course_notebooks, read_json, title_line  # noqa: E402
from tools.stamp_timings import KEY  # noqa: E402

BREAK, LUNCH = 15, 60  # minutes
LONGEST_STRETCH = 105  # minutes of teaching and exercises before a break is due


@dataclass(frozen=True)
class Timing:
    """One notebook's minutes, as its metadata says."""

    number: str
    title: str
    teaching: int
    exercises: int

    @property
    def total(self) -> int:
        return self.teaching + self.exercises


@dataclass(frozen=True)
class Workshop:
    """A workshop format: when it starts and ends, and whether it has a lunch break."""

    name: str
    start: int  # minutes after midnight
    end: int
    lunch: bool


HALF_DAY = Workshop("Half-day workshop", 9 * 60, 12 * 60 + 30, lunch=False)
FULL_DAY = Workshop("Full-day workshop", 9 * 60, 17 * 60, lunch=True)


class MissingMetadata(ValueError):
    """Notebooks without ``metadata["course"]``."""


def read_timings(folder: Path) -> list[Timing]:
    """Return the timing of every NN_*.ipynb in ``folder``, in course order; raise MissingMetadata if any lacks one."""
    timings, missing = [], []
    for path in course_notebooks(folder.parent, (folder.name,)):
        nb = read_json(path)
        minutes = nb.get("metadata", {}).get(KEY)
        if not isinstance(minutes, dict) or not {"teaching_min", "exercise_min"} <= minutes.keys():
            missing.append(f"{folder.name}/{path.name}")
            continue
        timings.append(Timing(path.name[:2], _title(nb), int(minutes["teaching_min"]), int(minutes["exercise_min"])))
    if missing:
        raise MissingMetadata(", ".join(missing))
    return timings


def _title(nb: dict) -> str:
    """Return the title cell's first line without its 'NN · ' prefix and '(solutions)' suffix."""
    title = title_line(nb).split("·", 1)[-1]
    return title.replace("(solutions)", "").replace("(exercises)", "").strip() or "?"


def clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return f"{hours} h {rest:02d}" if hours else f"{rest} min"


def plan(chapters: list[Timing], workshop: Workshop) -> tuple[list[tuple[int, int, str]], list[str]]:
    """Lay the chapters out in course order; return the agenda (start, end, what) and what is left out.

    A break (or, in a workshop with lunch, lunch once it is 11:30 or later) comes before any chapter that would
    make a stretch of more than LONGEST_STRETCH minutes. The first chapter that does not fit is taught without
    its exercises if its teaching fits (they become homework); the plan stops there.
    """
    agenda, now, stretch, lunch_due = [], workshop.start, 0, workshop.lunch
    for index, chapter in enumerate(chapters):
        for minutes in (chapter.total, chapter.teaching):
            pause = stretch > 0 and stretch + minutes > LONGEST_STRETCH
            lunch = pause and lunch_due and now >= 11 * 60 + 30
            pause_min = (LUNCH if lunch else BREAK) if pause else 0
            if now + pause_min + minutes <= workshop.end:
                break
        else:
            return agenda, [_label(c) for c in chapters[index:]]
        if pause:
            agenda.append((now, now + pause_min, "Lunch" if lunch else "Break"))
            now, stretch, lunch_due = now + pause_min, 0, lunch_due and not lunch
        agenda.append((now, now + minutes, _label(chapter, with_exercises=minutes == chapter.total)))
        now, stretch = now + minutes, stretch + minutes
        if minutes < chapter.total:
            return agenda, [f"{chapter.number}'s exercises ({chapter.exercises} min)"] + [
                _label(c) for c in chapters[index + 1 :]
            ]
    return agenda, []


def _label(chapter: Timing, with_exercises: bool = True) -> str:
    parts = [f"{chapter.teaching} min teaching"]
    if chapter.exercises and with_exercises:
        parts.append(f"{chapter.exercises} min exercises")
    elif chapter.exercises:
        parts.append("exercises as homework")
    return f"{chapter.number} {chapter.title} ({' + '.join(parts)})"


def table(chapters: list[Timing], solutions: list[Timing]) -> list[str]:
    """Return the lines of the per-notebook table, with totals."""
    exercise_line = {s.number: f"{s.teaching} + {s.exercises}" for s in solutions}
    width = max([len(c.title) for c in chapters] + [20])
    header = f"{'#':<3} {'chapter':<{width}} {'teaching':>8} {'exercises':>9} {'block':>6}"
    lines = [f"{header}   exercise notebook (intro + work)"]
    for c in chapters:
        lines.append(
            f"{c.number:<3} {c.title:<{width}} {c.teaching:>8} {c.exercises:>9} {c.total:>6}   "
            f"{exercise_line.get(c.number, '-')}"
        )
    teaching, exercises = sum(c.teaching for c in chapters), sum(c.exercises for c in chapters)
    in_notebooks = sum(s.total for s in solutions)
    lines.append(
        f"{'':<3} {'total (minutes)':<{width}} {teaching:>8} {exercises:>9} {teaching + exercises:>6}   {in_notebooks}"
    )
    lines.append(f"The whole course: {duration(teaching + exercises)} ({duration(teaching)} teaching).")
    return lines


def agenda_lines(chapters: list[Timing], workshop: Workshop) -> list[str]:
    """Return the lines of one workshop's plan."""
    agenda, left = plan(chapters, workshop)
    length = workshop.end - workshop.start
    lines = [f"{workshop.name}, {clock(workshop.start)}-{clock(workshop.end)} ({duration(length)}):"]
    lines += [f"  {clock(start)}-{clock(end)}  {what}" for start, end, what in agenda]
    finish = agenda[-1][1] if agenda else workshop.start
    taught = sum(end - start for start, end, what in agenda if what not in ("Break", "Lunch"))
    lines.append(f"  {duration(taught)} of chapters; ends {clock(finish)}, {duration(workshop.end - finish)} to spare")
    if left:
        lines.append("  Left for self-study or a second session:")
        lines += [f"    {what}" for what in left]
    return lines


def report(root: Path) -> list[str]:
    """Return the whole printout for the course under ``root``."""
    chapters, solutions = read_timings(root / "chapters"), read_timings(root / "solutions")
    lines = ["Course timings (minutes, from each notebook's metadata; the title cells' **Time:** lines)", ""]
    lines += table(chapters, solutions)
    for workshop in (HALF_DAY, FULL_DAY):
        lines += ["", *agenda_lines(chapters, workshop)]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the course folder (default: this checkout)")
    args = parser.parse_args(argv)
    try:
        lines = report(args.root.resolve())
    except MissingMetadata as error:
        print(f"No timing metadata in: {error}.", file=sys.stderr)
        print("Stamp it from the title cells: python tools/stamp_timings.py && make exercises", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
