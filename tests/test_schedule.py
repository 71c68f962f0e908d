"""The instructor kit: timing metadata (tools/stamp_timings.py), `make schedule` and `make reset-exercises`.

Every notebook's ``metadata["course"]`` must equal its title cell's ``**Time:**`` line: a notebook without the
metadata fails here (stamp it: ``python tools/stamp_timings.py && make exercises``). The tools themselves are
tested on copies of the course's notebooks in a temporary folder, never on the real ones.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.notebooks import ALL_NOTEBOOKS, CHAPTERS, ROOT, ids
from tools import reset_exercises, schedule, stamp_timings
from tools.notebooks import render, title_cell

TOOLS = ROOT / "tools"


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _title_minutes(path: Path) -> dict[str, int]:
    return stamp_timings.parse_time_line(title_cell(_json(path)))


@pytest.fixture
def course(tmp_path) -> Path:
    """A copy of the course's notebooks (chapters, solutions, exercises) in a temporary folder."""
    for folder in ("chapters", "solutions", "exercises"):
        shutil.copytree(ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns(".backup", ".ipynb_*"))
    return tmp_path


# ------------------------------------------------------------------------------------------------------------
# The course's own notebooks: metadata in step with the title lines
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=ids(ALL_NOTEBOOKS))
def test_timing_metadata_equals_the_title_line(path):
    minutes = _title_minutes(path)
    stamped = _json(path).get("metadata", {}).get("course")
    assert stamped is not None, (
        f"{path.parent.name}/{path.name} has no metadata['course']: run "
        "`python tools/stamp_timings.py && make exercises` (copies the title cell's **Time:** line into it)"
    )
    assert stamped == minutes, f"metadata {stamped} but the title line says {minutes}: run tools/stamp_timings.py"


# ------------------------------------------------------------------------------------------------------------
# tools/stamp_timings.py
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "minutes"),
    [
        ("**Time:** ~45 min (teaching) · ~30 min (exercises)", (45, 30)),
        ("**Time:** 5 min (teaching) · no exercises", (5, 0)),
        ("**Time:** ~5 min (teaching) · ~35 min (exercises)", (5, 35)),
        ("**Time:** 20 minutes (teaching), 10 min (exercise)", (20, 10)),
    ],
)
def test_time_lines_are_read(line, minutes):
    title = f"# 01 · A title\n\nOne line.\n\n{line}\n\n**You will:**\n- a\n"
    assert stamp_timings.parse_time_line(title) == {"teaching_min": minutes[0], "exercise_min": minutes[1]}


@pytest.mark.parametrize(
    "title", ["# 01 · No time line", "**Time:** about an hour", "**Time:** ~45 min (teaching)", "**Time:** 30 min"]
)
def test_an_unreadable_time_line_is_an_error_not_a_guess(title):
    with pytest.raises(stamp_timings.TimeLineError):
        stamp_timings.parse_time_line(title)


def test_stamping_writes_the_minutes_and_nothing_else(course):
    paths = stamp_timings.course_notebooks(course)
    assert paths and all(p.parent.name in ("chapters", "solutions") for p in paths)
    before = {p: _json(p) for p in paths}
    assert stamp_timings.main([str(p) for p in paths]) == 0
    for path in paths:
        after = _json(path)
        assert after["metadata"]["course"] == _title_minutes(path)
        expected = copy.deepcopy(before[path])
        expected["metadata"]["course"] = after["metadata"]["course"]
        assert after == expected, f"{path.name}: stamping changed more than metadata['course']"
        # nbformat's own layout, so a diff shows the metadata lines alone
        assert path.read_text(encoding="utf-8") == render(after)


def test_stamping_is_idempotent(course):
    paths = stamp_timings.course_notebooks(course)
    stamp_timings.main([str(p) for p in paths])
    texts = {p: p.read_bytes() for p in paths}
    assert not any(stamp_timings.stamp(p) for p in paths), "a second stamping found something to change"
    assert {p: p.read_bytes() for p in paths} == texts
    assert stamp_timings.main(["--check", *map(str, paths)]) == 0


def test_check_reports_unstamped_notebooks_and_writes_nothing(course, capsys):
    paths = stamp_timings.course_notebooks(course)
    texts = {p: p.read_bytes() for p in paths}
    stamped = [p for p in paths if "course" in _json(p).get("metadata", {})]
    status = stamp_timings.main(["--check", *map(str, paths)])
    assert {p: p.read_bytes() for p in paths} == texts
    if len(stamped) < len(paths):
        assert status == 1 and "out of step" in capsys.readouterr().out


def test_stamping_copies_the_chapters_time_line_into_its_instructor_notes(course):
    chapter = sorted((course / "chapters").glob("[0-9][0-9]_*.ipynb"))[1]
    notes = course / "docs" / "instructors" / f"{chapter.stem}.md"
    notes.parent.mkdir(parents=True)
    notes.write_text("# Notes\n\n**Time:** ~1 min (teaching) · ~2 min (exercises)\n\nText stays.\n", encoding="utf-8")
    assert stamp_timings.main(["--check", str(chapter)]) == 1
    assert stamp_timings.main([str(chapter)]) == 0
    text = notes.read_text(encoding="utf-8")
    assert stamp_timings.parse_time_line(text) == _title_minutes(chapter)
    assert text.startswith("# Notes\n\n**Time:**") and text.endswith("\n\nText stays.\n")
    assert not stamp_timings.stamp_notes(chapter), "a second run found something to change"


def test_exercises_take_the_metadata_from_their_solutions(course):
    """The lead's command: stamp chapters and solutions, then `make exercises` carries it to exercises/."""
    make_exercises = reset_exercises.make_exercises
    stamp_timings.main([str(p) for p in stamp_timings.course_notebooks(course)])
    make_exercises.generate(course)
    assert make_exercises.problems(course) == []
    for path in sorted((course / "exercises").glob("[0-9][0-9]_*.ipynb")):
        assert _json(path)["metadata"]["course"] == _title_minutes(path)


# ------------------------------------------------------------------------------------------------------------
# tools/schedule.py (make schedule)
# ------------------------------------------------------------------------------------------------------------


def _run(tool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOLS / tool), *args], capture_output=True, text=True, timeout=120)


def test_schedule_prints_every_chapter_the_totals_and_two_plans(course):
    stamp_timings.main([str(p) for p in stamp_timings.course_notebooks(course)])
    result = _run("schedule.py", "--root", str(course))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    chapters = sorted((course / "chapters").glob("[0-9][0-9]_*.ipynb"))
    teaching = exercises = 0
    for path in chapters:
        minutes = _title_minutes(path)
        teaching, exercises = teaching + minutes["teaching_min"], exercises + minutes["exercise_min"]
        row = re.search(rf"^{path.name[:2]} .*?\s(\d+)\s+(\d+)\s+(\d+)\s", out, re.M)
        assert row, f"no row for {path.name}"
        assert [int(n) for n in row.groups()] == [
            minutes["teaching_min"],
            minutes["exercise_min"],
            minutes["teaching_min"] + minutes["exercise_min"],
        ]
    total = re.search(r"total \(minutes\)\s+(\d+)\s+(\d+)\s+(\d+)", out)
    assert total and [int(n) for n in total.groups()] == [teaching, exercises, teaching + exercises]
    assert "Half-day workshop" in out and "Full-day workshop" in out


def test_a_plan_fits_its_hours_and_keeps_course_order():
    chapters = [schedule.Timing(f"{n:02d}", f"chapter {n}", 40, 30) for n in range(8)]
    for workshop in (schedule.HALF_DAY, schedule.FULL_DAY):
        agenda, left = schedule.plan(chapters, workshop)
        assert agenda[0][0] == workshop.start and agenda[-1][1] <= workshop.end
        assert all(a[1] == b[0] for a, b in zip(agenda, agenda[1:], strict=False)), "gaps or overlaps"
        taught = [what[:2] for _, _, what in agenda if what not in ("Break", "Lunch")]
        assert taught == [c.number for c in chapters[: len(taught)]], "chapters out of course order"
        assert left, "eight 70-minute chapters do not fit in a day"
        stretch = 0
        for start, end, what in agenda:
            stretch = 0 if what in ("Break", "Lunch") else stretch + end - start
            assert stretch <= max(schedule.LONGEST_STRETCH, 70)
    agenda, _ = schedule.plan(chapters, schedule.FULL_DAY)
    assert [w for _, _, w in agenda].count("Lunch") == 1


def test_everything_fits_when_there_is_time():
    chapters = [schedule.Timing("00", "setup", 5, 0), schedule.Timing("01", "one", 20, 20)]
    agenda, left = schedule.plan(chapters, schedule.HALF_DAY)
    assert left == [] and len(agenda) == 2


def test_schedule_fails_and_says_how_when_metadata_is_missing(course):
    for path in sorted((course / "chapters").glob("*.ipynb")):
        nb = _json(path)
        nb.get("metadata", {}).pop("course", None)
        path.write_text(render(nb), encoding="utf-8")
    result = _run("schedule.py", "--root", str(course))
    assert result.returncode == 1
    assert "stamp_timings.py" in result.stderr and "chapters/00_" in result.stderr


# ------------------------------------------------------------------------------------------------------------
# tools/reset_exercises.py (make reset-exercises)
# ------------------------------------------------------------------------------------------------------------


def test_reset_moves_learners_work_aside_and_writes_fresh_notebooks(course):
    exercises = course / "exercises"
    notebooks = sorted(exercises.glob("[0-9][0-9]_*.ipynb"))
    assert notebooks, "no exercise notebooks to test with"
    reset_exercises.make_exercises.generate(course)  # in step first, as after a clone
    fresh = {p.name: p.read_bytes() for p in exercises.glob("[0-9][0-9]_*.ipynb")}
    edited = notebooks[0]
    nb = _json(edited)
    nb["cells"][-1]["source"] = "answer = 42  # a learner's work"
    edited.write_text(json.dumps(nb), encoding="utf-8")
    learners_work = edited.read_bytes()
    (exercises / "my_notes.ipynb").write_text("{}", encoding="utf-8")
    (exercises / ".ipynb_checkpoints").mkdir()
    (exercises / ".ipynb_checkpoints" / f"{edited.stem}-checkpoint.ipynb").write_bytes(learners_work)

    done = reset_exercises.reset(course, stamp="test")
    backup = exercises / ".backup" / "reset-test"
    assert (backup / edited.name).read_bytes() == learners_work, "the learner's answers were not kept"
    assert (backup / "my_notes.ipynb").exists() and (backup / ".ipynb_checkpoints").is_dir()
    assert not (exercises / "my_notes.ipynb").exists() and not (exercises / ".ipynb_checkpoints").exists()
    assert {p.name: p.read_bytes() for p in exercises.glob("[0-9][0-9]_*.ipynb")} == fresh
    assert reset_exercises.make_exercises.problems(course) == []
    assert any("moved exercises/" + edited.name in line for line in done)

    # A second reset right away finds nothing to move, and a third backup folder never overwrites the first.
    assert not any(line.startswith("moved") for line in reset_exercises.reset(course, stamp="test"))
    (exercises / "my_notes.ipynb").write_text("{}", encoding="utf-8")
    reset_exercises.reset(course, stamp="test")
    assert (exercises / ".backup" / "reset-test-1" / "my_notes.ipynb").exists()
    assert (backup / edited.name).read_bytes() == learners_work


def test_reset_runs_as_a_script(course):
    result = _run("reset_exercises.py", "--root", str(course))
    assert result.returncode == 0, result.stderr
    assert "Fresh exercise notebooks" in result.stdout


# ------------------------------------------------------------------------------------------------------------
# docs/instructors/: a page of notes per chapter, its time line in step with the chapter's
# ------------------------------------------------------------------------------------------------------------

NOTES = ROOT / "docs" / "instructors"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=ids(CHAPTERS))
def test_each_chapter_has_instructor_notes_with_its_time_line(chapter):
    notes = NOTES / f"{chapter.stem}.md"
    assert notes.exists(), f"no instructor notes for {chapter.name}: write docs/instructors/{notes.name}"
    text = notes.read_text(encoding="utf-8")
    for heading in ("## What to demo", "## Where learners get stuck", "## Common questions"):
        assert heading in text, f"{notes.name} needs a {heading!r} section"
    assert stamp_timings.parse_time_line(text) == _title_minutes(chapter), (
        f"docs/instructors/{notes.name}'s **Time:** line disagrees with the chapter's title cell: "
        "`python tools/stamp_timings.py` copies it over"
    )
    overview = (NOTES / "README.md").read_text(encoding="utf-8")
    assert f"({notes.name})" in overview, f"docs/instructors/README.md does not link {notes.name}"
