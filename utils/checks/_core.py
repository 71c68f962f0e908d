"""The exercise-check machinery: ``q.check(answer)``, ``q.hint()``, ``q.solution()``, after learntools.

A check never raises on a learner's answer: a wrong, unfinished or crashing answer prints what is wrong and a
hint. Each chapter's module (``utils.checks.ch01``...) defines one :class:`Exercise` per question, with its
reference answers and typical :class:`Mistake` s as data (the tests run the check on every one of them).
"""

from __future__ import annotations

import functools
import inspect
import json
import linecache
import math
import numbers
import re
import sys
import sysconfig
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


@dataclass(frozen=True)
class Mistake:
    """A typical mistake, declared once: a wrong ``answer`` a learner would give, the message that names it, the hint.

    ``answer`` is what the learner would write (a function with the exercise's parameters, or a value); for an
    exercise that takes several answers, ``slot`` says which one it stands for (the others being right). The check
    runs ``answer`` on the same case as the learner's answer to recognize it (:func:`name_mistake`), and the tests
    run the check on ``answer`` itself: it must be told exactly this message and hint. ``message`` and ``hint`` may
    hold ``{placeholders}`` filled by :meth:`wrong`.
    """

    answer: object
    message: str
    hint: str | None = None
    slot: int = 0

    def wrong(self, prefix: str = "", **values) -> Wrong:
        """Return the :class:`Wrong` to raise: ``prefix`` and the message (``values`` filled in), and the hint."""
        hint = self.hint.format(**values) if self.hint and values else self.hint
        return Wrong(prefix + (self.message.format(**values) if values else self.message), hint)

    def gives(self, got, args: tuple = (), compare: Callable | None = None, run: Callable | None = None) -> bool:
        """Return True when this mistake's answer, run on ``args`` (a function's), gives what the learner got.

        ``run(answer)``, when given, runs the answer as the check ran the learner's (e.g. a whole training run).
        """
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                if run is not None:
                    expected = run(self.answer)
                else:
                    expected = self.answer(*args) if callable(self.answer) else self.answer
            except Exception:  # noqa: BLE001 (a mistake that cannot run on this case is not the learner's)
                return False
        return (compare or close)(got, expected)


def name_mistake(
    got,
    args: tuple,
    mistakes,
    *,
    compare: Callable | None = None,
    run: Callable | None = None,
    prefix: str = "",
    values: dict | None = None,
) -> None:
    """Raise the :class:`Wrong` of the first of ``mistakes`` whose answer, run on ``args``, gives ``got``.

    ``prefix`` goes before its message, and ``values`` fill the message's and the hint's ``{placeholders}``.
    """
    for mistake in mistakes:
        if mistake.gives(got, args, compare, run):
            raise mistake.wrong(prefix, **(values or {}))


def against_reference(
    function: Callable,
    reference: Callable,
    cases,
    mistakes=(),
    *,
    otherwise: Callable[..., Wrong],
    run: Callable | None = None,
    compare: Callable | None = None,
    mistaken: Callable | None = None,
    prefix: Callable[..., str] | None = None,
) -> None:
    """Check a learner's function case by case: the loop every function exercise runs (after learntools).

    For each ``args`` in ``cases``, get the learner's result with ``run(function, *args)`` (default: :func:`call`
    on copies of the arrays; a ``run`` also reads the result, raising Wrong on a wrong type or shape) and compare
    it with ``reference(*args)``. Where they differ, raise the first of ``mistakes`` whose answer gives the
    learner's result on those same ``args`` (compared with ``mistaken``, default ``compare``; ``prefix(got, args)``
    before its message), else ``otherwise(got, expected, args)``.
    """
    compare = compare or close
    for args in cases:
        got = run(function, *args) if run else call(function, *_copies(args))
        expected = reference(*args)
        if compare(got, expected):
            continue
        name_mistake(got, args, mistakes, compare=mistaken or compare, prefix=prefix(got, args) if prefix else "")
        raise otherwise(got, expected, args)


def _copies(args: tuple) -> tuple:
    """Return copies of the array arguments, so that a function that writes into its input changes no case."""
    return tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args)


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
    """One exercise: a checker, a list of hints (shown one more per call of :meth:`hint`), its typical mistakes.

    ``checker(answer)`` returns normally when the answer is right and raises :class:`Wrong` when it is not;
    any other exception is the learner's code failing, and is reported as such, never re-raised. ``reference``
    holds right answers (one per answer the check takes) and ``mistakes`` the typical wrong ones, as data: the
    tests run the check on each mistake's answer (the other answers from ``reference``). The solution printed by
    :meth:`solution` is generated from the solutions notebook (``make exercises``), never kept by hand.
    """

    name: str
    checker: Callable
    hints: list[str]
    on_pass: Callable | None = None  # a demo that uses the learner's (correct) answer
    reference: tuple = ()
    mistakes: tuple[Mistake, ...] = ()
    _hints_shown: int = field(default=0, repr=False)

    def answers_with(self, mistake: Mistake) -> tuple:
        """Return the answers that give ``mistake``: the reference's, with the mistake's answer in its slot."""
        answers = list(self.reference) or [None]
        answers[mistake.slot] = mistake.answer
        return tuple(answers)

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
        except Exception as exc:  # explain, never crash
            return _failure(exc)
        return Result(True, f"{PASS}: {self.name}.")

    def check(self, *answer) -> Verdict:
        """Print whether ``answer`` is right, or what is wrong and a hint; return a :class:`Verdict`."""
        result = self.evaluate(*answer)
        print(result.message)
        if result.hint:
            print(f"💡 Hint: {result.hint}")
        if result.passed and self.on_pass is not None:
            try:
                self.on_pass(*[single_number(a) for a in answer])
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
        """Print the solution (the solutions notebook's code for this exercise)."""
        print(f"Solution to {self.name}:\n{solution_text(self)}")


_SOLUTIONS = Path(__file__).with_name("solutions.json")  # written by tools/make_exercises.py


@functools.cache
def _solutions() -> dict[str, str]:
    return json.loads(_SOLUTIONS.read_text(encoding="utf-8"))["solutions"]


def exercise_key(exercise: Exercise) -> str | None:
    """Return ``"chNN.qK"`` for an exercise of a chapter module (found by identity), or None."""
    for name, module in list(sys.modules.items()):
        if re.fullmatch(r"utils\.checks\.ch\d\d", name):
            for key, value in vars(module).items():
                if value is exercise:
                    return f"{name.rsplit('.', 1)[1]}.{key}"
    return None


def solution_text(exercise: Exercise) -> str:
    """Return the solution of ``exercise`` from the generated ``solutions.json`` (or say there is none)."""
    text = _solutions().get(exercise_key(exercise) or "")
    return text if text is not None else "(no solution is recorded for this exercise: see the solutions notebook)"


def _unanswered(answer) -> bool:
    return answer is None or answer is Ellipsis


_UTILS_DIR = str(Path(__file__).resolve().parent.parent)
_NOT_LEARNER = ("site-packages", "dist-packages", "<frozen ", "__autograph_generated_file")
_COMPILED = (".pyx", ".pxd", ".pxi", ".so", ".pyd")  # Cython and extension modules (numpy.random's are Cython)
_LEARNER_PSEUDO_FILES = ("<string>", "<stdin>", "<ipython-input", "<cell")  # exec, a console, IPython
_STDLIB = tuple({sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["platstdlib"]})


def _is_learner_file(filename: str) -> bool:
    """Return True for code the learner wrote (a notebook cell, a script), not the course's, Python's or a library's.

    Not the learner's: the course's ``utils``, the standard library, installed packages, Cython sources
    (``numpy/random/_generator.pyx``), autograph's generated files, and pseudo-files such as
    ``<__array_function__ internals>``; a notebook cell (``/tmp/ipykernel_<pid>/<n>.py``) or ``<string>`` is.
    """
    if filename.startswith(_UTILS_DIR) or filename.startswith(_STDLIB):
        return False
    if filename.endswith(_COMPILED) or any(part in filename for part in _NOT_LEARNER):
        return False
    return not filename.startswith("<") or filename.startswith(_LEARNER_PSEUDO_FILES)


def _is_autograph_file(filename: str) -> bool:
    return "__autograph_generated_file" in filename


@dataclass
class _Where:
    """Where the learner's code raised: its function, line and source text (any may be unknown)."""

    name: str
    lineno: int | None = None
    line: str = ""
    filename: str = ""
    graph: bool = False  # the code ran as a TensorFlow graph (inside tf.function), converted by autograph

    def describe(self) -> str:
        """Return e.g. "line 7 of step: `z = y.numpy()`" (with the file's name when it is a real file)."""
        text = f"line {self.lineno} of {self.name}" if self.lineno else f"in {self.name}"
        if self.filename and Path(self.filename).is_file() and "ipykernel_" not in self.filename:
            text += f" in {Path(self.filename).name}"
        if self.line:
            text += f": `{self.line.strip()}`"
        if self.graph:
            text += ", run as a TensorFlow graph by tf.function"
        return text


def _learner_frame(exc: BaseException) -> traceback.FrameSummary | None:
    """Return the innermost frame of ``exc``'s traceback in learner code, or None when it never went through any."""
    mine = [f for f in traceback.extract_tb(exc.__traceback__) if _is_learner_file(f.filename)]
    return mine[-1] if mine else None


def _learner_location(exc: BaseException) -> _Where | None:
    """Return where in the learner's code ``exc`` was raised, or None when it was raised by other code only.

    Walks the traceback to its last frame in the learner's code. Code that autograph converted (a function run
    inside ``tf.function``) runs from a generated file ("line 174 of if_body_11"): it is mapped back to the
    learner's own line through the error's metadata when TensorFlow attached it, else named by its function.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    generated = [f for f in frames if _is_autograph_file(f.filename)]
    if generated:
        metadata = getattr(exc, "ag_error_metadata", None)
        stack = getattr(metadata, "translated_stack", None) or ()
        mine = [f for f in stack if _is_learner_file(getattr(f, "filename", ""))]
        if mine:
            frame = mine[-1]
            return _Where(frame.function_name, frame.lineno, frame.code or "", frame.filename, graph=True)
        if not stack:  # no map back: name the learner's function (autograph names it tf__<name>)
            outer = next((f.name for f in generated if f.name.startswith("tf__")), generated[0].name)
            return _Where(outer.removeprefix("tf__"), graph=True)
    defined = _graph_frames(exc)  # a graph's op failed as it ran: TensorFlow names where the op was defined
    if defined:
        filename, lineno, name = defined[-1]
        return _Where(name, lineno, linecache.getline(filename, lineno), filename, graph=True)
    frame = _learner_frame(exc)
    if frame is None:
        return None
    return _Where(frame.name, frame.lineno, frame.line or "", frame.filename)


_DEFINED_AT = re.compile(r'File "([^"]+)", line (\d+), in (\S+)')


def _graph_frames(exc: BaseException) -> list[tuple[str, int, str]]:
    """Return the learner's frames that TensorFlow lists under "defined at" in a graph execution error."""
    text = str(exc)
    if "defined at (most recent call last)" not in text:
        return []
    found = [(f, int(n), name) for f, n, name in _DEFINED_AT.findall(text)]
    return [frame for frame in found if _is_learner_file(frame[0]) and frame[2] != "<module>"]


_TF_NODE_PREFIX = re.compile(r"^\{\{function_node [^}]*\}\}\s*")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # Keras makes parts of its messages bold in a terminal


def _error_text(exc: BaseException, limit: int = 300) -> str:
    """Return the error's own message, short: autograph's "in user code" preamble and TF's node prefix removed."""
    metadata = getattr(exc, "ag_error_metadata", None)
    text = str(getattr(metadata, "cause_message", None) or exc).strip()
    if "in user code:" in text:  # autograph's report: the original message is the last paragraph
        text = text.split("\n\n")[-1].strip()
    if "defined at (most recent call last)" in text:  # a graph execution error: the cause follows the frames
        text = re.split(r"\n\s*\[\[\{\{node", text.split("\n\n")[-1])[0].strip()
    text = _ANSI.sub("", _TF_NODE_PREFIX.sub("", text)).removeprefix(f"{type(exc).__name__}: ")
    text = re.sub(r"\s+", " ", text).removesuffix(" name:").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _failure(exc: Exception) -> Result:
    """Return the Result for an exception that escaped a checker.

    Only an exception that went through the learner's code is theirs ("your code raised ...", at their own line):
    one raised by the check's own code after theirs returned (on an answer of an unexpected type, or a fault of
    the check) is reported as the check's failure, never blamed on a line of theirs.
    """
    where = _learner_location(exc)
    name = type(exc).__name__
    if where is not None:
        called = getattr(exc, "_check_call", None)
        return Result(
            False,
            f"{WRONG}: your code raised {name}: {_error_text(exc)} ({where.describe()}"
            + (f"; the check ran {called}" if called else "")
            + ").",
            _error_hint(exc),
        )
    return Result(
        False,
        f"{WRONG}: the check could not read your answer: its own code raised {name}: {_error_text(exc)}. "
        "If your answer is what the exercise asks for (the type and shape it names), the check itself failed: "
        "please report it, with this message.",
        "Look at what your answer is (run it, or call your function, in its own cell and print the result): "
        "the exercise says which type and shape it should have.",
    )


_ERROR_HINTS = (  # (exception type, words of its message, hint): errors with a usual cause in exercise code
    (
        ValueError,
        "should have unique names",
        "Give your new layer a name of its own, e.g. Dense(5, activation='softmax', name='head'): the reused layers "
        "are called dense_1, dense_2..., and the automatic name of a new Dense (dense, dense_1, ...) can be one of "
        "them, more so each time the cell runs again.",
    ),
    (
        ValueError,
        "truth value of an array",
        "`if` or `and`/`or` on an array asks one yes/no question about many numbers: use np.where(condition, a, b) "
        "to choose entry by entry, and & | for elementwise and/or.",
    ),
    (
        TypeError,
        "converted to python scalars",
        "A function of the math module (math.exp, math.sqrt, ...) takes one number: use numpy's (np.exp, np.sqrt), "
        "which work on whole arrays.",
    ),
    (
        AttributeError,
        "symbolictensor' object has no attribute 'numpy'",
        "Inside tf.function a tensor has no value yet, so .numpy() fails there: return or use the tensor itself.",
    ),
)


def _error_hint(exc: Exception) -> str:
    """Return the hint for an exception raised by the learner's code."""
    for kind, words, hint in _ERROR_HINTS:
        if isinstance(exc, kind) and words in _error_text(exc).lower():
            return hint
    return "Run your function on a small input in its own cell to see the full error."


# ------------------------------------------------------------------------------------------------------------
# Small helpers for checkers: each raises Wrong with a message a learner can act on.
# ------------------------------------------------------------------------------------------------------------


_NAN_HINT = "Run your code on a small input in its own cell and print each step: the first NaN or inf shows where."
_TEXT_HINT = (
    "Return the value itself, not text made from it: drop the str(...), the f-string or the format(...) "
    "(print it, if you like to see it, in its own line)."
)


def _text_of(value) -> str | None:
    """Return the text ``value`` holds when it is text (str, bytes, a numpy string, an array or tensor of strings).

    Text is no number even where numpy would convert it (``np.asarray("2.31", dtype=float)`` is 2.31, and
    ``float(np.asarray("2.31"))`` too): a check must say so rather than accept it.
    """
    if isinstance(value, bytes | np.bytes_):
        return value.decode("utf-8", "replace")
    if isinstance(value, str):  # np.str_ is a str
        return str(value)
    if isinstance(value, numbers.Number) or not hasattr(value, "dtype"):
        return None
    kind = getattr(np.dtype(value.dtype), "kind", None) if isinstance(value, np.ndarray | np.generic) else None
    if kind is None and "string" in str(getattr(value, "dtype", "")):  # a tf.string tensor
        try:
            value = np.asarray(value)
        except Exception:  # noqa: BLE001 (a tensor numpy cannot read is left to the caller)
            return None
        kind = value.dtype.kind
    if kind in ("U", "S") or (kind == "O" and any(isinstance(v, str | bytes) for v in np.ravel(value)[:8])):
        items = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in np.ravel(value)[:4]]
        return (
            items[0] if np.size(value) == 1 else ", ".join(repr(v) for v in items) + ("…" if np.size(value) > 4 else "")
        )
    return None


def refuse_text(value, what: str, expected: str = "a number") -> None:
    """Raise Wrong when ``value`` is text (e.g. ``str(norm)`` or ``f"{p90:.2f}"``), saying so; else do nothing."""
    text = _text_of(value)
    if text is None:
        return
    shown = text if len(text) <= 60 else text[:59] + "…"
    if np.ndim(value) > 0:
        raise Wrong(
            f"{what} should be {expected}, but it holds text ({shown}); return the numbers themselves.", _TEXT_HINT
        )
    raise Wrong(
        f"{what} should be {expected}: you returned the text '{shown}'; return the number itself, e.g. float(...).",
        _TEXT_HINT,
    )


def single_number(value):
    """Return a numpy array or scalar (or eager tensor) that holds one number as a plain Python number; else ``value``.

    ``np.max(x, keepdims=True)`` or ``np.percentile(x, [90])`` is a number in all but its shape: the demos that run
    after a pass get it as one, as the checks (:func:`as_float`) already do.
    """
    is_tensor = type(value).__name__ == "EagerTensor"
    if not (isinstance(value, np.ndarray | np.generic) or is_tensor):
        return value
    try:
        array = np.asarray(value)
    except Exception:  # noqa: BLE001 (left as it is)
        return value
    if array.size == 1 and array.dtype.kind in "biuf":
        return array.reshape(()).item()
    return value


def as_float(value, what: str) -> float:
    """Return ``value`` as a finite float, or raise Wrong saying what was expected.

    Numbers of any kind are accepted, and so are arrays and tensors that hold exactly one number (shape (1,),
    (1, 1), ...): ``np.max(..., keepdims=True)`` is a number in all but its shape. Text (even text of a number,
    ``str(norm)``), booleans and lists are not.
    """
    refuse_text(value, what)
    if isinstance(value, bool | np.bool_):
        raise Wrong(f"{what} should be a number, got {type(value).__name__}.")
    if isinstance(value, list | tuple | dict | set):
        raise Wrong(
            f"{what} should be a number, got {type(value).__name__}.",
            "Give the number itself: no brackets or braces around it.",
        )
    number = value
    if not isinstance(value, numbers.Number) and hasattr(value, "shape"):  # a numpy array, a tensor
        try:
            array = np.asarray(value)
        except Exception:  # noqa: BLE001 (any tensor that numpy cannot read is no number)
            array = None
        if array is not None:
            refuse_text(array, what)
        if array is not None and array.dtype.kind in "biuf":
            if array.dtype.kind == "b":
                raise Wrong(f"{what} should be a number, got a boolean array.")
            if array.size != 1:
                raise Wrong(
                    f"{what} should be one number, got an array of shape {array.shape}.",
                    "The exercise asks for a single value here: compute that one number, not an array of them.",
                )
            number = array.reshape(()).item()
    try:
        number = float(number)
    except (TypeError, ValueError):
        raise Wrong(
            f"{what} should be a number, got {type(value).__name__}.",
            "Give a plain number (an int or a float), computed as the exercise says.",
        ) from None
    if not math.isfinite(number):
        raise Wrong(f"{what} is {number}: look for a division by zero or an overflow.", _NAN_HINT)
    return number


def as_array(value, what: str, shape: tuple | None = None) -> np.ndarray:
    """Return ``value`` as a finite float array (of ``shape`` if given), or raise Wrong (text is refused)."""
    expected = "a number" if shape == () else "an array of numbers"
    refuse_text(value, what, expected)
    if isinstance(value, list | tuple):  # ["0.1", "0.2"] would convert silently below
        try:
            refuse_text(np.asarray(value), what, expected)
        except (TypeError, ValueError):  # ragged: the conversion below explains
            pass
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise Wrong(f"{what} should be an array of numbers, got {type(value).__name__}.") from None
    if shape is not None and array.shape != tuple(shape):
        raise Wrong(f"{what} should have shape {tuple(shape)}, got {array.shape}.")
    if not np.all(np.isfinite(array)):
        raise Wrong(
            f"{what} contains NaN or infinity: look for a division by zero, a log of 0, an overflow.", _NAN_HINT
        )
    return array


def as_callable(value, what: str) -> Callable:
    """Return ``value`` if it is a function, or raise Wrong."""
    if callable(value):
        return value
    name = what if what.isidentifier() else "my_function"
    if isinstance(value, str):
        hint = f"Pass the function itself, without quotes: check({name}), not check('{name}')."
    else:  # most often what the function returned: check(f(x)) instead of check(f)
        hint = f"Pass the function itself, without parentheses: check({name}), not check({name}(...))."
    raise Wrong(f"{what} should be a function (def ...), got {type(value).__name__}.", hint)


class BadSignature(Wrong):
    """Raised by :func:`call` when the learner's function cannot take the arguments the check passes."""


def call(function: Callable, *args, what: str | None = None):
    """Call the learner's ``function`` quietly (no numpy warnings) and return its result.

    Raises :class:`BadSignature` when ``function`` cannot take ``args`` (its ``def`` line was changed) and
    :class:`Unanswered` when it returns None (a body still ``...``); its own exceptions propagate to
    :meth:`Exercise.evaluate`, which reports them.
    """
    name = what or f"`{getattr(function, '__name__', 'your function')}`"
    _check_signature(function, args, name)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = function(*args)
        except Exception as exc:
            try:
                exc._check_call = name  # for the message: which call of the learner's function failed
            except AttributeError:  # an exception type without a __dict__
                pass
            raise
    if result is None:
        todo = "write its body (replace `...`), run its cell, then this check again."
        raise Unanswered(f"{name} returned None: {todo}")
    return result


def _check_signature(function: Callable, args: tuple, name: str) -> None:
    """Raise BadSignature when ``function`` cannot be called with ``args`` (builtins it cannot inspect pass)."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return
    try:
        signature.bind(*args)
    except TypeError:
        count = f"{len(args)} argument{'s' if len(args) != 1 else ''}"
        raise BadSignature(
            f"{name} failed: the check passes {count}, but your function is defined with the parameters {signature}.",
            "Keep the `def` line the exercise gives (its name and parameters), and write your code under it.",
        ) from None


def close(actual, expected, *, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    """Return True when arrays or numbers agree within tolerance (never NaN, text or shapes that differ)."""
    if _text_of(actual) is not None or _text_of(expected) is not None:
        return False
    try:
        actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    if actual.shape != expected.shape and actual.size != 1 and expected.size != 1:
        return False
    return bool(np.allclose(actual, expected, rtol=rtol, atol=atol))


def elementwise(function, z: np.ndarray, *args, what: str) -> np.ndarray:
    """Return ``function(z, *args)`` as a float array of z's shape, or raise Wrong saying what is off."""
    given = z.copy()
    values = call(function, given, *args, what=what)
    if not np.array_equal(given, z):
        raise Wrong(
            f"{what} changed its input z in place (e.g. `z[z < 0] = ...` or `z *= ...`): the caller's array is "
            "then lost.",
            "Build a new array instead: np.where(condition, a, b) returns one and leaves z as it was.",
        )
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
        raise Wrong(
            f"for an array z of shape {z.shape}, {what} returned shape {values.shape}.",
            "Return one value per entry of z, in z's shape: elementwise numpy operations (np.exp, np.where, "
            "+, *) keep it; sums, means and reshapes do not.",
        )
    return values
