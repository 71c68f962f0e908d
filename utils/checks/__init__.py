"""Exercise checks, one module per chapter (``from utils.checks import ch01``), on top of the compute modules.

Each exercise is an :class:`~utils.checks._core.Exercise`: ``q1.check(answer)``, ``q1.hint()``, ``q1.solution()``.
"""
