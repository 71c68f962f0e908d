"""Shared helpers for the exercise-check tests: run the solutions, assert a mistake was caught."""

from utils.checks._core import solution_text


def assert_caught(result, message: str, hint: str | None) -> None:
    """Assert that a check's result failed with ``message`` in its text and ``hint`` (unless None) in its hint."""
    assert not result.passed, f"the check passed a wrong answer: {result.message}"
    assert message in result.message, f"expected {message!r} in {result.message!r}"
    if hint is not None:
        assert hint in (result.hint or ""), f"expected hint {hint!r} in {result.hint!r}"


def run_solutions(questions: dict, namespace: dict) -> dict:
    """Run every question's solution text in ``namespace`` (the notebook's imports) and return the namespace.

    As a learner who calls ``q.solution()`` and pastes what it prints would run it.
    """
    for question in questions.values():
        exec(solution_text(question), namespace)  # noqa: S102 (the course's own solution text)
    return namespace
