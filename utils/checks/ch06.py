"""Checks for the chapter 06 exercises (``exercises/06_transfer_learning.ipynb``).

``q1``: build a task-B model from copies of model A's hidden layers and a new output layer; ``q2``: freeze the
reused layers, compile again, train the new head; ``q3``: cache a frozen BN trunk's outputs, in inference mode;
``q4``: the book's classic, 0-4 → 5-9 with 100 images per class: freeze, cache, unfreeze the top layers, evaluate.
Each is an :class:`~utils.checks._core.Exercise`: ``q1.check(answer)``, ``q1.hint()``, ``q1.solution()``.
"""

from __future__ import annotations

import functools

import numpy as np

from utils.checks._core import Exercise, Wrong, as_callable, as_float, call
from utils.models import compile_model, copy_model
from utils.transfer import LEARNING_RATE, MOMENTUM, accuracy, few_labels, fit_steps, reuse_layers, split_at, tasks

MODEL_A = "digits_0to4_mlp"
MODEL_A_BN = "digits_0to4_mlp_bn"
ACCURACY_TOLERANCE = 1e-6


def _load(name: str = MODEL_A):
    from utils import zoo

    return zoo.load(name)


def _keras_model(result, what: str):
    """Return ``result`` if it is a Keras model with 5 outputs, or raise Wrong."""
    import keras

    if not isinstance(result, keras.Model):
        raise Wrong(f"{what} should return a Keras model, got {type(result).__name__}.", "End with `return model_b`.")
    shape = tuple(result.output_shape) if not isinstance(result.output_shape, list) else None
    if shape is None or shape[-1] != 5:
        raise Wrong(
            f"your model's output has shape {result.output_shape}; task B has 5 classes (digits 5-9).",
            "End with keras.layers.Dense(5, activation='softmax').",
        )
    return result


def _dense(model) -> list:
    import keras

    return [layer for layer in _all_layers(model) if isinstance(layer, keras.layers.Dense)]


def _all_layers(model) -> list:
    """Return a model's layers, with nested models flattened (a learner may nest the trunk as one layer)."""
    import keras

    found = []
    for layer in model.layers:
        found.extend(_all_layers(layer) if isinstance(layer, keras.Model) else [layer])
    return found


def _shares_with(model, original) -> bool:
    """Return True when ``model`` holds any of ``original``'s variables or layer objects."""
    ids = {id(v) for v in original.weights} | {id(layer) for layer in original.layers}
    return any(id(v) in ids for v in model.weights) or any(id(layer) in ids for layer in _all_layers(model))


def _same(a, b) -> bool:
    return a.shape == b.shape and np.array_equal(a, b)


SHARED = Wrong(
    "your model shares layers (and so weights) with model A: training it would change A too.",
    "Copy first: clone = keras.models.clone_model(model_a); clone.set_weights(model_a.get_weights()); "
    "then build model B from clone's layers.",
)
OUTPUT_REUSED = Wrong(
    "your output layer is model A's output layer (same weights): it was trained to tell 0-4 apart, not 5-9.",
    "Put a new keras.layers.Dense(5, activation='softmax') on top of the reused hidden layers.",
)


OUTPUT_AS_HIDDEN = Wrong(
    "model A's output layer (5 softmax units, trained to tell 0-4 apart) sits inside your model as a hidden layer.",
    "Reuse only A's hidden layers: clone.layers[:-1], then the new output layer.",
)


def _activation_name(layer) -> str:
    activation = getattr(layer, "activation", None)
    return getattr(activation, "__name__", str(activation))


def _check_reused_hidden(model, original, n: int = 4) -> None:
    """Raise Wrong unless ``model``'s lowest ``n`` hidden Dense layers hold copies of ``original``'s."""
    mine, theirs = _dense(model)[:-1], _dense(original)[:-1]
    a_output = np.asarray(_dense(original)[-1].kernel)
    if any(_same(np.asarray(layer.kernel), a_output) for layer in mine):
        raise OUTPUT_AS_HIDDEN
    if len(mine) < n:
        raise Wrong(
            f"your model has {len(mine)} hidden Dense layers; reuse all {n} of model A's.",
            "Take every layer of the copy except the last: clone.layers[:-1].",
        )
    for i, (a, b) in enumerate(zip(mine[:n], theirs[:n], strict=True), start=1):
        if not _same(np.asarray(a.kernel), np.asarray(b.kernel)):
            raise Wrong(
                f"hidden layer {i} does not hold model A's weights: keras.models.clone_model copies the architecture "
                "with new random weights.",
                "After clone_model, copy the values: clone.set_weights(model_a.get_weights()).",
            )
        if _activation_name(a) != _activation_name(b):
            raise Wrong(
                f"hidden layer {i} holds A's weights but computes `{_activation_name(a)}` instead of A's "
                f"`{_activation_name(b)}`: a rebuilt Dense layer has no activation unless you give it one, and "
                "without ReLU the four layers collapse into one linear map.",
                "Copy the layers with clone_model (it keeps each layer's configuration), or rebuild them with "
                "Dense(32, activation='relu').",
            )


# ------------------------------------------------------------------------------------------------------------
# Exercise 1: reuse without sharing, with a new output layer
# ------------------------------------------------------------------------------------------------------------


def _check_make_model_b(function) -> None:
    function = as_callable(function, "make_model_b")
    model_a = _load()
    before = [w.copy() for w in model_a.get_weights()]
    model_b = _keras_model(call(function, model_a, what="`make_model_b(model_a)`"), "make_model_b")
    if _shares_with(model_b, model_a):
        raise SHARED
    _check_reused_hidden(model_b, model_a)
    if _same(np.asarray(_dense(model_b)[-1].kernel), np.asarray(_dense(model_a)[-1].kernel)):
        raise OUTPUT_REUSED
    probabilities = np.asarray(model_b(tasks()[1].X_test[:8], training=False))
    if not np.allclose(probabilities.sum(axis=1), 1, atol=1e-4) or probabilities.min() < 0:
        raise Wrong(
            "your model's outputs are not probabilities (rows do not sum to 1).",
            "Use activation='softmax' in the output layer: the course's loss expects probabilities.",
        )
    if any(not np.array_equal(b, w) for b, w in zip(before, model_a.get_weights(), strict=True)):
        raise Wrong("model A's weights changed while your function ran.", "Only read model A: copy it, then build B.")


def _demo_make_model_b(function) -> None:
    model_b = function(_load())
    names = " → ".join(layer.name for layer in model_b.layers)
    print(f"Your model B: {names}; four hidden layers copied from A, a new output, and A untouched.")


q1 = Exercise(
    name="reuse model A's layers without sharing them",
    checker=_check_make_model_b,
    hints=[
        "keras.models.clone_model(model_a) makes a model of the same architecture, with its own (random) weights.",
        "Then clone.set_weights(model_a.get_weights()) copies the values. A's own layers must not appear in B.",
        "keras.Sequential([keras.Input(shape=(64,)), *clone.layers[:-1], keras.layers.Dense(5, activation='softmax', "
        "name='new_output')]). The name matters: layer names must be unique in a model, and A's are dense_1...",
    ],
    on_pass=_demo_make_model_b,
)


# ------------------------------------------------------------------------------------------------------------
# Exercise 2: freeze, compile again, train the head
# ------------------------------------------------------------------------------------------------------------


@functools.cache
def _few_b(per_class: int) -> tuple[np.ndarray, np.ndarray]:
    return few_labels(tasks()[1], per_class, seed=0)


def q2_data() -> tuple[np.ndarray, np.ndarray]:
    """Return exercise 2's training images: 20 labeled images per class of digits 5-9 (relabeled 0-4)."""
    X, y = _few_b(20)
    return X.copy(), y.copy()


def q2_model():
    """Return the model of exercise 2: A's four hidden layers (copied) and a new output, already trained 1 epoch."""
    model_b = reuse_layers(_load())
    compile_model(model_b, learning_rate=LEARNING_RATE, momentum=MOMENTUM, metrics=["accuracy"])
    fit_steps(model_b, *_few_b(20), epochs=1)  # a first try, before freezing: the training function exists now
    return model_b


def _check_freeze_and_train(function) -> None:
    function = as_callable(function, "freeze_and_train")
    model_b = q2_model()
    X, y = _few_b(20)
    before = [w.copy() for w in model_b.get_weights()]
    result = _keras_model(
        call(function, model_b, X.copy(), y.copy(), what="`freeze_and_train(model_b, X, y)`"), "freeze_and_train"
    )
    if result is not model_b:
        raise Wrong("return the model you were given (model_b), trained.", "End with `return model_b`.")
    dense = _dense(model_b)
    changed = [not np.array_equal(b, w) for b, w in zip(before[::2], model_b.get_weights()[::2], strict=True)]
    flags = [layer.trainable for layer in dense[:-1]]
    if any(changed[:-1]) and not any(flags):
        raise Wrong(
            "you set trainable = False, but the frozen layers still changed: the model was not compiled again. "
            "It had trained before, and its training function still updates the variables it was built with.",
            "After setting layer.trainable = False, call model_b.compile(...) again, then fit.",
        )
    if any(changed[:-1]):
        frozen = [layer.name for layer, flag in zip(dense[:-1], flags, strict=True) if not flag]
        raise Wrong(
            f"the reused hidden layers changed: only {frozen or 'none'} were frozen.",
            "Set layer.trainable = False on all four reused layers (model_b.layers[:4]), then compile, then fit.",
        )
    if not changed[-1]:
        raise Wrong(
            "the new output layer did not change: it was frozen too, or the model was not trained.",
            "Freeze only model_b.layers[:4]; the output layer must stay trainable. Then compile and fit.",
        )
    score = accuracy(model_b, tasks()[1].X_test, tasks()[1].y_test)
    head_before, head_after = before[-2], model_b.get_weights()[-2]
    moved = np.linalg.norm(head_after - head_before) / np.linalg.norm(head_before)
    if moved < 0.02:
        raise Wrong(
            f"the new output layer barely moved ({100 * moved:.2g}% of its initial size) and scores {score:.2f} on "
            "task B's test set: its learning rate is too small to learn in 30 epochs.",
            "Compile with the chapter's learning rate: compile_model(model_b, learning_rate=0.05, momentum=0.9), not a "
            "tiny one. The lower rate "
            "is for fine-tuning reused layers, once the head has learned.",
        )
    if score < 0.3:
        raise Wrong(
            f"the trained model scores {score:.2f} on task B's test set, barely above chance (0.2).",
            "Train the head for about 30 epochs: fit_steps(model_b, X, y, epochs=30) or model_b.fit(X, y, epochs=30).",
        )


def _demo_freeze_and_train(function) -> None:
    print(
        "The four reused layers are unchanged and the new output layer learned: "
        "frozen, compiled again, trained, in that order."
    )


q2 = Exercise(
    name="freeze the reused layers, compile again, train the new head",
    checker=_check_freeze_and_train,
    hints=[
        "layer.trainable = False for the four reused layers: model_b.layers[:4].",
        "Keras reads `trainable` when it builds the training function: compile again after changing it.",
        "for layer in model_b.layers[:4]: layer.trainable = False; then "
        "compile_model(model_b, learning_rate=0.05, momentum=0.9); then "
        "fit_steps(model_b, X, y, epochs=30); return model_b.",
    ],
    on_pass=_demo_freeze_and_train,
)


# ------------------------------------------------------------------------------------------------------------
# Exercise 3: cache a frozen BN trunk's outputs, in inference mode
# ------------------------------------------------------------------------------------------------------------


def q3_trunk():
    """Return the trunk of exercise 3: a copy of the zoo's BN model A without its output layer, not frozen."""
    model = copy_model(_load(MODEL_A_BN))
    trunk, _ = split_at(model, len(model.layers) - 1)
    return trunk


@functools.cache
def _q3_reference() -> tuple[np.ndarray, np.ndarray]:
    trunk = q3_trunk()
    X = _few_b(20)[0]
    inference = np.asarray(trunk(X, training=False))
    training = np.asarray(trunk(X, training=True))
    return inference, training


def _check_frozen_features(function) -> None:
    import keras

    function = as_callable(function, "frozen_features")
    trunk = q3_trunk()
    X = _few_b(20)[0]
    bn = [layer for layer in trunk.layers if isinstance(layer, keras.layers.BatchNormalization)]
    before = [np.asarray(layer.moving_mean).copy() for layer in bn]
    result = call(function, trunk, X.copy(), what="`frozen_features(trunk, X)`")
    try:
        features = np.asarray(result, dtype=np.float64)
    except (TypeError, ValueError):
        raise Wrong(f"return the features as an array, got {type(result).__name__}.", "np.asarray(trunk(X))") from None
    inference, training = _q3_reference()
    if features.shape != inference.shape:
        raise Wrong(
            f"the features should have shape {inference.shape} (one row of 32 values per image), got {features.shape}.",
            "Return the trunk's output for all of X: trunk(X, training=False).",
        )
    moved = any(not np.array_equal(b, np.asarray(layer.moving_mean)) for b, layer in zip(before, bn, strict=True))
    if np.allclose(features, training, atol=1e-5) or moved:
        raise Wrong(
            "the BN layers ran in training mode: the features were normalized with this batch's statistics"
            + (" and the moving averages changed." if moved else "."),
            "Freeze the trunk first (trunk.trainable = False: a frozen BN layer runs in inference mode), "
            "and call it with training=False.",
        )
    if not np.allclose(features, inference, atol=1e-5):
        raise Wrong(
            "these are not the trunk's outputs for X in inference mode.",
            "Return np.asarray(trunk(X, training=False)), after trunk.trainable = False.",
        )
    if trunk.trainable:
        raise Wrong(
            "the features are right, but the trunk is not frozen: a later fit would still update it and its BN layers.",
            "Set trunk.trainable = False before computing the features.",
        )


def _demo_frozen_features(function) -> None:
    inference, training = _q3_reference()
    print(
        "Your cached features match the frozen trunk's inference-mode outputs. In training mode they would have "
        f"differed by up to {np.max(np.abs(inference - training)):.1f}, and the moving averages would have moved."
    )


q3 = Exercise(
    name="cache a frozen BN trunk's outputs",
    checker=_check_frozen_features,
    hints=[
        "trunk.trainable = False freezes every layer of the trunk, and makes its BN layers run in inference mode.",
        "Compute the outputs once: trunk(X, training=False) (or trunk.predict(X)); return them as a numpy array.",
    ],
    on_pass=_demo_frozen_features,
)


# ------------------------------------------------------------------------------------------------------------
# Exercise 4: the book's classic, 0-4 → 5-9 with 100 images per class
# ------------------------------------------------------------------------------------------------------------

CLASSIC_PER_CLASS = 100
_LAST_SCORE: dict[str, float] = {}


def q4_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return exercise 4's ``X_train, y_train`` (100 images per class of 5-9) and task B's ``X_test, y_test``."""
    task_b = tasks()[1]
    X, y = _few_b(CLASSIC_PER_CLASS)
    return X.copy(), y.copy(), task_b.X_test.copy(), task_b.y_test.copy()


FRESH_HEAD_TOGETHER = Wrong(
    "the reused layers were trained together with a fresh, untrained output layer: its random first gradients "
    "flow down into A's layers and scramble their features before the head has learned anything.",
    "Train the new output layer first, alone (on the cached features), and only then unfreeze the top two reused "
    "layers and fine-tune.",
)


class _FitLog:
    """Record, at each ``fit`` call (Keras or ``fit_steps``), which layers were trainable and their weights."""

    def __enter__(self):
        import keras

        self.calls, self._original = [], keras.Model.fit
        log, original = self.calls, self._original

        def fit(model, *args, **kwargs):
            log.append(
                {id(layer): (layer.trainable and model.trainable, layer.get_weights()) for layer in _all_layers(model)}
            )
            return original(model, *args, **kwargs)

        keras.Model.fit = fit
        return self

    def __exit__(self, *exc):
        import keras

        keras.Model.fit = self._original
        return False

    def head_trained_before_reused(self, output, reused) -> bool:
        """Return False when a fit trained any ``reused`` layer before ``output`` had changed from its start."""
        start = None
        for call_layers in self.calls:
            if id(output) in call_layers and start is None:
                start = call_layers[id(output)][1]
            if any(call_layers.get(id(layer), (False,))[0] for layer in reused):
                now = call_layers.get(id(output), (None, start))[1]
                return start is not None and any(not np.array_equal(a, b) for a, b in zip(start, now, strict=True))
        return True


def _check_classic(function) -> None:
    function = as_callable(function, "transfer_classic")
    model_a = _load()
    before = [w.copy() for w in model_a.get_weights()]
    X, y, X_test, y_test = q4_data()
    with _FitLog() as fits:
        result = call(function, model_a, X, y, X_test, y_test, what="`transfer_classic(model_a, X, y, X_test, y_test)`")
    if not isinstance(result, tuple | list) or len(result) != 2:
        raise Wrong("return two things: the trained model B and its test accuracy.", "End with `return model_b, acc`.")
    model_b = _keras_model(result[0], "transfer_classic")
    reported = as_float(result[1], "the accuracy")
    if _shares_with(model_b, model_a) or any(
        not np.array_equal(b, w) for b, w in zip(before, model_a.get_weights(), strict=True)
    ):
        raise SHARED
    if _same(np.asarray(_dense(model_b)[-1].kernel), np.asarray(_dense(model_a)[-1].kernel)):
        raise OUTPUT_REUSED
    mine, theirs = _dense(model_b)[:-1], _dense(model_a)[:-1]
    if len(mine) != 4:
        raise Wrong(f"model B should reuse A's 4 hidden layers; it has {len(mine)} hidden Dense layers.")
    kept = [_same(np.asarray(a.kernel), np.asarray(b.kernel)) for a, b in zip(mine, theirs, strict=True)]
    if not all(kept[:2]):
        raise Wrong(
            "the two lowest reused layers changed: they should stay frozen all along.",
            "Unfreeze only the top two reused layers (model_b.layers[2:4]) for the fine-tuning phase.",
        )
    if any(kept[2:]):
        raise Wrong(
            "the top two reused layers still hold A's weights: they were not fine-tuned.",
            "After training the head, set trainable = True on model_b.layers[2:4], compile again with a lower "
            "learning rate (e.g. compile_model(model_b, learning_rate=0.005, momentum=0.9)), and fit model_b.",
        )
    if not fits.head_trained_before_reused(_dense(model_b)[-1], mine[2:]):
        raise FRESH_HEAD_TOGETHER
    test_score = accuracy(model_b, X_test, y_test)
    _LAST_SCORE["classic"] = test_score
    train_score = accuracy(model_b, X, y)
    if abs(reported - test_score) > ACCURACY_TOLERANCE:
        if abs(reported - train_score) <= ACCURACY_TOLERANCE and abs(train_score - test_score) > ACCURACY_TOLERANCE:
            raise Wrong(
                f"you reported {reported:.3f}, the accuracy on the training images; on the test set it is "
                f"{test_score:.3f}.",
                "Evaluate on data the model never saw: accuracy(model_b, X_test, y_test).",
            )
        raise Wrong(
            f"you reported {reported:.3f}, but model B's accuracy on the test set is {test_score:.3f}.",
            "Return accuracy(model_b, X_test, y_test), a fraction between 0 and 1.",
        )
    if test_score < 0.6:
        raise Wrong(
            f"model B scores {test_score:.2f} on the test set; this recipe reaches about 0.8.",
            "Train the head for about 30 epochs on the cached features, then fine-tune for about 30 more.",
        )


SCRATCH_EPOCHS = 60  # the recipe's budget: 30 epochs for the head, 30 for fine-tuning


@functools.cache
def scratch_baseline(seeds: tuple = (0, 1, 2)) -> np.ndarray:
    """Return the test accuracy of the same network trained from scratch on exercise 4's images, per seed.

    The chapter's numpy twin of the Keras MLP (a :class:`utils.nets.MLP`, one per seed), SGD with momentum as in
    the recipe, SCRATCH_EPOCHS epochs: what the transfer must beat.
    """
    from utils import nets
    from utils.transfer import DEPTH, SGD_RECIPE, WIDTH, random_net

    X, y, X_test, y_test = q4_data()
    net = random_net([64] + [WIDTH] * DEPTH + [5], len(seeds), np.random.default_rng(list(seeds)))
    nets.fit(net, X, y, epochs=SCRATCH_EPOCHS, **SGD_RECIPE)
    return nets.accuracy(net, X_test, y_test)


def _demo_classic(function) -> None:
    score = _LAST_SCORE.get("classic", float("nan"))  # from the check's own run: training again would take seconds
    scratch = scratch_baseline()
    verdict = "above" if score > scratch.max() else "below" if score < scratch.min() else "within"
    print(
        f"Test accuracy on 5-9 with {CLASSIC_PER_CLASS} images per class: {score:.2f}. The same network trained "
        f"from scratch on the same images ({SCRATCH_EPOCHS} epochs, {len(scratch)} seeds): "
        f"{scratch.mean():.2f} (from {scratch.min():.2f} to {scratch.max():.2f}); yours is {verdict} that range. "
        "Chapter 06, section 3, says why this pair does not pay."
    )


q4 = Exercise(
    name="the classic: 0-4 → 5-9 with 100 images per class",
    checker=_check_classic,
    hints=[
        "Step by step: copy A (exercise 1), freeze the 4 reused layers, cache their outputs (exercise 3), train the "
        "new output layer on the cached features, then unfreeze the top two reused layers and fine-tune.",
        "split_at(model_b, 4) returns (trunk, head) sharing model_b's layers: training head trains model_b's output.",
        "Each change of `trainable` needs a compile before fit. Fine-tune with a lower learning rate (0.005).",
        "Train the head before unfreezing anything: a fresh head trained together with the reused layers wrecks them.",
        "Report accuracy(model_b, X_test, y_test): the test set, never the training images.",
    ],
    on_pass=_demo_classic,
)
