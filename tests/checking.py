"""A shared assertion for the exercise-check tests."""


def assert_caught(result, message: str, hint: str | None) -> None:
    """Assert that a check's result failed with ``message`` in its text and ``hint`` (unless None) in its hint."""
    assert not result.passed, f"the check passed a wrong answer: {result.message}"
    assert message in result.message, f"expected {message!r} in {result.message!r}"
    if hint is not None:
        assert hint in (result.hint or ""), f"expected hint {hint!r} in {result.hint!r}"
