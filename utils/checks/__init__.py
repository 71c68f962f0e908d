"""Exercise checks, one module per chapter (``from utils.checks import ch01``), on top of the compute modules.

Each exercise is an :class:`~utils.checks._core.Exercise`: ``q1.check(answer)``, ``q1.hint()``, ``q1.solution()``.
A chapter's checker reads answers with the shared helpers of :mod:`utils.checks._core`, which keep every check
fair: ``as_float`` / ``as_array`` (a number is a number: text such as ``str(norm)`` is refused and says so, a
size-1 array is a number), ``call`` (the learner's function, with an error located at the learner's own line).
A check is data where it can be: an exercise lists its ``reference`` answers and its typical ``mistakes``
(``Mistake(answer, message, hint)``: a wrong answer a learner would give, with what the check must then say), and
``against_reference`` runs the learner's function and the reference case by case, naming the mistake whose answer
gives the learner's result. The solutions that ``q.solution()`` prints are generated into ``solutions.json`` from
the solutions notebooks by ``tools/make_exercises.py``.
"""
