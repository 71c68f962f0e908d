"""Checks for the chapter 08 exercises (``exercises/08_capstone_debugging_a_deep_net.ipynb``).

One exercise per broken set-up of :mod:`utils.capstone`: ``q1`` vanishing, ``q2`` exploding, ``q3`` dead ReLUs,
``q4`` BN never in training mode, ``q5`` frozen layers that still train, ``q6`` an exploding RNN, ``q7`` the
mystery (two causes). Each check takes ``(diagnosis, fix)``: the diagnosis is one key of :data:`DIAGNOSES` (two
for the mystery), the fix a function; the check runs the fixed set-up and says whether it trains now, which
statistic still looks wrong if not, and names a fix that treats only the symptom as such.
"""

from __future__ import annotations

from utils.capstone import (
    CAUSES,
    EPOCHS,
    SEEDS,
    SETUPS,
    TRANSFER_NEW_TASK,
    assess_model_fix,
    assess_step_fix,
    assess_transfer_fix,
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
# What an Assessment's problem means to a learner
# ------------------------------------------------------------------------------------------------------------

_PROBLEMS = {
    "not_a_model": ("your function should return the compiled Keras model: {detail}.", "End with `return model`."),
    "not_compiled": (
        "{detail}: the check trains it with its own optimizer and loss.",
        "Compile it as the broken set-up does (compile_sgd(model) or compile_rnn(model)).",
    ),
    "wrong_shape": ("your model does not fit the set-up: {detail}.", "Keep the set-up's inputs and outputs."),
    "too_shallow": (
        "{detail}: a shallower network trains, but the exercise is to make this deep one train.",
        "Keep the 8 hidden layers; change how they are initialized or activated.",
    ),
    "clipping_only": (
        "clipping treats the symptom only: the loss stays finite, but the cause is still there and the network "
        "still learns little. {detail}.",
        'Fix the cause: initialize with He (std √(2/fan_in)), e.g. dense_stack("relu", "he_normal").',
    ),
    "lower_lr_only": (
        "a lower learning rate treats a symptom only: smaller steps do not revive units that are dead from the "
        "start. {detail}.",
        "Fix the cause: start the biases at 0 (bias=0.0 in dense_stack).",
    ),
    "not_trained": (
        "your fixed set-up still does not train (below the target, less 0.03 for noise, in each of its last 3 "
        "epochs, on at least one seed). The statistic that still looks wrong: {detail}",
        "Run utils.diagnostics.doctor(model, x, y) on your fresh model: it names what is left to fix.",
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


def _exercise(name: str, title: str, hints: list[str], solution: str, checker=None) -> Exercise:
    return Exercise(
        name=title, checker=checker or _model_checker(name), hints=hints, solution_text=solution, on_pass=_demo(name)
    )


q1 = _exercise(
    "vanishing",
    "the deep logistic net",
    [
        "keras_layer_stats(model, x, y).vanishing_ratio() on the fresh model: how much gradient reaches the bottom?",
        "Logistic units pass at most a quarter of the gradient, and small weights shrink it further: change both.",
    ],
    """
diagnosis = "vanishing"

def fixed_vanishing():
    return compile_sgd(dense_stack("relu", "he_normal"))
""",
)

q2 = _exercise(
    "exploding",
    "the deep ReLU net with large weights",
    [
        "Look at the activation std layer by layer on the fresh model, and at std(W)·√fan_in.",
        "He initialization draws std √(2/fan_in): the stack keeps its scale from layer to layer.",
    ],
    """
diagnosis = "exploding"

def fixed_exploding():
    return compile_sgd(dense_stack("relu", "he_normal"))
""",
)

q3 = _exercise(
    "dead",
    "the ReLU net whose units never fire",
    [
        "keras_layer_stats(...).frac_dead: which share of each layer's units output 0 for every example?",
        "A unit is dead when its pre-activation is negative for every input: look at the biases.",
    ],
    """
diagnosis = "dead"

def fixed_dead():
    return compile_sgd(dense_stack("relu", "he_normal", bias=0.0))
""",
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
    """
diagnosis = "bn_mode"

def fixed_bn_step(model, x, y):
    with tf.GradientTape() as tape:
        loss = keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y, model(x, training=True)))
    grads = tape.gradient(loss, model.trainable_variables)
    model.optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
    return loss
""",
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
    """
diagnosis = "frozen_train"

def fixed_transfer(base):
    copy = keras.models.clone_model(base)
    copy.set_weights(base.get_weights())
    head = keras.layers.Dense(5, activation="softmax", name="head")
    model = keras.Sequential([keras.Input(shape=(64,)), *copy.layers[:-1], head])
    for layer in model.layers[:-1]:
        layer.trainable = False
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy", jit_compile=False)
    return model
""",
    checker=_check_transfer,
)

q6 = _exercise(
    "rnn",
    "the recurrent net that sums a sequence",
    [
        "Compare the broken run's largest gradient norm with its median step's (run.spike): rare steps tens to "
        "hundreds of times the median are an explosion.",
        "Bound each step: compile_rnn(model, global_clipnorm=1.0) clips the gradient to global norm 1 (chapter 05).",
    ],
    """
diagnosis = "rnn_exploding"

def fixed_rnn():
    return compile_rnn(sum_rnn("relu"), global_clipnorm=1.0)
""",
)

q7 = _exercise(
    "mystery",
    "the mystery (two causes)",
    [
        "Run utils.diagnostics.doctor on the fresh model: it names more than one problem.",
        "Fixing one cause reveals the other: the biases and the weight scale both need fixing.",
    ],
    """
diagnosis = ("dead", "init_too_small")

def fixed_mystery():
    return compile_sgd(dense_stack("relu", "he_normal", bias=0.0))
""",
)
