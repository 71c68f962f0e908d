"""The exercise-check machinery: ``q.check(answer)``, ``q.hint()``, ``q.solution()``, after learntools.

A check never raises on a learner's answer: a wrong, unfinished or crashing answer prints what is wrong and a
hint. Each chapter's module (``utils.checks.ch01``...) defines one :class:`Exercise` per question.
"""

from __future__ import annotations

import math
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PASS = "✅ Correct"
WRONG = "❌ Not yet"
TODO = "✏️ Not answered yet"


class Wrong(Exception):  # noqa: N818 (read as "the answer is wrong", not as an error of the code)
    """Raised by a checker to say what is wrong with an answer and, optionally, which hint fits it."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message, self.hint = message, hint


class Unanswered(Wrong):
    """Raised by a checker when the answer is still a placeholder (e.g. a function whose body is ``...``)."""


@dataclass
class Result:
    """What a check found: ``passed``, the message printed, and the specific hint (if any)."""

    passed: bool
    message: str
    hint: str | None = None

    def __bool__(self) -> bool:
        return self.passed


class Verdict:
    """What :meth:`Exercise.check` returns: truthy when the answer passed, and invisible as a cell's last value.

    The check has printed its message already; a bare ``True``/``False`` under it would only add noise.
    """

    __slots__ = ("passed",)

    def __init__(self, passed: bool):
        self.passed = bool(passed)

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return f"Verdict(passed={self.passed})"

    def _ipython_display_(self) -> None:
        """Show nothing in a notebook: the check printed its message."""


@dataclass
class Exercise:
    """One exercise: a checker, a list of hints (shown one more per call of :meth:`hint`) and a solution.

    ``checker(answer)`` returns normally when the answer is right and raises :class:`Wrong` when it is not;
    any other exception is the learner's code failing, and is reported as such, never re-raised.
    """

    name: str
    checker: Callable
    hints: list[str]
    solution_text: str
    on_pass: Callable | None = None  # a demo that uses the learner's (correct) answer
    _hints_shown: int = field(default=0, repr=False)

    def evaluate(self, *answer) -> Result:
        """Return the :class:`Result` of checking ``answer`` without printing (used by tests)."""
        if any(_unanswered(a) for a in answer):
            todo = "replace the placeholder (None or `...`) with your answer, then run this cell again."
            return Result(False, f"{TODO}: {todo}")
        try:
            self.checker(*answer)
        except Unanswered as todo:
            return Result(False, f"{TODO}: {todo.message}", todo.hint)
        except Wrong as wrong:
            return Result(False, f"{WRONG}: {wrong.message}", wrong.hint)
        except Exception as exc:  # the learner's code failed inside the check: explain, never crash
            where = _learner_frame(exc)
            return Result(
                False,
                f"{WRONG}: your code raised {type(exc).__name__}: {exc} (line {where.lineno} of {where.name}).",
                "Run your function on a small input in its own cell to see the full error.",
            )
        return Result(True, f"{PASS}: {self.name}.")

    def check(self, *answer) -> Verdict:
        """Print whether ``answer`` is right, or what is wrong and a hint; return a :class:`Verdict`."""
        result = self.evaluate(*answer)
        print(result.message)
        if result.hint:
            print(f"💡 Hint: {result.hint}")
        if result.passed and self.on_pass is not None:
            try:
                self.on_pass(*answer)
            except Exception as exc:  # a demo must never turn a pass into a traceback
                print(f"(The demo that follows this check could not run: {type(exc).__name__}: {exc})")
        return Verdict(result.passed)

    def hint(self) -> None:
        """Print the next hint (each call shows one more, then repeats the last)."""
        if not self.hints:
            print("No hint for this one: compare with the solution (`.solution()`).")
            return
        self._hints_shown = min(self._hints_shown + 1, len(self.hints))
        for i, text in enumerate(self.hints[: self._hints_shown], start=1):
            print(f"💡 Hint {i}/{len(self.hints)}: {text}")

    def solution(self) -> None:
        """Print the solution."""
        print(f"Solution to {self.name}:\n{self.solution_text.strip()}")


def _unanswered(answer) -> bool:
    return answer is None or answer is Ellipsis


_UTILS_DIR = str(Path(__file__).resolve().parent.parent)
_LIBRARY_PARTS = ("site-packages", "dist-packages")


def _learner_frame(exc: BaseException) -> traceback.FrameSummary:
    """Return the innermost frame of ``exc`` in learner code (not numpy, Keras, utils), else the last one."""
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [
        f
        for f in frames
        if not f.filename.startswith(_UTILS_DIR) and not any(part in f.filename for part in _LIBRARY_PARTS)
    ]
    return (mine or frames)[-1]


# ------------------------------------------------------------------------------------------------------------
# Small helpers for checkers: each raises Wrong with a message a learner can act on.
# ------------------------------------------------------------------------------------------------------------


def as_float(value, what: str) -> float:
    """Return ``value`` as a finite float, or raise Wrong saying what was expected."""
    if isinstance(value, str | bytes | bool | np.bool_):  # float("0.5") works, but text is no answer
        raise Wrong(f"{what} should be a number, got {type(value).__name__}.")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise Wrong(f"{what} should be a number, got {type(value).__name__}.") from None
    if not math.isfinite(number):
        raise Wrong(f"{what} is {number}: look for a division by zero or an overflow.")
    return number


def as_array(value, what: str, shape: tuple | None = None) -> np.ndarray:
    """Return ``value`` as a finite float array (of ``shape`` if given), or raise Wrong."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise Wrong(f"{what} should be an array of numbers, got {type(value).__name__}.") from None
    if shape is not None and array.shape != tuple(shape):
        raise Wrong(f"{what} should have shape {tuple(shape)}, got {array.shape}.")
    if not np.all(np.isfinite(array)):
        raise Wrong(f"{what} contains NaN or infinity: look for a division by zero, a log of 0, an overflow.")
    return array


def as_callable(value, what: str) -> Callable:
    """Return ``value`` if it is a function, or raise Wrong."""
    if not callable(value):
        raise Wrong(f"{what} should be a function (def ...), got {type(value).__name__}.")
    return value


def call(function: Callable, *args, what: str | None = None):
    """Call the learner's ``function`` quietly (no numpy warnings) and return its result.

    Raises :class:`Unanswered` when it returns None (a body still ``...``); its own exceptions propagate to
    :meth:`Exercise.evaluate`, which reports them.
    """
    name = what or f"`{getattr(function, '__name__', 'your function')}`"
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = function(*args)
    if result is None:
        todo = "write its body (replace `...`), run its cell, then this check again."
        raise Unanswered(f"{name} returned None: {todo}")
    return result


def close(actual, expected, *, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    """Return True when arrays or numbers agree within tolerance (NaN never agrees)."""
    return bool(np.allclose(actual, expected, rtol=rtol, atol=atol))


def elementwise(function, z: np.ndarray, *args, what: str) -> np.ndarray:
    """Return ``function(z, *args)`` as a float array of z's shape, or raise Wrong saying what is off."""
    values = call(function, z.copy(), *args, what=what)
    if isinstance(values, str):
        raise Wrong(f"{what} returned text; it should return numbers, one per entry of z.")
    values = as_array(values, what)
    if values.shape != z.shape:
        if values.size == 1:
            raise Wrong(
                f"for an array z of {z.size} values, {what} returned one number.",
                "Use numpy operations (np.exp, not math.exp; np.where, not if): "
                "they work on every entry of an array at once.",
            )
        raise Wrong(f"for an array z of shape {z.shape}, {what} returned shape {values.shape}.")
    return values
