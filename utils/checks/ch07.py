"""Checks for the chapter 07 exercises (``exercises/07_unsupervised_and_auxiliary_pretraining.ipynb``).

``q1``: SimCLR's NT-Xent loss in numpy (cosine similarities, a temperature, every other view as a negative);
``q2``: "same digit or not?" pairs drawn with the generator you are given (never the global ``np.random``);
``q3``: reuse a pretrained encoder in Keras: a linear probe first, then fine-tune everything (Kumar et al. 2022).
Each is an :class:`~utils.checks._core.Exercise`: ``q1.check(answer)``, ``q1.hint()``, ``q1.solution()``.
"""

from __future__ import annotations

import functools

import numpy as np

from utils.checks._core import Exercise, Mistake, Wrong, against_reference, as_array, as_callable, as_float, call
from utils.pretraining import few_label_splits, nt_xent_gradient, shared_rows

N_PIXELS, N_CLASSES = 64, 10

# ------------------------------------------------------------------------------------------------------------
# Exercise 1: the NT-Xent loss
# ------------------------------------------------------------------------------------------------------------


def _q1_cases() -> list[tuple[np.ndarray, float]]:
    rng = np.random.default_rng(7)
    return [(rng.normal(size=(8, 4)) * rng.uniform(0.5, 3, (8, 1)), t) for t in (0.2, 0.5, 1.0)]


def _nt_xent_variant(z: np.ndarray, temperature: float, mistake: str = "") -> float:
    """Return NT-Xent of ``z``, or what a typical mistake computes instead (for a precise message)."""
    n = len(z)
    u = z if mistake == "no normalization" else z / np.linalg.norm(z, axis=1, keepdims=True)
    s = u @ u.T / (1.0 if mistake == "no temperature" else temperature)
    if mistake != "self in denominator":
        np.fill_diagonal(s, -np.inf)
    partner = np.arange(n) ^ 1 if mistake == "neighbour partner" else (np.arange(n) + n // 2) % n
    top = np.max(s, axis=1, keepdims=True)
    log_p = s - top - np.log(np.exp(s - top).sum(axis=1, keepdims=True))
    losses = -log_p[np.arange(n), partner]
    return float(losses.sum() if mistake == "sum" else losses.mean())


NT_XENT_MISTAKES = tuple(
    Mistake(functools.partial(_nt_xent_variant, mistake=mistake), message, hint)
    for mistake, message, hint in (
        (
            "no normalization",
            "you used plain dot products: NT-Xent compares cosine similarities, so each row of z must be divided "
            "by its length first.",
            "u = z / np.linalg.norm(z, axis=1, keepdims=True), then s = u @ u.T / temperature.",
        ),
        (
            "self in denominator",
            "your denominator includes each view's similarity with itself (always the largest, 1 / temperature): "
            "the sum runs over k != i.",
            "Set the diagonal of s to -inf before the softmax: np.fill_diagonal(s, -np.inf).",
        ),
        (
            "no temperature",
            "your loss ignores the temperature: the similarities are divided by it before the softmax.",
            "s = u @ u.T / temperature.",
        ),
        (
            "neighbour partner",
            "you paired view i with view i + 1 (or i ^ 1): here rows i and i + B are the two views of one image.",
            "partner = (np.arange(2B) + B) % (2B), with 2B = len(z).",
        ),
        ("sum", "you summed the 2B losses: NT-Xent is their mean.", "Return the mean over all 2B views."),
    )
)


def _nt_xent(z, temperature) -> float:
    return float(nt_xent_gradient(z[None], temperature)[0][0])


def _loss_off(value, expected, args) -> Wrong:
    return Wrong(
        f"for 8 embeddings and temperature {args[1]} your loss is {value:.4f}, NT-Xent is {expected:.4f}.",
        "Cosine similarities divided by the temperature; for each view i, -log of the softmax (over k != i) "
        "at its partner (i + B) % 2B; then the mean over the 2B views.",
    )


def _check_nt_xent(function) -> None:
    against_reference(
        as_callable(function, "nt_xent"),
        _nt_xent,
        _q1_cases(),
        NT_XENT_MISTAKES,
        run=lambda f, z, t: as_float(call(f, z.copy(), t, what=f"`nt_xent(z, {t})`"), "your loss"),
        compare=lambda got, expected: bool(np.isclose(got, expected, rtol=1e-6, atol=1e-9)),
        mistaken=lambda got, expected: bool(np.isclose(got, expected, rtol=1e-6)),
        otherwise=_loss_off,
    )


def _demo_nt_xent(function) -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(64, 16))
    aligned = np.vstack([z[:32], z[:32] + 0.05 * rng.normal(size=(32, 16))])
    print(
        f"32 images, random embeddings: loss {function(z, 0.2):.2f}; two views of each image almost equal: "
        f"{function(aligned, 0.2):.2f}. The loss falls as an image's two views agree and differ from the others'."
    )


q1 = Exercise(
    name="the NT-Xent loss",
    checker=_check_nt_xent,
    reference=(_nt_xent,),
    mistakes=NT_XENT_MISTAKES,
    hints=[
        "Normalize the rows (cosine similarity), divide the similarity matrix by the temperature, and exclude "
        "each view's similarity with itself from its softmax.",
        "n = len(z); s = u @ u.T / temperature; np.fill_diagonal(s, -np.inf); partner = (np.arange(n) + n // 2) % n; "
        "loss = mean of logsumexp(s[i]) - s[i, partner[i]].",
    ],
    on_pass=_demo_nt_xent,
)


# ------------------------------------------------------------------------------------------------------------
# Exercise 2: "same digit or not?" pairs, drawn with the given generator
# ------------------------------------------------------------------------------------------------------------

Q2_PAIRS = 400


@functools.cache
def _q2_data():
    return few_label_splits(labels_per_class=5, seed=3)


def _labels_of(images: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    lookup = {row.tobytes(): label for row, label in zip(np.asarray(X, np.float64), y, strict=True)}
    return np.array([lookup[row.tobytes()] for row in np.asarray(images, np.float64)])


def _draw_twice_with_one_generator(function, X, y):
    """Call ``function`` twice with equal generators but a different global ``np.random`` state; restore it."""
    state = np.random.get_state()  # noqa: NPY002 (the global state is what this test is about)
    try:
        results = []
        for global_seed in (11, 12):
            np.random.seed(global_seed)  # noqa: NPY002
            results.append(call(function, X.copy(), y.copy(), Q2_PAIRS, np.random.default_rng(0), what="`make_pairs`"))
        return results
    finally:
        np.random.set_state(state)  # noqa: NPY002


def _check_pairs(function) -> None:
    function = as_callable(function, "make_pairs")
    data = _q2_data()
    X, y = data.X_labeled, data.y_labeled
    result, twin = _draw_twice_with_one_generator(function, X, y)
    if not isinstance(result, tuple | list) or len(result) != 3:
        raise Wrong("make_pairs should return three arrays: left, right, same.", "End with `return left, right, same`.")
    left = as_array(result[0], "left", (Q2_PAIRS, N_PIXELS))
    right = as_array(result[1], "right", (Q2_PAIRS, N_PIXELS))
    same = as_array(result[2], "same", (Q2_PAIRS,))
    if not np.all(np.isin(same, (0, 1))):
        raise Wrong("same should hold 1 (same digit) or 0 (different digits).")
    for name, images in (("left", left), ("right", right)):
        outside = Q2_PAIRS - shared_rows(images, X)
        if shared_rows(images, data.X_test):
            raise Wrong(f"{name} contains test images: they must stay out of every pretraining set.")
        if outside:
            raise Wrong(
                f"{outside} of your {name} images are not among the images you were given.",
                "Draw both images of every pair from X, and compare their labels y.",
            )
    truth = (_labels_of(left, X, y) == _labels_of(right, X, y)).astype(float)
    if np.all(same == 1 - truth):
        raise Wrong("same is reversed: 1 should mean the same digit.", "same = (y[i] == y[j]).astype(int)")
    if not np.array_equal(same, truth):
        raise Wrong(
            f"same is wrong for {int(np.sum(same != truth))} of your pairs.",
            "same must be 1 exactly when the two images have the same label.",
        )
    if np.any(np.all(left == right, axis=1)):
        raise Wrong(
            "some pairs are an image with itself: they teach nothing about two different images of a digit.",
            "For a same-digit pair, pick another image of that digit (j != i).",
        )
    if not 0.4 <= same.mean() <= 0.6:
        raise Wrong(
            f"{same.mean():.0%} of your pairs are the same digit; aim for about half. Random pairs are ~90% "
            "different, and a network would learn to answer 'different' every time.",
            "Make every second pair a same-digit pair: pick i, then j among the other images with y[j] == y[i].",
        )
    if not all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(result, twin, strict=True)):
        raise Wrong(
            "two generators in the same state gave different pairs: your function also draws from the global "
            "np.random (np.random.randint, np.random.choice, ...), so a seed no longer reproduces the pairs, and "
            "pretrainings side by side would not see the pairs you think.",
            "Draw every random number from the generator you are given: rng.integers(...), rng.choice(...).",
        )
    again = call(function, X.copy(), y.copy(), Q2_PAIRS, np.random.default_rng(1), what="`make_pairs(...)`")
    if np.array_equal(np.asarray(again[0]), left):
        raise Wrong(
            "a different rng gave the same pairs: draw them with the rng you are given.", "rng.integers, rng.choice"
        )


def _demo_pairs(function) -> None:
    n = len(_q2_data().y_labeled)
    print(f"From {n} images: {n * (n - 1) // 2} possible pairs; yours are balanced and reproducible from the rng.")


q2 = Exercise(
    name="'same digit or not?' pairs from a generator",
    checker=_check_pairs,
    hints=[
        "Loop over the pairs: pick i = rng.integers(len(y)); for a same-digit pair choose j among "
        "np.flatnonzero((y == y[i]) & (np.arange(len(y)) != i)), otherwise among np.flatnonzero(y != y[i]).",
        "Alternate same and different (k % 2 == 0) for balance, use only rng (rng.integers, rng.choice), and "
        "return X[left], X[right], same.",
    ],
    on_pass=_demo_pairs,
)


# ------------------------------------------------------------------------------------------------------------
# Exercise 3: a linear probe first, then fine-tune everything
# ------------------------------------------------------------------------------------------------------------

Q3_EPOCHS = 5


@functools.cache
def _q3_encoder_weights() -> list[np.ndarray]:
    """Return weights for the check's encoder (64 -> 128 -> 64, ReLU), distinctive enough to recognize."""
    from utils.pretraining import ENCODER_SIZES, new_encoders

    stack = new_encoders(1, np.random.default_rng(70))
    weights = []
    for W, b in zip(stack.weights, stack.biases, strict=True):
        weights += [W[0].astype(np.float32), b[0, 0].astype(np.float32) + 0.01]
    assert weights[0].shape == ENCODER_SIZES[:2]
    return weights


def _q3_encoder():
    import keras

    from utils.pretraining import keras_encoder

    keras.utils.set_random_seed(7)
    encoder = keras_encoder()
    encoder.set_weights(_q3_encoder_weights())
    return encoder


class _FitRecorder:
    """Record, at every ``fit`` of any Keras model, how many weight arrays train and the weights before and after."""

    def __init__(self):
        self.calls: list[dict] = []

    def __enter__(self):
        import keras

        self._fit = original = keras.Model.fit
        calls = self.calls

        def fit(model, *args, **kwargs):
            calls.append({"trainable": len(model.trainable_weights), "before": [w.copy() for w in model.get_weights()]})
            history = original(model, *args, **kwargs)
            calls[-1]["after"] = [w.copy() for w in model.get_weights()]
            return history

        keras.Model.fit = fit
        return self

    def __exit__(self, *exc):
        import keras

        keras.Model.fit = self._fit


def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def _check_probe_then_fine_tune(function) -> None:
    function = as_callable(function, "probe_then_fine_tune")
    encoder = _q3_encoder()
    pretrained = [w.copy() for w in encoder.get_weights()]
    data = few_label_splits(labels_per_class=2, seed=0)
    n_enc = len(pretrained)
    with _FitRecorder() as recorder:
        model = call(function, encoder, data.X_labeled.copy(), data.y_labeled.copy(), Q3_EPOCHS, Q3_EPOCHS)
    if not _same(encoder.get_weights(), pretrained):
        raise Wrong(
            "the encoder you were given changed: your classifier shares its layers instead of copying them, so "
            "fine-tuning altered the pretrained encoder itself.",
            "Copy it: copy = keras.models.clone_model(encoder); copy.set_weights(encoder.get_weights()).",
        )
    calls = recorder.calls
    if calls and calls[0]["trainable"] > 2:
        raise Wrong(
            "your first training already trains the encoder together with the new, random output layer: its large "
            "early gradients flow into the pretrained features and wreck them. Train the new layer alone first "
            "(a linear probe), then fine-tune (Kumar et al. 2022).",
            "Set copy.trainable = False, compile, fit; then copy.trainable = True, compile again, fit.",
        )
    if len(calls) < 2:
        raise Wrong(
            f"your function called fit {len(calls)} time(s): a linear probe (only the new layer trains), then "
            "fine-tuning (everything trains) needs two trainings.",
            "fit once with the copy frozen (copy.trainable = False), then unfreeze it, compile again and fit again.",
        )
    first, last = calls[0], calls[-1]
    if not _same(first["before"][:n_enc], pretrained):
        raise Wrong(
            "the encoder in your classifier does not start from the pretrained weights: keras.models.clone_model "
            "copies the architecture with NEW random weights.",
            "After clone_model, copy the weights: copy.set_weights(encoder.get_weights()).",
        )
    if not _same(last["before"][n_enc:], first["after"][n_enc:]):
        raise Wrong(
            "fine-tuning did not start from the probe's output layer: the layer trained in the probe was replaced.",
            "Keep the same model: unfreeze its encoder copy and fit it again.",
        )
    if last["trainable"] <= 2 or _same(last["after"][:n_enc], last["before"][:n_enc]):
        raise Wrong(
            "the encoder did not change during fine-tuning: it is still frozen, or its new trainable flag was "
            "ignored because the model was not compiled again after changing it.",
            "copy.trainable = True, then model.compile(...) again (Keras builds its training step at compile), "
            "then fit.",
        )
    logits = np.asarray(model(data.X_test[:16], training=False), dtype=np.float64)
    if logits.shape != (16, N_CLASSES):
        raise Wrong(f"your model outputs shape {logits.shape} for 16 images; it should output 10 class scores each.")


def _demo_probe_then_fine_tune(function) -> None:
    print("Probe first (only the new layer learned), then everything, starting from the probe: the order that keeps")
    print("the pretrained features (the chapter measures what skipping the probe costs).")


q3 = Exercise(
    name="a linear probe, then fine-tuning",
    checker=_check_probe_then_fine_tune,
    hints=[
        "Copy the encoder with its weights (clone_model + set_weights), freeze the copy, put a new Dense(10) on top, "
        "compile and fit: that is the linear probe.",
        "Then copy.trainable = True, compile again (with a smaller learning rate), and fit the same model again.",
    ],
    on_pass=_demo_probe_then_fine_tune,
)
