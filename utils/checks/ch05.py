"""Checks for the chapter 05 exercises (``exercises/05_gradient_clipping.ipynb``).

``q1``: clip by global norm in numpy, matched to ``tf.clip_by_global_norm`` on tensors of different shapes;
``q2``: pick a threshold from the gradient norms of a healthy run (the chapter's); ``q3``: tame a thrashing recurrent
network with the right Keras optimizer option and that threshold, without clipping every step; ``q4``: fix a custom
training step that clips the loss instead of the gradients. Each is an :class:`~utils.checks._core.Exercise`:
``q1.check(answer)``, ``q1.hint()``, ``q1.solution()``.
"""

from __future__ import annotations

import functools

import numpy as np

from utils.checks._core import Exercise, Mistake, Wrong, as_array, as_callable, as_float, call, close, name_mistake
from utils.clipping import clip_by_global_norm, clip_by_norm, clip_by_value, global_norm, tf_clip_by_global_norm

# ------------------------------------------------------------------------------------------------------------
# Exercise 1: clip by global norm, from scratch
# ------------------------------------------------------------------------------------------------------------


@functools.cache
def _q1_gradients() -> tuple[np.ndarray, ...]:
    """Four tensors of different shapes (a kernel, a recurrent kernel, a bias, a 3-D kernel); global norm about 7.5."""
    rng = np.random.default_rng(11)
    return (
        rng.normal(0, 0.5, (3, 4)),
        rng.normal(0, 2.0, (4, 4)),
        rng.normal(0, 0.1, (4,)),
        rng.normal(0, 1, (2, 3, 2)),
    )


def _two(result, names: str) -> tuple:
    if not isinstance(result, tuple | list) or len(result) != 2:
        got = f"a {type(result).__name__}" + (f" of {len(result)} items" if isinstance(result, tuple | list) else "")
        raise Wrong(
            f"your function should return two things, {names}; it returned {got}.", f"End with `return {names}`."
        )
    return tuple(result)


def _learner_clip(function, grads, threshold):
    """Call the learner's function on copies; return (clipped arrays, norm), and whether the inputs changed."""
    copies = [g.copy() for g in grads]
    result = call(function, copies, threshold, what="`clip_by_global_norm(grads, threshold)`")
    mutated = any(not np.array_equal(c, g) for c, g in zip(copies, grads, strict=True))
    clipped, norm = _two(result, "clipped, global_norm")
    if isinstance(norm, list | tuple) and not isinstance(clipped, list | tuple) and np.ndim(clipped) == 0:
        raise Wrong(
            "your function returned (global_norm, clipped): the other way round.",
            "Keep the order the exercise gives: `return clipped, global_norm`.",
        )
    if not isinstance(clipped, list | tuple) or len(clipped) != len(grads):
        got = f"{len(clipped)} arrays" if isinstance(clipped, list | tuple) else f"a {type(clipped).__name__}"
        raise Wrong(
            f"for a list of {len(grads)} gradients, your clipped gradients are {got}.",
            "Return a list with one clipped array per gradient, in the same order: [g * scale for g in grads].",
        )
    clipped = [
        as_array(c, f"clipped gradient {i}", g.shape) for i, (c, g) in enumerate(zip(clipped, grads, strict=True))
    ]
    return clipped, as_float(norm, "the global norm"), mutated


def _same(a, b) -> bool:
    return all(close(x, y, rtol=1e-6, atol=1e-10) for x, y in zip(a, b, strict=True))


def _clipping_with(clip):
    """Return a clip_by_global_norm that clips with ``clip(grads, threshold)`` and returns the right global norm."""
    return lambda grads, threshold: (clip(list(grads), threshold), global_norm(list(grads)))


_Q1_MISTAKES = (
    Mistake(
        _clipping_with(clip_by_norm),
        "you clipped each tensor by its own norm (Keras' clipnorm), not all of them by their global norm.",
        "Use one factor for every tensor: scale = threshold / max(global_norm, threshold).",
    ),
    Mistake(
        _clipping_with(clip_by_value),
        "you clipped by value (every entry to [−threshold, threshold]): that changes the gradient's direction.",
        "Rescale instead: every tensor times threshold / max(global_norm, threshold).",
    ),
)


def _check_global_norm(function) -> None:
    function = as_callable(function, "clip_by_global_norm")
    grads = _q1_gradients()
    clipped, norm, mutated = _learner_clip(function, grads, 1.0)
    expected, expected_norm = tf_clip_by_global_norm(grads, 1.0)
    if mutated:
        raise Wrong(
            "your function changed the gradients it was given (in place: `g *= scale` or `g[...] = ...`).",
            "Build new arrays: `[g * scale for g in grads]`; the caller may still need the raw ones.",
        )
    if abs(norm - sum(global_norm([g]) for g in grads)) < 1e-6:
        raise Wrong(
            "your global norm is the sum of the tensors' norms.",
            "The global norm is the norm of all entries together: sqrt(sum over tensors of np.sum(g ** 2)).",
        )
    if abs(norm - global_norm(expected)) < 1e-9:
        raise Wrong(
            "you returned the global norm after clipping (the threshold); return it before clipping.",
            "Compute norm = sqrt(Σ np.sum(g ** 2)) from the original gradients and return that.",
        )
    if abs(norm - expected_norm) > 1e-6 * expected_norm:
        raise Wrong(
            f"your global norm is {norm:.4g}; tf.clip_by_global_norm gives {expected_norm:.4g}.",
            "global_norm = np.sqrt(sum(np.sum(g ** 2) for g in grads))",
        )
    name_mistake(clipped, (grads, 1.0), _Q1_MISTAKES, compare=lambda got, answer: _same(got, answer[0]))
    if not _same(clipped, expected):
        raise Wrong(
            f"your clipped gradients differ from tf.clip_by_global_norm's (threshold 1, global norm "
            f"{expected_norm:.2f}).",
            "Multiply every tensor by threshold / max(global_norm, threshold).",
        )
    small, small_norm, _ = _learner_clip(function, grads, 100.0)
    if not _same(small, grads):
        raise Wrong(
            f"with a threshold of 100, above the global norm ({expected_norm:.1f}), your function still changed the "
            "gradients: clipping must leave a gradient whose norm is under the threshold alone.",
            "scale = threshold / max(global_norm, threshold) is 1 when the norm is under the threshold; "
            "threshold / global_norm alone would scale small gradients *up*.",
        )


def _demo_global_norm(function) -> None:
    grads = _q1_gradients()
    clipped, norm = function([g.copy() for g in grads], 1.0)
    norm = as_float(norm, "the global norm")  # a size-1 array or a tensor passed the check: print it as a number
    print(
        f"On the check's four tensors (shapes {', '.join(str(g.shape) for g in grads)}): global norm {norm:.2f}, "
        f"after clipping {global_norm([np.asarray(c) for c in clipped]):.2f}; the same as tf.clip_by_global_norm."
    )


q1 = Exercise(
    name="clip by global norm",
    checker=_check_global_norm,
    reference=(_clipping_with(lambda grads, threshold: clip_by_global_norm(grads, threshold)[0]),),
    mistakes=_Q1_MISTAKES,
    hints=[
        "Two steps: the global norm of all tensors together, then one common factor for all of them.",
        "global_norm = np.sqrt(sum(np.sum(g ** 2) for g in grads))",
        "scale = threshold / max(global_norm, threshold); return [g * scale for g in grads], global_norm",
    ],
    on_pass=_demo_global_norm,
)


# ------------------------------------------------------------------------------------------------------------
# Exercise 2: a threshold from the gradient norms of a healthy run
# ------------------------------------------------------------------------------------------------------------


Q2_CLIPPED = (0.025, 0.27)  # a threshold for rare spikes clips 2.5% to about 25% of a healthy run's steps (p75-p97.5)


@functools.cache
def _q2_norms() -> tuple[np.ndarray, np.ndarray]:
    """The chapter's healthy runs' gradient norms (section 3), and a synthetic run of another scale and length."""
    from utils.clipping import healthy_norms

    rng = np.random.default_rng(12)
    return healthy_norms(), np.exp(rng.normal(np.log(0.2), 0.8, 150))


def q2_norms() -> np.ndarray:
    """Return the gradient norms of the chapter's healthy runs, one per training step (a copy: the check keeps its own).

    The SimpleRNN at ρ = 1.2, plain SGD at learning rate 0.01, 3 seeds × 80 steps (chapter 05, section 3).
    """
    return _q2_norms()[0].copy()


def _learner_threshold(function, norms: np.ndarray) -> float:
    given = norms.copy()
    threshold = as_float(call(function, given, what="`pick_threshold(norms)`"), "your threshold")
    if not np.array_equal(given, norms):
        raise Wrong(
            "your function changed the array of norms it was given (`norms.sort()` sorts in place).",
            "Use np.sort(norms), np.median(norms) or np.percentile(norms, q): they return new values.",
        )
    return threshold


def _check_threshold(function) -> None:
    function = as_callable(function, "pick_threshold")
    low, high = Q2_CLIPPED
    for norms in _q2_norms():
        threshold = _learner_threshold(function, norms)
        if threshold <= 0:
            raise Wrong(f"your threshold is {threshold:.3g}: it must be positive.", "Clip at a high percentile.")
        clipped = float(np.mean(norms > threshold))
        if any(abs(threshold - np.percentile(norms, q)) < 1e-9 for q in (0.9, 0.95)):
            raise Wrong(
                "np.percentile takes a percentage (0 to 100), not a fraction: your threshold is a low percentile.",
                "np.percentile(norms, 90) is the 90th percentile.",
            )
        largest = float(norms.max())
        if clipped == 0:
            where = (
                f"the largest norm of the healthy run ({largest:.3g}): no step is above it"
                if abs(threshold - largest) <= 1e-9 * largest
                else f"above every norm of the healthy run (the largest is {largest:.3g})"
            )
            raise Wrong(
                f"your threshold ({threshold:.3g}) is {where}, so it never triggers on this run and would let "
                "through spikes only a little larger than anything seen.",
                "Aim at the rare spikes: a high percentile such as np.percentile(norms, 90) to 95.",
            )
        if clipped < low:
            raise Wrong(
                f"your threshold ({threshold:.3g}) clips only {clipped:.1%} of the healthy steps: it sits among the "
                "very largest norms, so spikes a little above them still get through.",
                "A little lower: the 90th to 95th percentile, np.percentile(norms, 90).",
            )
        if clipped > high:
            raise Wrong(
                f"your threshold ({threshold:.3g}) clips {clipped:.0%} of the healthy steps (the median clips half): "
                "ordinary steps would be shortened too, which is a learning-rate change in disguise.",
                "Leave the ordinary steps alone and cut the rare large ones: np.percentile(norms, 90) to 95.",
            )


def _demo_threshold(function) -> None:
    for label, norms in zip(("the chapter's healthy runs", "another run"), _q2_norms(), strict=True):
        threshold = as_float(function(norms.copy()), "your threshold")  # a size-1 array passed the check: a number
        print(
            f"{label}: median norm {np.median(norms):.2f}, your threshold {threshold:.2f}, "
            f"clips {np.mean(norms > threshold):.0%} of its healthy steps"
        )


q2 = Exercise(
    name="a threshold from a healthy run",
    checker=_check_threshold,
    hints=[
        "Look at the histogram: which norms are ordinary, which are the rare large ones? A threshold for spikes "
        "leaves the ordinary ones alone (at least 75% of the steps) and still triggers now and then.",
        "A high percentile: np.percentile(norms, 90) (a percentage, 0 to 100).",
    ],
    on_pass=_demo_threshold,
)


# ------------------------------------------------------------------------------------------------------------
# Exercise 3: tame a thrashing recurrent network with the right Keras option, and exercise 2's threshold
# ------------------------------------------------------------------------------------------------------------

Q3_RADIUS, Q3_LEARNING_RATE, Q3_STEPS, Q3_SEED = 1.2, 0.03, 80, 0
Q3_TARGET = 0.7  # final loss to beat (plain SGD at 0.03 ends at about 1.0 on this seed; predicting 0 scores about 1)
Q3_MOST_STEPS = 0.5  # a threshold that clips this fraction of the steps or more is a learning rate in disguise
_q3_last: dict = {}  # the passing run, kept for the demo (training it again would double the check's time)


def _q3_train(optimizer):
    from utils.clipping import rnn_over_seeds

    return rnn_over_seeds(Q3_RADIUS, optimizer, seeds=(Q3_SEED,), steps=Q3_STEPS).runs[0]


@functools.cache
def _q3_plain_runs() -> dict[float, float]:
    """The final losses of the exercise's seed with plain SGD, no clipping, at 0.03 and 0.01 (for the demo)."""
    from utils.clipping import learning_rate_sweep

    sweep = learning_rate_sweep(Q3_RADIUS, (Q3_LEARNING_RATE, 0.01), seeds=(Q3_SEED,), steps=Q3_STEPS)
    return {lr: float(runs.final[0]) for lr, runs in sweep.items()}


def _q3_plain(learning_rate: float) -> float:
    return _q3_plain_runs()[learning_rate]


def _option(optimizer, name):
    value = getattr(optimizer, name, None)
    return None if value is None else float(value)


def _check_plain_sgd(optimizer) -> None:
    import keras

    sgd = f"keras.optimizers.SGD(learning_rate={Q3_LEARNING_RATE:g}, ...)"
    if not isinstance(optimizer, keras.optimizers.SGD):
        raise Wrong(
            f"this exercise keeps plain SGD; you returned {type(optimizer).__name__}, which adapts its steps "
            "(momentum, a step size per weight): that changes more than the clipping.",
            sgd,
        )
    momentum = float(getattr(optimizer, "momentum", 0.0))
    if momentum != 0:
        raise Wrong(
            f"this exercise keeps plain SGD; yours has momentum={momentum:g}, which adds up past steps: that changes "
            "more than the clipping.",
            f"{sgd} with the default momentum (0).",
        )
    learning_rate = float(np.asarray(optimizer.learning_rate))
    if abs(learning_rate - Q3_LEARNING_RATE) > 1e-9:
        raise Wrong(
            f"your learning rate is {learning_rate:g}. A smaller one is another fix (chapter 05, section 3 compares "
            "the two); here the learning rate stays and the clipping must do the work.",
            f"Keep {Q3_LEARNING_RATE:g} and clip: keras.optimizers.SGD(learning_rate={Q3_LEARNING_RATE:g}, "
            "<clipping option>=...)",
        )


def _loss_words(loss: float) -> str:
    if loss > 1.2:
        return "worse than predicting 0 (which scores about 1)"
    if loss >= 0.9:
        return "about what predicting 0 scores (about 1)"
    return f"above the target of {Q3_TARGET:g}"


def _check_rescue(make_optimizer) -> None:
    import keras

    make_optimizer = as_callable(make_optimizer, "make_optimizer")
    optimizer = call(make_optimizer, what="`make_optimizer()`")
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise Wrong(
            f"make_optimizer() returned a {type(optimizer).__name__}, not a Keras optimizer.",
            f"Return keras.optimizers.SGD(learning_rate={Q3_LEARNING_RATE:g}, ...) with a clipping option.",
        )
    _check_plain_sgd(optimizer)
    clipnorm, clipvalue, global_clipnorm = (_option(optimizer, n) for n in ("clipnorm", "clipvalue", "global_clipnorm"))
    if clipvalue is not None:
        raise Wrong(
            "you clipped by value (clipvalue): each entry is capped on its own, which turns the gradient.",
            "Keep the direction of the whole gradient: global_clipnorm.",
        )
    if clipnorm is not None:
        raise Wrong(
            "clipnorm clips each variable by its own norm; the exercise asks for the norm of the whole gradient.",
            "global_clipnorm=... clips all variables together, keeping the gradient's direction.",
        )
    if global_clipnorm is None:
        raise Wrong(
            f"your optimizer does not clip: at learning rate {Q3_LEARNING_RATE:g} this network thrashes (final loss "
            "about 1 on the check's seed).",
            "Add global_clipnorm=... to the optimizer, with exercise 2's threshold.",
        )
    from_exercise_2 = "pick_threshold(ch05.q2_norms()), exercise 2's threshold"
    if global_clipnorm <= 0:
        raise Wrong(f"global_clipnorm={global_clipnorm:g}: a threshold must be positive.", f"Use {from_exercise_2}.")
    run = _q3_train(optimizer)
    clipped = run.clipped_fraction(global_clipnorm)
    if run.diverged or np.max(run.loss) > 1e3:
        raise Wrong(
            f"with global_clipnorm={global_clipnorm:.3g} the network explodes (the loss reaches "
            f"{np.nanmax(run.loss):.0e} or NaN): clipping acted at only {clipped:.0%} of the steps.",
            f"A threshold near the top of a healthy run's norms: {from_exercise_2}.",
        )
    if clipped >= Q3_MOST_STEPS:
        raise Wrong(
            f"with global_clipnorm={global_clipnorm:.3g} clipping acts at {clipped:.0%} of the steps (final loss "
            f"{run.final_loss():.2f}). A clipped step has the length learning rate × threshold whatever the gradient, "
            "so clipping (nearly) every step is a smaller learning rate in disguise, not a cut of rare spikes.",
            f"Use a higher threshold, one that clips only the rare large steps: {from_exercise_2}.",
        )
    loss = run.final_loss()
    if loss >= Q3_TARGET:
        raise Wrong(
            f"no NaN, but the final loss is {loss:.2f}, {_loss_words(loss)}: with global_clipnorm="
            f"{global_clipnorm:.3g} clipping acted at only {clipped:.0%} of the steps, and the spikes still get "
            "through.",
            f"Use a lower threshold, near the top of a healthy run's norms: {from_exercise_2}.",
        )
    _q3_last.update(threshold=global_clipnorm, run=run)


def _demo_rescue(make_optimizer) -> None:
    threshold, run = _q3_last["threshold"], _q3_last["run"]
    print(
        f"With global_clipnorm={threshold:.3g}: final loss {run.final_loss():.2f} after {Q3_STEPS} steps, clipping "
        f"at {run.clipped_fraction(threshold):.0%} of them. Without clipping: {_q3_plain(Q3_LEARNING_RATE):.2f}; "
        f"plain SGD at the 3× smaller learning rate 0.01: {_q3_plain(0.01):.2f} (the chapter's section 3 compares the "
        "two over 3 seeds)."
    )


q3 = Exercise(
    name="tame the thrashing RNN with the right Keras option",
    checker=_check_rescue,
    hints=[
        "Keras optimizers take one of clipvalue, clipnorm or global_clipnorm. Which one keeps the direction of the "
        "whole gradient?",
        "keras.optimizers.SGD(learning_rate=0.03, global_clipnorm=threshold), with the threshold of exercise 2: "
        "pick_threshold(ch05.q2_norms()).",
    ],
    on_pass=_demo_rescue,
)


# ------------------------------------------------------------------------------------------------------------
# Exercise 4: a custom training step that clips the loss instead of the gradients
# ------------------------------------------------------------------------------------------------------------

Q4_THRESHOLD, Q4_LEARNING_RATE = 1.0, 0.05


def q4_model():
    """Return a small regression model with fixed weights (3 inputs, 8 tanh units, 1 output)."""
    import keras

    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)])
    rng = np.random.default_rng(13)
    model.set_weights([rng.normal(0, 0.7, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


@functools.cache
def _q4_data() -> tuple[np.ndarray, np.ndarray]:
    """A batch whose targets are far from the model's outputs: a large loss and a gradient norm far above 1."""
    rng = np.random.default_rng(14)
    x = rng.normal(size=(16, 3)).astype(np.float32)
    return x, (20 * x[:, :1] + 10).astype(np.float32)


def q4_data() -> tuple[np.ndarray, np.ndarray]:
    """Return the check's batch ``(x, y)`` (copies)."""
    x, y = _q4_data()
    return x.copy(), y.copy()


def _q4_gradients(model, x, y):
    import keras
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = keras.losses.MeanSquaredError()(y, model(x, training=True))
    return loss, tape.gradient(loss, model.trainable_variables)


def _stepping_with(transform):
    """Return a train_step that changes the gradients with ``transform`` (a numpy function of the list)."""

    def train_step(model, optimizer, x, y, threshold):
        loss, grads = _q4_gradients(model, x, y)
        norm = global_norm([g.numpy() for g in grads])
        grads = transform([g.numpy().astype(np.float64) for g in grads])
        optimizer.apply_gradients(
            zip([np.asarray(g, np.float32) for g in grads], model.trainable_variables, strict=True)
        )
        return loss, norm

    return train_step


def _q4_after(step) -> list[np.ndarray]:
    """Return the weights after ``step`` (a train_step) on q4_model(), with a fresh SGD, on the check's batch."""
    import keras

    model = q4_model()
    step(model, keras.optimizers.SGD(Q4_LEARNING_RATE), *q4_data(), Q4_THRESHOLD)
    return model.get_weights()


_Q4_MISTAKES = (
    Mistake(
        _stepping_with(lambda g: g),
        "the weights moved by the full, unclipped gradient.",
        "Between tape.gradient and apply_gradients: grads, norm = tf.clip_by_global_norm(grads, threshold).",
    ),
    Mistake(
        _stepping_with(lambda g: clip_by_norm(g, Q4_THRESHOLD)),
        "you clipped each gradient by its own norm (tf.clip_by_norm), not by their global norm.",
        "tf.clip_by_global_norm(grads, threshold) clips the list together.",
    ),
    Mistake(
        _stepping_with(lambda g: clip_by_value(g, Q4_THRESHOLD)),
        "you clipped the gradients by value, which changes their direction.",
        "tf.clip_by_global_norm(grads, threshold) keeps it.",
    ),
)


def _check_step(function) -> None:
    import keras

    function = as_callable(function, "train_step")
    model, (x, y) = q4_model(), _q4_data()
    start = model.get_weights()
    loss, raw = _q4_gradients(q4_model(), x, y)
    raw_norm = global_norm([g.numpy() for g in raw])
    optimizer = keras.optimizers.SGD(Q4_LEARNING_RATE)
    result = call(function, model, optimizer, x.copy(), y.copy(), Q4_THRESHOLD, what="`train_step(...)`")
    returned_loss, norm = _two(result, "loss, norm")
    returned_loss = as_float(returned_loss, "the loss")
    norm = as_float(norm, "the norm")
    after = model.get_weights()

    def same(weights) -> bool:
        return all(np.allclose(a, b, rtol=1e-5, atol=1e-6) for a, b in zip(after, weights, strict=True))

    if same(start):
        raise Wrong(
            "the weights did not move. If you clipped the loss (tf.clip_by_value(loss, ...)), that is why: where the "
            "clip triggers, the loss no longer depends on the weights, and every gradient is 0.",
            "Clip the gradients, not the loss: grads, norm = tf.clip_by_global_norm(tape.gradient(...), threshold).",
        )
    if not same(_q4_after(_stepping_with(lambda g: _global_clipped(g, Q4_THRESHOLD)))):
        name_mistake(after, (), _Q4_MISTAKES, compare=lambda got, weights: same(weights), run=_q4_after)
        raise Wrong(
            "after your step the weights differ from one SGD step with the gradients clipped by global norm.",
            "Compute the loss inside the tape, take tape.gradient, clip with tf.clip_by_global_norm, then "
            "optimizer.apply_gradients(zip(grads, model.trainable_variables)).",
        )
    if abs(returned_loss - raw_norm) <= 1e-4 * raw_norm and abs(norm - float(loss)) <= 1e-4 * float(loss):
        raise Wrong(
            "your step is right, but it returned (norm, loss): the other way round.",
            "Keep the order the exercise gives: `return loss, norm`.",
        )
    if abs(norm - Q4_THRESHOLD) < 1e-6:
        raise Wrong(
            "you returned the norm after clipping (the threshold); return the norm before clipping, which is the "
            "one worth logging.",
            "tf.clip_by_global_norm returns (clipped gradients, norm before clipping): return that second value.",
        )
    if abs(norm - raw_norm) > 1e-4 * raw_norm:
        raise Wrong(
            f"your norm is {norm:.4g}; the gradient's global norm before clipping is {raw_norm:.4g}.",
            "tf.clip_by_global_norm(grads, threshold) returns (clipped gradients, global norm before clipping).",
        )
    if abs(returned_loss - float(loss)) > 1e-4 * float(loss):
        raise Wrong(
            f"your loss is {returned_loss:.4g}; the batch's mean squared error is {float(loss):.4g}.",
            "Return the loss computed inside the tape, before any clipping: `return loss, norm`.",
        )


def _global_clipped(grads, threshold):
    return clip_by_global_norm(grads, threshold)[0]


def _demo_step(function) -> None:
    loss, raw = _q4_gradients(q4_model(), *_q4_data())
    print(
        f"On the check's batch: loss {float(loss):.2g}, gradient norm {global_norm([g.numpy() for g in raw]):.2g} "
        f"before clipping; your step moved the weights by learning rate × threshold = "
        f"{Q4_LEARNING_RATE * Q4_THRESHOLD:g}."
    )


q4 = Exercise(
    name="clip the gradients, not the loss",
    checker=_check_step,
    reference=(_stepping_with(lambda g: _global_clipped(g, Q4_THRESHOLD)),),
    mistakes=_Q4_MISTAKES,
    hints=[
        "What is the gradient of tf.clip_by_value(loss, 0, threshold) with respect to the weights when the loss is "
        "above the threshold?",
        "Leave the loss alone. After grads = tape.gradient(loss, model.trainable_variables): "
        "grads, norm = tf.clip_by_global_norm(grads, threshold), then apply them and return loss, norm.",
    ],
    on_pass=_demo_step,
)
