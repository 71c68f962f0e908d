"""Checks for the chapter 08 exercises (``exercises/08_capstone_debugging_a_deep_net.ipynb``).

One exercise per broken set-up of :mod:`utils.capstone`: ``q1`` vanishing, ``q2`` exploding, ``q3`` dead ReLUs,
``q4`` BN never in training mode, ``q5`` frozen layers that still train, ``q6`` an exploding RNN, ``q7`` the
mystery (two causes). Each check takes ``(diagnosis, fix)``: the diagnosis is one key of :data:`DIAGNOSES` (two
for the mystery), the fix a function; the check runs the fixed set-up and says whether it trains now, which
statistic still looks wrong if not, and names a fix that treats only the symptom as such.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from utils.capstone import (
    CAUSES,
    DEPTH,
    DIGITS_TARGET,
    EPOCHS,
    JUDGED_EPOCHS,
    LEARNING_RATE,
    SEEDS,
    SETUPS,
    TRANSFER_NEW_TASK,
    Run,
    data_for,
    fails,
    run_setup,
    score_outputs,
    stats_batch,
)
from utils.checks._core import Exercise, Unanswered, Wrong, _check_signature, as_callable

DIAGNOSES = dict(CAUSES)


def show_diagnoses() -> None:
    """Print the diagnoses to choose from, one per line."""
    for key, text in DIAGNOSES.items():
        print(f"{key!r:<18} {text}")


_DIAGNOSIS_HINTS = {
    "vanishing": "Compare the gradient norms of the lowest and the top hidden layer (keras_layer_stats, chapter 01).",
    "exploding": "Look at the activation std layer by layer, and at std(W)·√fan_in (chapter 02).",
    "dead": "Look at the fraction of units that output 0 for every example (frac_dead, chapter 03).",
    "bn_mode": "Look at the BN layers' moving means and variances after training (chapter 04).",
    "frozen_train": "Compare the frozen layers' weights before and after training (chapter 06).",
    "rnn_exploding": "Look at the gradient norm over training, and at the recurrent activation (chapter 05).",
    "init_too_small": "Compute std(W)·√fan_in for the hidden layers (chapter 02).",
}


def _keys(diagnosis) -> set[str]:
    """Return the diagnosis keys in a learner's answer (one string, or a list/tuple/set of strings), or raise Wrong."""
    items = [diagnosis] if isinstance(diagnosis, str) else diagnosis
    if not isinstance(items, list | tuple | set | frozenset) or not all(isinstance(i, str) for i in items):
        raise Wrong(
            f"the diagnosis should be one of the keys of ch08.DIAGNOSES (text), got {type(diagnosis).__name__}.",
            'Run ch08.show_diagnoses() and copy a key, e.g. diagnosis = "dead".',
        )
    keys = {i.strip().lower() for i in items}
    unknown = sorted(keys - set(DIAGNOSES))
    if unknown:
        raise Wrong(f"{unknown[0]!r} is not one of the diagnoses.", "Run ch08.show_diagnoses() and copy a key exactly.")
    return keys


def _check_diagnosis(name: str, diagnosis) -> None:
    expected = set(SETUPS[name].causes)
    keys = _keys(diagnosis)
    if keys == expected:
        return
    if len(expected) > 1 and keys < expected:
        raise Wrong(
            "one of the causes is right, but this set-up has two.",
            'Give both keys, e.g. diagnosis = ("...", "..."): ' + _DIAGNOSIS_HINTS[next(iter(expected - keys))],
        )
    wrong = sorted(keys - expected)
    raise Wrong(
        f"the diagnosis {', '.join(repr(k) for k in sorted(keys))} does not match what the statistics show"
        + (f" ({wrong[0]!r} is not a cause here)." if wrong else "."),
        _DIAGNOSIS_HINTS[sorted(expected)[0]],
    )


# ------------------------------------------------------------------------------------------------------------
# Running a learner's fix: does the set-up train now, or what still looks wrong?
# ------------------------------------------------------------------------------------------------------------


@dataclass
class Assessment:
    """What running a learner's fix showed: ``problem`` is None when it trains, else a key, with the evidence."""

    problem: str | None
    detail: str = ""
    run: Run | None = None


def model_problem(name: str, model) -> Assessment | None:
    """Return why ``model`` cannot stand in for set-up ``name``'s model (wrong type, shape, depth), or None."""
    import keras

    if not isinstance(model, keras.Model):
        return Assessment("not_a_model", f"it returned a {type(model).__name__}, not a Keras model")
    if getattr(model, "optimizer", None) is None or getattr(model, "loss", None) is None:
        return Assessment("not_compiled", "the model is not compiled")
    data = data_for(SETUPS[name])
    try:
        out = model(data.X_train[:2], training=False)
    except Exception as exc:  # noqa: BLE001 (a learner's model that cannot take the data: say so)
        return Assessment("wrong_shape", f"it cannot take the set-up's inputs of shape {data.X_train.shape[1:]}: {exc}")
    expected = (2, 1) if name == "rnn" else (2, 10)
    if tuple(out.shape) != expected:
        return Assessment("wrong_shape", f"its output has shape {tuple(out.shape)}, expected {expected}")
    if name != "rnn":
        hidden = len([layer for layer in model.layers if hasattr(layer, "kernel")]) - 1
        if hidden < DEPTH:
            return Assessment("too_shallow", f"it has {hidden} hidden layers with weights, the set-up has {DEPTH}")
    return None


def symptom_only(name: str, model) -> Assessment | None:
    """Return an Assessment when ``model`` treats the symptom and leaves the cause (the doctor still finds it)."""
    from utils.clipping import clips
    from utils.doctor import examine

    keys = {f.key: f for f in examine(model, *stats_batch(name))}
    if name == "exploding" and clips(model) and "exploding" in keys:
        return Assessment("clipping_only", keys["exploding"].evidence)
    learning_rate = float(np.asarray(model.optimizer.learning_rate))
    if name in ("dead", "mystery") and "dead" in keys and learning_rate < LEARNING_RATE:
        return Assessment("lower_lr_only", keys["dead"].evidence)
    return None


def remaining_problem(name: str, model) -> str:
    """Return the evidence of the first problem the doctor still finds in ``model`` (fresh), or an empty string."""
    from utils.doctor import examine

    findings = examine(model, *stats_batch(name))
    return findings[0].evidence if findings else ""


def _first_failure(name: str, answer: Callable, seeds) -> Run | None:
    """Run a learner's version on each seed; return the first run that misses the target, or None."""
    for seed in seeds:
        run = run_setup(name, "yours", seed, answer=answer)
        if fails(SETUPS[name], run):
            return run
    return None


def assess_model_fix(name: str, builder: Callable, seeds=SEEDS) -> Assessment:
    """Run a learner's model builder for set-up ``name`` on each seed: does it train, or what still looks wrong?"""
    from utils.course import seed_everything

    seed_everything(seeds[0])
    fresh = builder()
    problem = model_problem(name, fresh) or symptom_only(name, fresh)
    if problem:
        return problem
    failed = _first_failure(name, builder, seeds)
    if failed is not None:
        return Assessment("not_trained", remaining_problem(name, fresh), failed)
    return Assessment(None)


def _score_with_batch_statistics(model) -> float:
    """Return the BN set-up's validation accuracy with BN in training mode (batch statistics), state restored."""
    data = data_for(SETUPS["bn_mode"])
    saved = [v.numpy().copy() for v in model.non_trainable_variables]  # a training-mode call moves the averages
    try:
        return score_outputs(SETUPS["bn_mode"], np.asarray(model(data.X_valid, training=True)), data)
    finally:
        for variable, value in zip(model.non_trainable_variables, saved, strict=True):
            variable.assign(value)


def _bn_momentum(model) -> float:
    import keras

    momenta = [layer.momentum for layer in model.layers if isinstance(layer, keras.layers.BatchNormalization)]
    return float(max(momenta)) if momenta else float("nan")


def assess_step_fix(step: Callable, seeds=SEEDS) -> Assessment:
    """Run the BN set-up with a learner's train step on each seed: does it train, are the moving averages updated?

    A step that trains BN in training mode but misses the target only at inference, because BN's moving averages
    lag behind the weights, is told so (``bn_lagging``), not that it "does not train".
    """
    from utils.doctor import examine

    first = run_setup("bn_mode", "yours", seeds[0], answer=step)
    findings = {f.key: f for f in examine(first.model, *stats_batch("bn_mode"))}
    if "bn_mode" in findings:
        return Assessment("bn_not_updated", findings["bn_mode"].evidence, first)
    failed = _first_failure("bn_mode", step, seeds)
    if failed is None:
        return Assessment(None)
    batch_score = _score_with_batch_statistics(failed.model)
    if not failed.diverged() and batch_score >= DIGITS_TARGET:
        momentum = _bn_momentum(failed.model)
        detail = (
            f"with batch statistics (training=True) it reaches {batch_score:.2f} on seed {failed.seed}, with its "
            f"moving averages (training=False) {failed.judged:.2f}; at momentum {momentum:g} the averages remember "
            f"about the last {1 / (1 - momentum):.0f} steps, and the weights moved faster than that"
        )
        return Assessment("bn_lagging", detail, failed)
    return Assessment("not_trained", next(iter(findings.values())).evidence if findings else "", failed)


def _shares_layers(run: Run) -> bool:
    """Return True when the learner's model uses the base model's own layers (not copies)."""
    base_layers = {id(layer) for layer in run.base.layers}
    return any(id(layer) in base_layers for layer in run.model.layers)


def assess_transfer_fix(procedure: Callable, seeds=SEEDS) -> Assessment:
    """Run the transfer set-up with a learner's procedure: frozen layers unchanged, digits 0-4 kept, 5-9 learned?"""
    for seed in seeds:
        run = run_setup("transfer", "yours", seed, answer=procedure)
        shared = _shares_layers(run)
        frozen = [layer for layer in run.model.layers if not layer.trainable and layer.weights]
        if not frozen:
            where = "the base model that shares them" if shared else "the pretrained features (your copy of them)"
            return Assessment(
                "nothing_frozen", f"no layer of the model has trainable=False, so fit changes {where}", run
            )
        if run.moved_in_fit.size and np.max(run.moved_in_fit) > 0:
            moved = f"fit moved the reused layers by up to {100 * np.max(run.moved_in_fit):.0f}% of their norm"
            return Assessment("frozen_moved", moved, run)
        if run.moved_before.size and np.max(run.moved_before) > 0:
            moved = (
                f"your function itself moved the reused layers by up to {100 * np.max(run.moved_before):.0f}% of "
                "their norm before returning the model (a fit before freezing)"
                + (", and the base model, which shares them, with them" if shared else "")
            )
            return Assessment("trained_before_freezing", moved, run)
        if fails(SETUPS["transfer"], run):
            return Assessment("not_trained", f"the base model's digits 0-4 accuracy fell to {run.final:.2f}", run)
        if not np.max(run.other[-JUDGED_EPOCHS:]) >= TRANSFER_NEW_TASK:
            return Assessment("head_not_learning", f"digits 5-9 accuracy {run.other[-1]:.2f}", run)
    return Assessment(None)


# ------------------------------------------------------------------------------------------------------------
# What an Assessment's problem means to a learner
# ------------------------------------------------------------------------------------------------------------

_PROBLEMS = {
    "not_a_model": ("your function should return the compiled Keras model: {detail}.", "End with `return model`."),
    "not_compiled": (
        "{detail}: the check trains it with its own optimizer and loss.",
        "Compile it as the broken set-up does: compile_model(model, learning_rate=LEARNING_RATE) "
        '(with loss="mse" for the RNN).',
    ),
    "wrong_shape": ("your model does not fit the set-up: {detail}.", "Keep the set-up's inputs and outputs."),
    "too_shallow": (
        "{detail}: a shallower network trains, but the exercise is to make this deep one train.",
        "Keep the 8 hidden layers; change how they are initialized or activated.",
    ),
    "clipping_only": (
        "clipping treats the symptom only: the loss stays finite, but the cause is still there and the network "
        "still learns little. {detail}.",
        'Fix the cause: initialize with He (std √(2/fan_in)), e.g. build_mlp(DEPTH, WIDTH, "relu", '
        'kernel_initializer="he_normal").',
    ),
    "lower_lr_only": (
        "a lower learning rate treats a symptom only: smaller steps do not revive units that are dead from the "
        "start. {detail}.",
        "Fix the cause: start the biases at 0 (bias_initializer=0.0 in build_mlp).",
    ),
    "not_trained": (
        "your fixed set-up still does not train (below the target, less 0.03 for noise, in each of its last 3 "
        "epochs, on at least one seed). The statistic that still looks wrong: {detail}",
        "Run utils.doctor.doctor(model, x, y) on your fresh model: it names what is left to fix.",
    ),
    "bn_not_updated": (
        "BN still never runs in training mode: {detail}",
        "Inside the step, call the model with training=True.",
    ),
    "bn_lagging": (
        "your step trains BN in training mode, but the network misses the target at inference only: {detail}.",
        "Keep training=True in the step. The gap is BN's moving averages: compare model(x, training=True) with "
        "model(x, training=False) on the validation set, and leave BN's momentum at the set-up's 0.9.",
    ),
    "nothing_frozen": (
        "{detail}: the reused layers are not frozen.",
        "Set layer.trainable = False on the reused layers, then compile.",
    ),
    "frozen_moved": (
        "the layers you froze still train: {detail}.",
        "Compile after setting trainable = False (the same optimizer is fine): fit reuses the training function "
        "an earlier fit traced with the old flags until compile rebuilds it.",
    ),
    "trained_before_freezing": (
        "{detail}.",
        "Freeze first, then compile, then fit, a smoke test included: a fit before freezing trains the reused "
        "layers (copy the base first, as chapter 06 does, so that the base itself stays safe).",
    ),
    "head_not_learning": (
        "the frozen layers stay put, but the new head does not learn digits 5-9 ({detail}, "
        f"expected at least {TRANSFER_NEW_TASK}).",
        "Keep the new Dense(5, softmax) head trainable and compile with an optimizer (Adam(0.01) works).",
    ),
}


_NOTHING_SEEN_HINT = (
    "The doctor sees nothing wrong on the fresh model, so look at the training itself: "
    "utils.capstone.run_setup(name, 'yours', answer=your_function) returns the run; print its loss and "
    "grad_norm per epoch. A loss that stalls or jumps points to the learning rate or the optimizer."
)


def _raise(assessment, epochs: int = EPOCHS) -> None:
    if assessment.problem is None:
        return
    message, hint = _PROBLEMS[assessment.problem]
    if not assessment.detail and "doctor" in hint:  # never send a learner to a doctor that has just seen nothing
        hint = _NOTHING_SEEN_HINT
    detail = assessment.detail or "none that the doctor sees on the fresh model; watch the loss and the gradient norm"
    detail = detail.rstrip(".")
    if message.endswith("{detail}."):  # the evidence starts a sentence there
        detail = detail[:1].upper() + detail[1:]
    raise Wrong(message.format(detail=detail, epochs=epochs), hint)


def _builder(fix, what: str):
    fix = as_callable(fix, what)
    _check_signature(fix, (), f"`{getattr(fix, '__name__', 'your function')}()`")
    return fix


def _returns_something(fix, *args) -> None:
    """Raise Unanswered when the learner's function still returns None (its body is `...`)."""
    if fix(*args) is None:
        raise Unanswered(f"`{getattr(fix, '__name__', 'your function')}` returned None: write its body.")


def _model_checker(name: str):
    def checker(diagnosis, fix) -> None:
        _check_diagnosis(name, diagnosis)
        fix = _builder(fix, "your fix")
        _returns_something(fix)
        _raise(assess_model_fix(name, fix), SETUPS[name].epochs)

    return checker


def _demo(name: str):
    setup = SETUPS[name]

    def demo(diagnosis, fix) -> None:
        print(
            f"Trains now, on each of seeds {', '.join(map(str, SEEDS))}: {setup.score_name} at least "
            f"{setup.pass_mark} in one of the last 3 of {setup.epochs} epochs (the target {setup.target}, less 0.03 "
            "for noise; the broken set-up stays below it on every seed)."
        )

    return demo


def _exercise(name: str, title: str, hints: list[str], checker=None) -> Exercise:
    return Exercise(name=title, checker=checker or _model_checker(name), hints=hints, on_pass=_demo(name))


q1 = _exercise(
    "vanishing",
    "the deep logistic net",
    [
        "keras_layer_stats(model, x, y).vanishing_ratio() on the fresh model: how much gradient reaches the bottom?",
        "Logistic units pass at most a quarter of the gradient, and small weights shrink it further: change both.",
    ],
)

q2 = _exercise(
    "exploding",
    "the deep ReLU net with large weights",
    [
        "Look at the activation std layer by layer on the fresh model, and at std(W)·√fan_in.",
        "He initialization draws std √(2/fan_in): the stack keeps its scale from layer to layer.",
    ],
)

q3 = _exercise(
    "dead",
    "the ReLU net whose units never fire",
    [
        "keras_layer_stats(...).frac_dead: which share of each layer's units output 0 for every example?",
        "A unit is dead when its pre-activation is negative for every input: look at the biases.",
    ],
)


def _check_step(diagnosis, step) -> None:
    _check_diagnosis("bn_mode", diagnosis)
    step = as_callable(step, "your train step")
    _check_signature(step, (None, None, None), "`train_step(model, x, y)`")
    step = _guarded_step(step)
    try:
        assessment = assess_step_fix(step)
    except (AttributeError, NotImplementedError, TypeError) as exc:
        _eager_only(exc)
        raise
    _raise(assessment)


_IN_GRAPH = (
    "the check runs your step inside a tf.function (one compiled graph per epoch, as fit does: eager steps would "
    "take minutes), and there a tensor has no value yet, so {call} fails ({error}). Your step is fine as eager code"
)


def _eager_only(exc: Exception) -> None:
    """Raise Wrong when ``exc`` is eager-only code (``loss.numpy()``, ``float(loss)``) failing inside the graph."""
    text = str(exc)
    if any(word in text for word in ("numpy", "item", "__float__", "Symbolic", "symbolic")):
        call = "`.numpy()`" if "numpy" in text else "a conversion to a Python number"
        last = text.strip().splitlines()[-1].strip()[:120] if text.strip() else ""
        error = last if last.startswith(type(exc).__name__) else f"{type(exc).__name__}: {last}"
        raise Wrong(
            _IN_GRAPH.format(call=call, error=error) + ".",
            "Return the loss tensor itself (`return loss`, no .numpy() or float()): the loop reads its value.",
        ) from None


def _guarded_step(step):
    """Return ``step``, checked once on a throwaway model so that a placeholder says so instead of failing in TF."""
    from utils.capstone import broken_bn_model, digits

    x, y = digits().X_train[:32], digits().y_train[:32]
    scratch = broken_bn_model()
    scratch.optimizer.build(scratch.trainable_variables)
    if step(scratch, x, y) is None:
        raise Unanswered("`train_step` returned None: return the loss.")
    return step


q4 = _exercise(
    "bn_mode",
    "the BN net trained in a custom loop",
    [
        "After training, print a BN layer's moving_mean: has it moved from 0?",
        "model(x) runs BN in inference mode: inside a training step, call model(x, training=True).",
    ],
    checker=_check_step,
)


def _check_transfer(diagnosis, procedure) -> None:
    _check_diagnosis("transfer", diagnosis)
    procedure = as_callable(procedure, "your transfer function")
    _check_signature(procedure, (None,), "`fixed_transfer(base)`")
    _raise(assess_transfer_fix(_guarded_procedure(procedure)))


def _guarded_procedure(procedure):
    import keras

    from utils.capstone import base_model

    model = procedure(base_model(0))
    if model is None:
        raise Unanswered("`fixed_transfer` returned None: return the model.")
    if not isinstance(model, keras.Model):
        raise Wrong(
            f"`fixed_transfer` should return a Keras model, got {type(model).__name__}.", "End with `return model`."
        )
    if getattr(model, "optimizer", None) is None or getattr(model, "loss", None) is None:
        raise Wrong(
            "the model your function returns is not compiled: the check trains it with fit, which needs an "
            "optimizer and a loss.",
            'End with model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy"), '
            "after setting trainable = False.",
        )
    return procedure


q5 = _exercise(
    "transfer",
    "reused layers that should be frozen",
    [
        "Compare the reused layers' kernels before and after training: did the frozen ones move?",
        "fit reuses the training function it traced first, with the trainable flags of that moment: freeze, "
        "then compile (which rebuilds it), then fit. Copy the base first (clone_model, then set_weights).",
    ],
    checker=_check_transfer,
)

q6 = _exercise(
    "rnn",
    "the recurrent net that sums a sequence",
    [
        "Compare the broken run's largest gradient norm with its median step's (run.spike): rare steps tens to "
        "hundreds of times the median are an explosion.",
        'Bound each step: compile_model(model, learning_rate=LEARNING_RATE, loss="mse", global_clipnorm=1.0) clips '
        "the gradient to global norm 1 (chapter 05).",
    ],
)

q7 = _exercise(
    "mystery",
    "the mystery (two causes)",
    [
        "Run utils.doctor.doctor on the fresh model: it names more than one problem.",
        "Fixing one cause reveals the other: the biases and the weight scale both need fixing.",
    ],
)
