"""Checks for the chapter 03 exercises (``exercises/03_nonsaturating_activations.ipynb``).

``q1``: ELU and its derivative; ``q2``: SELU and its derivative (α and λ); ``q3``: a dead-unit counter over a
whole data set, batch by batch; ``q4``: LeCun's std and standardized inputs, so that a 100-layer SELU network
self-normalizes. Each is an :class:`~utils.checks._core.Exercise`: ``q1.check(...)``, ``q1.hint()``,
``q1.solution()``.
"""

from __future__ import annotations

import functools

import numpy as np

from utils import activations as A
from utils.checks._core import (
    BadSignature,
    Exercise,
    Mistake,
    Wrong,
    against_reference,
    as_callable,
    as_float,
    call,
    close,
    elementwise,
    name_mistake,
    refuse_text,
)

Z = np.linspace(-5, 5, 201)  # contains 0 and both sides of it
Z_NEG, Z_POS = Z < 0, Z > 0
FD_STEP = 1e-5


def _with_alpha(function, z, alpha, what):
    try:
        return elementwise(function, z, alpha, what=what)
    except BadSignature:
        raise Wrong(
            f"{what} does not accept α as its second argument.",
            "Keep the signature `def elu(z, alpha=1.0):` and use `alpha` in the formula.",
        ) from None


def _finite_difference(function, z, *args) -> np.ndarray:
    return (call(function, z + FD_STEP, *args) - call(function, z - FD_STEP, *args)) / (2 * FD_STEP)


def _worst_point(values, expected, z, what: str, hint: str) -> Wrong:
    worst = int(np.argmax(np.abs(values - expected)))
    return Wrong(f"at z = {z[worst]:g} {what} gives {values[worst]:.4g}, expected {expected[worst]:.4g}.", hint)


# ------------------------------------------------------------------------------------------------------------
# Exercise 1: ELU and its derivative
# ------------------------------------------------------------------------------------------------------------

ELU_HINT = (
    "ELU_α(z) = z for z ≥ 0 and α (exp(z) − 1) for z < 0: `np.where(z < 0, alpha * np.expm1(np.minimum(z, 0)), z)` "
    "(np.expm1(t) is exp(t) − 1; np.minimum keeps exp from overflowing on large z, which np.where discards anyway)."
)
ELU_GRAD_HINT = (
    "ELU'(z) = 1 for z ≥ 0 and α exp(z) for z < 0: `np.where(z < 0, alpha * np.exp(np.minimum(z, 0)), 1.0)`."
)


_ELU_MISTAKES = (
    Mistake(
        lambda z, alpha=1.0: A.elu(z, 1.0),
        "elu(z, 0.5) gives the same as elu(z, 1.0): your function ignores alpha.",
        ELU_HINT,
    ),
    Mistake(
        lambda z, alpha=1.0: alpha * (np.exp(z) - 1),
        "your ELU applies α (exp(z) − 1) to every z, also to z ≥ 0: there ELU is the identity (ELU(2) = 2).",
        "Use the exponential branch only where z < 0: `np.where(z < 0, alpha * np.expm1(np.minimum(z, 0)), z)`.",
    ),
    Mistake(
        lambda z, alpha=1.0: np.where(z >= 0, alpha * (np.exp(z) - 1), z),
        "your branches are swapped: the negative branch α (exp(z) − 1) is applied to z ≥ 0.",
        "ELU(z) = z where z ≥ 0, and α (exp(z) − 1) where z < 0.",
    ),
    Mistake(
        lambda z, alpha=1.0: np.where(z < 0, alpha * np.exp(z), z),
        "for z < 0 you have α·exp(z): ELU would jump from α to 0 at z = 0. It is α (exp(z) − 1), which "
        "goes to 0 at z = 0 and to −α far left.",
        "Subtract 1 inside: α (exp(z) − 1), which np.expm1 computes: `alpha * np.expm1(np.minimum(z, 0))`.",
    ),
    Mistake(
        lambda z, alpha=1.0: np.maximum(0, z),
        "this is ReLU: ELU is not 0 for z < 0 but α (exp(z) − 1), a smooth curve down to −α.",
        ELU_HINT,
    ),
    Mistake(
        lambda z, alpha=1.0: np.where(z < 0, alpha * z, z),
        "this is leaky ReLU (a straight line α z for z < 0); ELU bends: α (exp(z) − 1).",
        ELU_HINT,
    ),
)

_ELU_GRAD_MISTAKES = tuple(
    Mistake(answer, message, ELU_GRAD_HINT, slot=1)
    for answer, message in (
        (
            lambda z, alpha=1.0: np.where(z < 0, np.exp(z), 1.0),
            "for z < 0 your derivative is exp(z): the factor α is missing (ELU'(z) = α exp(z)).",
        ),
        (
            lambda z, alpha=1.0: alpha * np.exp(z),
            "your derivative uses α exp(z) for every z, also for z ≥ 0, where ELU is z and its slope is 1.",
        ),
        (
            lambda z, alpha=1.0: np.where(z < 0, 0.0, 1.0),
            "this is ReLU's derivative: ELU's slope for z < 0 is α exp(z), not 0 (that is why its units never die).",
        ),
        (lambda z, alpha=1.0: np.where(z < 0, alpha * (np.exp(z) - 1), z), "this is ELU itself, not its derivative."),
    )
)
SMOOTH = np.abs(Z) > 1e-3  # finite differences are meaningless at the kink, which may go either way


def _typical(got, expected, rtol=1e-3) -> bool:
    """Return True when ``got`` is a typical mistake's values (a looser tolerance than a right answer's)."""
    return close(got, expected, rtol=rtol, atol=1e-6)


def _tight(got, expected) -> bool:
    return close(got, expected, rtol=1e-5, atol=1e-7)


def _elu_off(values, expected, args) -> Wrong:
    z, alpha = args
    if not close(values[Z_POS], z[Z_POS], rtol=1e-6, atol=1e-8):
        return Wrong("for z > 0 ELU is the identity, ELU(z) = z; yours changes positive inputs.", ELU_HINT)
    return _worst_point(values, expected, z, f"elu(z, {alpha:g})", ELU_HINT)


def _slope_off(elu):
    def otherwise(slopes, expected, args) -> Wrong:
        z, alpha = args
        numeric = _finite_difference(elu, z, alpha)
        worst = int(np.argmax(np.abs(slopes - expected) * SMOOTH))
        return Wrong(
            f"at z = {z[worst]:g}, elu_grad(z, {alpha:g}) gives {slopes[worst]:.4g}, but the finite difference "
            f"(elu(z + h) − elu(z − h)) / 2h of your elu gives {numeric[worst]:.4g}.",
            ELU_GRAD_HINT,
        )

    return otherwise


def _check_order(function, derivative, name: str, *args) -> None:
    """Raise Wrong when the function given first computes the derivative (the two answers passed swapped)."""
    try:
        values = np.asarray(call(function, Z.copy(), *args), dtype=np.float64)
    except Exception:  # noqa: BLE001 (the check that follows reports the learner's error)
        return
    smooth = np.abs(Z) > 1e-3  # the kink at 0 may go either way
    if values.shape == Z.shape and close(values[smooth], derivative(Z, *args)[smooth], rtol=1e-4, atol=1e-6):
        raise Wrong(
            f"{name}(z) returns the derivative: the two functions are passed in the other order "
            "(or each computes the other's formula).",
            f"Pass them as ch03.q{1 if name == 'elu' else 2}.check({name}, {name}_grad).",
        )


def _check_elu(elu, elu_grad) -> None:
    elu, elu_grad = as_callable(elu, "elu"), as_callable(elu_grad, "elu_grad")
    _check_order(elu, A.elu_grad, "elu", 1.0)
    cases = [(Z, 1.0), (Z, 0.5)]
    against_reference(
        elu,
        A.elu,
        cases,
        _ELU_MISTAKES,
        run=lambda f, z, alpha: _with_alpha(f, z, alpha, "elu(z, alpha)"),
        compare=_tight,
        mistaken=_typical,
        otherwise=_elu_off,
    )
    against_reference(
        elu_grad,
        A.elu_grad,
        cases,
        _ELU_GRAD_MISTAKES,
        run=lambda f, z, alpha: _with_alpha(f, z, alpha, "elu_grad(z, alpha)"),
        compare=lambda got, expected: _tight(got[SMOOTH], expected[SMOOTH]),
        mistaken=_typical,
        otherwise=_slope_off(elu),
    )


q1 = Exercise(
    name="ELU and its derivative",
    checker=_check_elu,
    reference=(A.elu, A.elu_grad),
    mistakes=_ELU_MISTAKES + _ELU_GRAD_MISTAKES,
    hints=[
        "Two branches: z for z ≥ 0, α (exp(z) − 1) for z < 0. np.where(condition, a, b) picks between them; "
        "it computes both branches everywhere, so keep exp's argument ≤ 0 with np.minimum(z, 0).",
        ELU_HINT,
        ELU_GRAD_HINT + " Check it yourself with a finite difference: (elu(z + 1e-5) − elu(z − 1e-5)) / 2e-5.",
    ],
)

# ------------------------------------------------------------------------------------------------------------
# Exercise 2: SELU and its derivative
# ------------------------------------------------------------------------------------------------------------

ALPHA, LAMBDA = A.SELU_ALPHA, A.SELU_LAMBDA
SELU_HINT = (
    "SELU(z) = λ z for z ≥ 0 and λ α (exp(z) − 1) for z < 0, with α ≈ 1.6733 and λ ≈ 1.0507: "
    "`LAMBDA * np.where(z < 0, ALPHA * np.expm1(np.minimum(z, 0)), z)`."
)
SELU_GRAD_HINT = (
    "SELU'(z) = λ for z ≥ 0 and λ α exp(z) for z < 0: "
    "`LAMBDA * np.where(z < 0, ALPHA * np.exp(np.minimum(z, 0)), 1.0)`."
)


def _selu_like(alpha, lam):
    return lambda z: lam * np.where(z < 0, alpha * (np.exp(z) - 1), z)


def _selu_grad_like(alpha, lam):
    return lambda z: lam * np.where(z < 0, alpha * np.exp(z), 1.0)


SELU_MISTAKES = tuple(
    Mistake(answer, message, SELU_HINT)
    for answer, message in (
        (
            _selu_like(LAMBDA, ALPHA),
            "α and λ are swapped: λ ≈ 1.0507 is the overall scale (both branches), α ≈ 1.6733 sits inside the "
            "negative branch.",
        ),
        (
            _selu_like(ALPHA, 1.0),
            "λ is missing: SELU is λ · ELU_α, so both branches are multiplied by λ ≈ 1.0507 (SELU(1) = 1.0507).",
        ),
        (
            lambda z: np.where(z < 0, LAMBDA * ALPHA * (np.exp(z) - 1), z),
            "λ only scales your negative branch: for z ≥ 0 SELU is λ z, not z (SELU(1) = 1.0507).",
        ),
        (
            lambda z: LAMBDA * ALPHA * (np.exp(z) - 1),
            "your SELU applies the negative branch λ α (exp(z) − 1) to every z, also to z ≥ 0, where it is λ z.",
        ),
        (
            lambda z: LAMBDA * np.where(z >= 0, ALPHA * (np.exp(z) - 1), z),
            "your branches are swapped: the exponential branch is applied to z ≥ 0.",
        ),
        (
            _selu_like(1.0, LAMBDA),
            "your α is 1 (ELU's default): SELU's α is 1.6733, chosen with λ so that mean 0 and variance 1 are a "
            "fixed point.",
        ),
    )
)

SELU_GRAD_MISTAKES = tuple(
    Mistake(answer, message, SELU_GRAD_HINT, slot=1)
    for answer, message in (
        (
            _selu_grad_like(LAMBDA, ALPHA),
            "α and λ are swapped in your derivative: λ ≈ 1.0507 multiplies both branches, α ≈ 1.6733 only the "
            "negative one.",
        ),
        (
            _selu_grad_like(ALPHA, 1.0),
            "your derivative forgets λ: SELU'(z) = λ for z ≥ 0 and λ α exp(z) for z < 0.",
        ),
        (
            lambda z: LAMBDA * ALPHA * np.exp(z),
            "your derivative uses λ α exp(z) for every z, also for z ≥ 0, where the slope is λ.",
        ),
        (_selu_like(ALPHA, LAMBDA), "this is SELU itself, not its derivative."),
    )
)


def _selu_off(values, expected, args) -> Wrong:
    if close(values, expected, rtol=1e-2, atol=1e-4):
        return Wrong(
            "close, but your constants are rounded too much.",
            "Use at least 4 decimals, α ≈ 1.6733 and λ ≈ 1.0507 (or the exact values in the setup cell).",
        )
    return _worst_point(values, expected, args[0], "selu(z)", SELU_HINT)


def _selu_slope_off(selu):
    def otherwise(slopes, expected, args) -> Wrong:
        numeric = _finite_difference(selu, Z)
        worst = int(np.argmax(np.abs(slopes - expected) * SMOOTH))
        return Wrong(
            f"at z = {Z[worst]:g}, selu_grad gives {slopes[worst]:.4g}; the finite difference of your selu gives "
            f"{numeric[worst]:.4g}.",
            SELU_GRAD_HINT,
        )

    return otherwise


def _check_selu(selu, selu_grad) -> None:
    selu, selu_grad = as_callable(selu, "selu"), as_callable(selu_grad, "selu_grad")
    _check_order(selu, A.selu_grad, "selu")
    mistaken = functools.partial(_typical, rtol=2e-3)
    against_reference(
        selu,
        A.selu,
        [(Z,)],
        SELU_MISTAKES,
        run=lambda f, z: elementwise(f, z, what="selu(z)"),
        compare=lambda got, expected: close(got, expected, rtol=1e-4, atol=1e-6),
        mistaken=mistaken,
        otherwise=_selu_off,
    )
    against_reference(
        selu_grad,
        A.selu_grad,
        [(Z,)],
        SELU_GRAD_MISTAKES,
        run=lambda f, z: elementwise(f, z, what="selu_grad(z)"),
        compare=lambda got, expected: close(got[SMOOTH], expected[SMOOTH], rtol=1e-4, atol=1e-6),
        mistaken=mistaken,
        otherwise=_selu_slope_off(selu),
    )


def _demo_selu(selu, selu_grad) -> None:
    """Show the fixed point: a standard normal z comes out of SELU with mean ≈ 0 and variance ≈ 1."""
    z = np.random.default_rng(0).standard_normal(1_000_000)
    out = np.asarray(call(selu, z), dtype=np.float64)
    print(f"For z ~ N(0, 1), your SELU gives mean {out.mean():+.3f} and variance {out.var():.3f}: the fixed point.")


q2 = Exercise(
    name="SELU and its derivative",
    checker=_check_selu,
    reference=(A.selu, A.selu_grad),
    mistakes=SELU_MISTAKES + SELU_GRAD_MISTAKES,
    hints=[
        "SELU is a scaled ELU: λ · ELU_α(z), with α ≈ 1.6733 inside the negative branch and λ ≈ 1.0507 outside.",
        SELU_HINT,
        SELU_GRAD_HINT + " Compare with a finite difference of your selu.",
    ],
    on_pass=_demo_selu,
)

# ------------------------------------------------------------------------------------------------------------
# Exercise 3: count dead units over the whole data set
# ------------------------------------------------------------------------------------------------------------


def dead_unit_batches(
    seed: int = 0, n_batches: int = 4, batch: int = 32, units: int = 40, dead: int = 8, partly: int = 5
) -> list[np.ndarray]:
    """Return ReLU outputs of one layer, batch by batch.

    ``dead`` units output 0 on every batch; then, for each batch, ``partly`` units fire on that batch only and
    are silent on all the others: whichever batches a count leaves out (the last, the middle ones, ...), it takes
    some live units for dead. The first example of each batch silences every unit (so that asking per example,
    ``axis=1``, finds something).
    """
    rng = np.random.default_rng(seed)
    out = [np.maximum(0, rng.standard_normal((batch, units)) + 0.3) for _ in range(n_batches)]
    for i, a in enumerate(out):
        a[:, :dead] = 0  # dead everywhere
        for j in range(n_batches):
            if j != i:  # group j fires on batch j only
                a[:, dead + j * partly : dead + (j + 1) * partly] = 0
        a[0] = 0
    return out


# 20% and 30% dead; the group sizes keep every typical wrong count apart from the right one and from each other
Q3_DATA = ({"seed": 0}, {"seed": 1, "n_batches": 3, "units": 50, "dead": 15, "partly": 8})


def _reference_dead_fraction(batches) -> float:
    return float(np.mean(np.all(np.concatenate(batches) == 0, axis=0)))


def _dead_on_subsets(batches) -> list[float]:
    """Return the dead fraction counted on every proper subset of the batches (one batch, two, ...)."""
    from itertools import combinations

    n = len(batches)
    return [
        _reference_dead_fraction([batches[i] for i in subset])
        for size in range(1, n)
        for subset in combinations(range(n), size)
    ]


def _check_dead_fraction(dead_fraction) -> None:
    dead_fraction = as_callable(dead_fraction, "dead_fraction")
    for data in Q3_DATA:
        batches = dead_unit_batches(**data)
        copies = [b.copy() for b in batches]
        result = call(dead_fraction, copies, what="dead_fraction(batches)")
        if any(not np.array_equal(a, b) for a, b in zip(batches, copies, strict=True)):
            raise Wrong(
                "your function changed the batches it was given (e.g. `h[h > 0] = ...`): work on a copy.",
                "np.concatenate(batches) returns a new array; compare it with `== 0` without writing into it.",
            )
        answer = _as_fraction(result, batches)
        expected = _reference_dead_fraction(batches)
        if abs(answer - expected) < 1e-6:
            continue
        _diagnose_dead_fraction(answer, expected, batches)


def _as_fraction(result, batches) -> float:
    """Return the learner's result as one number, or raise Wrong explaining an array or a boolean."""
    array = np.asarray(result) if not isinstance(result, str | list | tuple | dict) else None
    if array is not None and array.dtype == bool:
        if array.size == 1:
            raise Wrong(
                "dead_fraction returned True or False: np.all without axis= asks one question about the whole array.",
                "Ask per unit (column): np.all(outputs == 0, axis=0), then np.mean of that.",
            )
        raise Wrong(
            f"dead_fraction returned {array.size} booleans (one per {_axis_name(array.size, batches)}): "
            "that is which units are dead, not their fraction.",
            "Take np.mean of that boolean array: the fraction of True.",
        )
    if array is not None and array.dtype.kind in "iuf" and array.size > 1:
        raise Wrong(
            f"dead_fraction returned {array.size} numbers (one per {_axis_name(array.size, batches)}); "
            "return one number, the fraction of dead units.",
            "Decide per unit, np.all(outputs == 0, axis=0), then average with np.mean.",
        )
    return as_float(result, "dead_fraction(batches)")


def _axis_name(size: int, batches) -> str:
    rows, units = sum(len(b) for b in batches), batches[0].shape[1]
    return {units: "unit", rows: "example", len(batches): "batch"}.get(size, "entry")


def _all_rows(batches) -> np.ndarray:
    return np.concatenate(batches)


_OVERCOUNT = (
    "you found {answer:.0%} dead units, but only {expected:.0%} are: a unit that is silent on one batch may fire "
    "on another, so deciding batch by batch overcounts."
)
_OVERCOUNT_HINT = (
    "A unit is dead only if it outputs 0 for every example of every batch: "
    "`np.concatenate(batches)` first, then look at each unit (column)."
)
_DEAD_MISTAKES = (  # tried in this order, after the two per-batch counts and any subset of the batches
    Mistake(
        lambda batches: float(np.mean(_all_rows(batches) == 0)),
        "{answer:.1%} is the fraction of zero outputs, not of dead units: a live ReLU unit outputs 0 "
        "for about half the examples.",
        "Decide per unit (per column, axis=0): dead if all its outputs are 0. Then average over units.",
    ),
    Mistake(
        lambda batches: float(np.mean(np.all(_all_rows(batches) == 0, axis=1))),
        "you found {answer:.0%}: np.all(..., axis=1) asks, for each example (row), whether ALL units are 0. "
        "A unit is a column: ask it per column.",
        "np.all(outputs == 0, axis=0): axis=0 runs down the rows, so you get one answer per unit.",
    ),
    Mistake(
        lambda batches: float(np.mean(np.all(np.stack(batches) == 0, axis=0))),
        "np.stack(batches) makes a 3-D array (batch, example, unit), and np.all(..., axis=0) then only runs "
        "over the batches: you counted (example, unit) pairs, not units.",
        "np.concatenate(batches) stacks the rows into one 2-D array (example, unit); then "
        "np.all(outputs == 0, axis=0). (Or keep np.stack and use axis=(0, 1).)",
    ),
    Mistake(
        lambda batches: float(np.mean(np.any(_all_rows(batches) == 0, axis=0))),
        "you count units that are 0 for *some* example (np.any); a dead unit is 0 for *every* example.",
        "Use np.all(outputs == 0, axis=0).",
    ),
    Mistake(
        lambda batches: _reference_dead_fraction(batches) * batches[0].shape[1],
        "{answer:g} is the number of dead units; return their fraction (between 0 and 1).",
        "Divide by the number of units, or take np.mean of a boolean array.",
    ),
    Mistake(
        lambda batches: 100 * _reference_dead_fraction(batches),
        "{answer:g} is a percentage; return a fraction between 0 and 1.",
        "Drop the × 100.",
    ),
    Mistake(
        lambda batches: 1 - _reference_dead_fraction(batches),
        "that is the fraction of live units: return the dead ones.",
        "1 − your answer.",
    ),
    Mistake(
        lambda batches: 0.0,
        "you found no dead unit, but there are some. A dead unit outputs exactly 0 on every example "
        "(ReLU outputs are never negative, so a test like `< 0` finds none).",
        "Test `outputs == 0` (or `outputs <= 0`), then np.all(..., axis=0): one answer per unit (column).",
    ),
)
_PER_BATCH_MISTAKES = (
    Mistake(
        lambda batches: float(np.mean([_reference_dead_fraction([b]) for b in batches])),
        _OVERCOUNT,
        _OVERCOUNT_HINT,
    ),
    Mistake(
        lambda batches: float(np.mean(np.any([np.all(b == 0, axis=0) for b in batches], axis=0))),
        _OVERCOUNT,
        _OVERCOUNT_HINT,
    ),
)


def _same_fraction(answer, expected) -> bool:
    return abs(answer - expected) < 1e-6


def _diagnose_dead_fraction(answer: float, expected: float, batches) -> None:
    values = {"answer": answer, "expected": expected}
    name_mistake(answer, (batches,), _PER_BATCH_MISTAKES, compare=_same_fraction, values=values)
    if any(_same_fraction(answer, v) for v in _dead_on_subsets(batches)):
        raise Wrong(
            f"you found {answer:.0%} dead units, but only {expected:.0%} are: you looked at some of the batches "
            "only (one, or the first and the last, ...), which overcounts: a unit silent there may fire on another.",
            "Use every batch: `np.concatenate(batches)`, then look at each unit (column).",
        )
    name_mistake(answer, (batches,), _DEAD_MISTAKES, compare=_same_fraction, values=values)
    raise Wrong(
        f"you found {answer:.3g}, expected {expected:.3g} on the check's own batches.",
        "Concatenate the batches, find the units (columns) that are 0 everywhere, return their fraction.",
    )


DEMO_BIAS = -1.0  # hidden biases that silence some ReLU units from the start, as in chapter 03


def _demo_dead_fraction(dead_fraction) -> None:
    """Run the learner's counter on a ReLU network whose negative biases leave units dead on the training set.

    No training: a network trained with a too-large learning rate loses units too, but which ones depends on
    the last bits of every step (another CPU, another count). Here every unit's largest pre-activation stays
    over 1e-3 away from 0, so the counts are the same on any machine.
    """
    from utils import nets
    from utils.blas import single_blas_thread
    from utils.data import digits
    from utils.mlp import dead_fractions

    splits = digits()
    sizes = [splits.n_features] + [64] * 5 + [splits.n_classes]
    net = nets.init_net(sizes, "relu", bias=DEMO_BIAS, seed=0, dtype=np.float32)
    with single_blas_thread():
        hidden = nets.forward(net, splits.X_train).hidden
    yours = [as_float(dead_fraction(np.array_split(h, 10)), "the fraction") for h in hidden]
    first_batch = [as_float(dead_fraction([h[:128]]), "the fraction") for h in hidden]
    print(
        f"A 5-layer ReLU network (64 units per layer, hidden biases {DEMO_BIAS:g}), on the whole training set "
        "in 10 batches:"
    )
    print("  dead units per layer, your counter:  ", "  ".join(f"{v:4.0%}" for v in yours))
    print("  counted on the first batch only:     ", "  ".join(f"{v:4.0%}" for v in first_batch))
    assert np.allclose(yours, dead_fractions(net, splits.X_train))


q3 = Exercise(
    name="a dead-unit counter over a whole data set",
    checker=_check_dead_fraction,
    reference=(_reference_dead_fraction,),
    mistakes=_PER_BATCH_MISTAKES + _DEAD_MISTAKES,
    hints=[
        "A ReLU unit is dead on a data set when it outputs 0 for every example of it, in every batch.",
        "Stack the batches: `outputs = np.concatenate(batches)` has one row per example and one column per unit.",
        "`np.mean(np.all(outputs == 0, axis=0))`: per column, all zeros? Then the fraction of such columns.",
    ],
    on_pass=_demo_dead_fraction,
)

# ------------------------------------------------------------------------------------------------------------
# Exercise 4: make a 100-layer SELU network self-normalize
# ------------------------------------------------------------------------------------------------------------

Q4_SHAPES = ((64, 100), (100, 30), (256, 64), (30, 256))  # fan_in ≠ fan_out, and no round 1/√fan: see the tests
Q4_DEPTH, Q4_WIDTH = 100, 100
LECUN_HINT = "return 1 / np.sqrt(fan_in)"


_LECUN_MISTAKES = tuple(
    Mistake(answer, message, LECUN_HINT)
    for answer, message in (
        (
            lambda fan_in, fan_out: np.sqrt(2 / fan_in),
            "that is He's std, sqrt(2 / fan_in), made for ReLU (which zeroes half its inputs); SELU needs LeCun's: "
            "Var(W) = 1 / fan_in.",
        ),
        (
            lambda fan_in, fan_out: np.sqrt(2 / (fan_in + fan_out)),
            "that is Glorot's std, sqrt(2 / (fan_in + fan_out)): LeCun's uses fan_in only.",
        ),
        (lambda fan_in, fan_out: 1 / fan_in, "you returned the variance 1 / fan_in; the std is its square root."),
        (lambda fan_in, fan_out: 1 / np.sqrt(fan_out), "you used fan_out: LeCun's std is 1 / sqrt(fan_in)."),
        (
            lambda fan_in, fan_out: np.sqrt(3 / fan_in),
            "that is LeCun's uniform limit, sqrt(3 / fan_in), not the std of a normal law.",
        ),
        (
            lambda fan_in, fan_out: 1 / np.sqrt(fan_in * fan_out),
            "you divided by sqrt(fan_in · fan_out): only fan_in enters LeCun's std.",
        ),
    )
)


def _lecun_std(fan_in, fan_out):
    return 1 / np.sqrt(fan_in)


def _check_lecun_std(lecun_std) -> None:
    stds = np.array([_one_std(lecun_std, fan_in, fan_out) for fan_in, fan_out in Q4_SHAPES])
    fan_in, fan_out = np.array(Q4_SHAPES, dtype=np.float64).T
    expected = 1 / np.sqrt(fan_in)
    if close(stds, expected, rtol=1e-5):
        return
    if np.ptp(stds) <= 1e-12 * abs(stds[0]):
        raise Wrong(
            f"lecun_std returns {stds[0]:.4g} for every layer shape: the std must depend on the layer's fan_in "
            "(a wide layer sums more inputs, so it needs smaller weights).",
            LECUN_HINT,
        )
    name_mistake(stds, (fan_in, fan_out), _LECUN_MISTAKES, compare=lambda a, b: close(a, b, rtol=1e-5))
    worst = int(np.argmax(np.abs(stds / expected - 1)))
    raise Wrong(
        f"lecun_std({Q4_SHAPES[worst][0]}, {Q4_SHAPES[worst][1]}) = {stds[worst]:.4g}, expected {expected[worst]:.4g}.",
        LECUN_HINT,
    )


def _one_std(lecun_std, fan_in: int, fan_out: int) -> float:
    result = call(lecun_std, fan_in, fan_out, what="lecun_std(fan_in, fan_out)")
    if np.size(result) > 1 and not isinstance(result, str):
        raise Wrong(
            f"lecun_std({fan_in}, {fan_out}) returned {np.size(result)} numbers; return one: the standard "
            "deviation of the weights, not the weights themselves.",
            LECUN_HINT,
        )
    return as_float(result, f"lecun_std({fan_in}, {fan_out})")


def _raw_digits() -> np.ndarray:
    from utils.data import load_digits_splits

    return load_digits_splits(standardize=False).X_train[:256]


def _standardize(X):
    std = X.std(axis=0)
    return (X - X.mean(axis=0)) / np.where(std > 0, std, 1)


def _range(X):
    return np.where(np.ptp(X, axis=0) > 0, np.ptp(X, axis=0), 1)


_STANDARDIZE_MISTAKES = tuple(
    Mistake(answer, message, hint, slot=1)
    for answer, message, hint in (
        (
            lambda X: (X - X.mean()) / X.std(),
            "you used one mean and std for the whole array: standardize each feature (column) on its own.",
            "mean = X.mean(axis=0), std = X.std(axis=0).",
        ),
        (
            lambda X: X - X.mean(axis=0),
            "your features are centered but not scaled: divide by each feature's std too.",
            "(X - mean) / std, with std = X.std(axis=0).",
        ),
        (
            lambda X: (X - X.mean(axis=0)) / np.where(X.std(axis=0) > 0, X.std(axis=0) ** 2, 1),
            "you divided by the variance; divide by the standard deviation (its square root).",
            "X.std(axis=0), not X.var(axis=0).",
        ),
        (
            lambda X: (X - X.min(axis=0)) / _range(X),
            "this is min-max scaling (each feature to [0, 1]), not standardization: the features' means are not 0.",
            "Subtract each feature's mean, X.mean(axis=0), and divide by its std, X.std(axis=0).",
        ),
        (
            lambda X: X / X.max(),
            "you divided by the largest pixel value: the features are in [0, 1] now, but not centered or scaled "
            "to std 1.",
            "Subtract each feature's mean, X.mean(axis=0), and divide by its std, X.std(axis=0).",
        ),
        (
            lambda X: (X - X.mean(axis=1, keepdims=True)) / X.std(axis=1, keepdims=True),
            "you standardized each example (row, axis=1); standardize each feature (column, axis=0).",
            "mean = X.mean(axis=0), std = X.std(axis=0).",
        ),
    )
)


def _standardized(got, expected) -> bool:
    return close(got, expected, rtol=1e-4, atol=1e-5)


def _check_standardize(standardize) -> np.ndarray:
    X = _raw_digits()
    original = X.copy()
    result = call(standardize, X, what="standardize(X)")
    refuse_text(result, "standardize(X)", "an array of numbers")
    try:
        result = np.asarray(result, dtype=np.float64)
    except (TypeError, ValueError):
        raise Wrong(
            f"standardize(X) should return an array, got {type(result).__name__}.",
            "Return the standardized array itself: (X - mean) / std.",
        ) from None
    if result.shape != X.shape:
        raise Wrong(
            f"standardize(X) should keep X's shape {X.shape}, got {result.shape}.",
            "Compute the mean and std per column (axis=0), and return X - mean divided by std: same shape as X.",
        )
    if not np.all(np.isfinite(result)):
        raise Wrong(
            "your result contains NaN or infinity: some pixels are 0 in every image (std 0), and x / 0 is not a "
            "number.",
            "Divide by `np.where(std > 0, std, 1)`: a constant feature then stays at 0.",
        )
    if not np.array_equal(X, original):
        raise Wrong("your function changed X in place (e.g. `X -= ...`): return a new array.", "X = X - mean ...")
    mean, std = original.mean(axis=0), original.std(axis=0)
    safe = np.where(std > 0, std, 1)
    if _standardized(result, (original - mean) / safe):
        return result
    sample_std = original.std(axis=0, ddof=1)  # pandas' default: the same scaling within 0.2% on 256 rows
    if _standardized(result, (original - mean) / np.where(sample_std > 0, sample_std, 1)):
        return result
    name_mistake(result, (original,), _STANDARDIZE_MISTAKES, compare=_standardized)
    column_std = result.std(axis=0)
    raise Wrong(
        f"each feature should come out with mean 0 and std 1 (or stay 0 if constant); yours have means up to "
        f"{np.abs(result.mean(axis=0)).max():.3g} and stds {column_std.min():.3g}..{column_std.max():.3g}.",
        "(X - X.mean(axis=0)) / std, with std = X.std(axis=0) and constant features divided by 1.",
    )


def _check_self_normalizing(lecun_std, standardize) -> None:
    lecun_std = as_callable(lecun_std, "lecun_std")
    standardize = as_callable(standardize, "standardize")
    _check_lecun_std(lecun_std)
    X = _check_standardize(standardize)
    signal = A.compute_signal_through_depth("selu", Q4_DEPTH, Q4_WIDTH, init=lecun_std, X=X)
    healthy = signal.diverged_at is None and np.max(np.abs(signal.mean)) < 0.15
    if not (healthy and 0.85 < np.min(signal.std) and np.max(signal.std) < 1.2):
        raise Wrong(
            f"your pieces are right, yet the 100-layer stack ends with mean {signal.mean[-1]:.3g} and std "
            f"{signal.std[-1]:.3g}.",
            "Run the check again; if it persists, compare with `ch03.q4.solution()`.",
        )


def _demo_self_normalizing(lecun_std, standardize) -> None:
    X_raw = _raw_digits()
    cases = {
        "your init + your standardize": dict(init=lecun_std, X=standardize(X_raw)),
        "your init, raw pixels": dict(init=lecun_std, X=X_raw),
        "He init + your standardize": dict(init="he", X=standardize(X_raw)),
    }
    print(f"std of the activations in a {Q4_DEPTH}-layer SELU network of width {Q4_WIDTH} (256 digits):")
    print(f"{'':<30}{'layer 1':>9}{'layer 10':>10}{'layer 100':>11}")
    for label, kwargs in cases.items():
        s = A.compute_signal_through_depth("selu", Q4_DEPTH, Q4_WIDTH, **kwargs)
        print(f"{label:<30}{s.std[0]:>9.2f}{s.std[9]:>10.2f}{s.std[-1]:>11.3g}")


q4 = Exercise(
    name="a self-normalizing 100-layer SELU network",
    checker=_check_self_normalizing,
    reference=(_lecun_std, _standardize),
    mistakes=_LECUN_MISTAKES + _STANDARDIZE_MISTAKES,
    hints=[
        "SELU's fixed point (mean 0, variance 1) holds when each layer's weights have Var(W) = 1 / fan_in "
        "(LeCun) and the inputs are standardized, feature by feature.",
        "lecun_std: `1 / np.sqrt(fan_in)`. standardize: subtract `X.mean(axis=0)`, divide by `X.std(axis=0)`.",
        "Some digit pixels are 0 in every image (std 0): divide by `np.where(std > 0, std, 1)`.",
    ],
    on_pass=_demo_self_normalizing,
)
