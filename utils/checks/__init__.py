"""Exercise checks, one module per chapter (``from utils.checks import ch01``), on top of the compute modules.

Each exercise is an :class:`~utils.checks._core.Exercise`: ``q1.check(answer)``, ``q1.hint()``, ``q1.solution()``.
A chapter's checker reads answers with the shared helpers of :mod:`utils.checks._core`, which keep every check
fair: ``as_float`` / ``as_array`` (a number is a number: text such as ``str(norm)`` is refused and says so, a
size-1 array is a number), ``call`` (the learner's function, with an error located at the learner's own line),
and ``Mistake`` (a typical mistake's message and hint, declared together).
"""
