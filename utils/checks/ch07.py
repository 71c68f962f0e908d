"""Checks for the chapter 07 exercises (``exercises/07_unsupervised_and_auxiliary_pretraining.ipynb``).

``q1``: the images pretraining may use (no test image, no label); ``q2``: build and train the autoencoder;
``q3``: reuse its encoder under a new softmax layer, copied with its weights (not re-initialized by ``clone_model``,
not shared, not the decoder), frozen or not; ``q4``: same-digit pairs built only from the few labeled images.
Each is an :class:`~utils.checks._core.Exercise`: ``q1.check(answer)``, ``q1.hint()``, ``q1.solution()``.
"""

from __future__ import annotations

import functools

import numpy as np

from utils.checks._core import Exercise, Wrong, as_array, as_callable, call
from utils.pretraining import few_label_splits, shared_rows

N_PIXELS, N_CODINGS, N_CLASSES = 64, 32, 10
MSE_LIMIT = 0.6  # a trained autoencoder's test error, as a fraction of the mean image's (the chapter's: ~0.35)


@functools.cache
def _digits():
    from utils.data import load_digits_splits

    return load_digits_splits()


def _pool() -> np.ndarray:
    digits = _digits()
    return np.vstack([digits.X_train, digits.X_valid])


def _is_model(value) -> bool:
    import keras

    return isinstance(value, keras.Model)


# ------------------------------------------------------------------------------------------------------------
# Exercise 1: the images pretraining may use
# ------------------------------------------------------------------------------------------------------------


def _check_pretraining_images(function) -> None:
    function = as_callable(function, "pretraining_images")
    digits = _digits()
    result = call(function, digits, what="`pretraining_images(digits)`")
    if isinstance(result, tuple | list) and len(result) == 2:
        raise Wrong(
            "you returned two things (images and labels?): pretraining gets the images only.",
            "Return one array of images; an autoencoder's targets are its inputs, it needs no label.",
        )
    images = as_array(result, "your pretraining set")
    if images.ndim != 2:
        raise Wrong(f"your pretraining set should be a 2-D array (images, 64 pixels), got shape {images.shape}.")
    if images.shape[1] == N_PIXELS + 1:
        raise Wrong(
            "your images have 65 columns: the labels were appended to the pixels, and would leak into pretraining.",
            "Stack the image arrays only (np.vstack of X arrays), without any y.",
        )
    if images.shape[1] != N_PIXELS:
        raise Wrong(f"each image should have 64 pixels, yours have {images.shape[1]}.")
    in_test = shared_rows(images, digits.X_test)
    if in_test:
        raise Wrong(
            f"{in_test} test images are in your pretraining set: the final score would be measured on images "
            "that pretraining has seen.",
            "Use the training and validation images only: np.vstack([splits.X_train, splits.X_valid]).",
        )
    pool = _pool()
    known = shared_rows(images, pool)
    if known < len(images):
        raise Wrong(
            f"{len(images) - known} of your rows are not images of the data set (changed, or rescaled again?).",
            "Return the images as they are in the splits (already standardized).",
        )
    if len(images) > len(pool):
        raise Wrong("some images appear more than once.", "Stack each array once.")
    if len(images) == len(digits.X_train) and shared_rows(images, digits.X_train) == len(images):
        raise Wrong(
            "you left out the validation images: with few labels their labels are unknown anyway, so they are "
            "unlabeled images like the others, and pretraining may use them.",
            "np.vstack([splits.X_train, splits.X_valid])",
        )
    if len(images) < len(pool):
        raise Wrong(
            f"your set has {len(images)} images; all {len(pool)} training and validation images may be used.",
            "np.vstack([splits.X_train, splits.X_valid])",
        )


def _demo_pretraining_images(function) -> None:
    digits = _digits()
    print(f"{len(_pool())} images for pretraining, none of the {len(digits.y_test)} test images, no label.")


q1 = Exercise(
    name="the images pretraining may use",
    checker=_check_pretraining_images,
    hints=[
        "Which images may an unsupervised method see? Every image except those you will score on.",
        "np.vstack([splits.X_train, splits.X_valid]): images only, no labels, no test images.",
    ],
    solution_text="""
def pretraining_images(splits):
    return np.vstack([splits.X_train, splits.X_valid])
""",
    on_pass=_demo_pretraining_images,
)


# ------------------------------------------------------------------------------------------------------------
# Exercise 2: build and train the autoencoder
# ------------------------------------------------------------------------------------------------------------


def _three_models(result, names: str) -> tuple:
    if not isinstance(result, tuple | list) or len(result) != 3:
        raise Wrong(f"your function should return three Keras models, {names}.", f"End with `return {names}`.")
    for value, name in zip(result, names.split(", "), strict=True):
        if not _is_model(value):
            raise Wrong(f"{name} should be a Keras model, got {type(value).__name__}.")
    return tuple(result)


def _output_width(model) -> int | None:
    shape = getattr(model, "output_shape", None)
    return shape[-1] if isinstance(shape, tuple) else None


@functools.cache
def _mean_image_error() -> float:
    return float(np.mean((_digits().X_test - _pool().mean(axis=0)) ** 2))


def _check_autoencoder(function) -> None:
    import keras

    function = as_callable(function, "train_autoencoder")
    keras.utils.set_random_seed(0)
    result = call(function, _pool().copy(), what="`train_autoencoder(X)`")
    encoder, decoder, autoencoder = _three_models(result, "encoder, decoder, autoencoder")
    if _output_width(encoder) != N_CODINGS:
        raise Wrong(
            f"the encoder should output {N_CODINGS} codings, it outputs {_output_width(encoder)}.",
            "Encoder: Dense(64, relu), then Dense(32, relu).",
        )
    if _output_width(decoder) != N_PIXELS or _output_width(autoencoder) != N_PIXELS:
        raise Wrong("the decoder and the autoencoder should output 64 pixels.", "Decoder: Dense(64, relu), Dense(64).")
    X_test = _digits().X_test
    rebuilt = np.asarray(autoencoder.predict(X_test, verbose=0), dtype=np.float64)
    if np.min(rebuilt) >= 0:
        raise Wrong(
            "your reconstructions are never negative, but standardized pixels are: the decoder's last layer "
            "needs a linear output.",
            "The last layer: keras.layers.Dense(64), with no activation.",
        )
    error = float(np.mean((rebuilt - X_test) ** 2))
    if error > MSE_LIMIT * _mean_image_error():
        raise Wrong(
            f"on the test images your autoencoder's reconstruction error is {error:.2f}; predicting the mean image "
            f"gives {_mean_image_error():.2f}. It has not learned to reproduce its inputs.",
            "Compile with loss='mse' and train with the images as inputs and targets: autoencoder.fit(X, X, ...), "
            "about 10 epochs, Adam (learning rate 3e-3).",
        )
    chained = np.asarray(decoder.predict(encoder.predict(X_test, verbose=0), verbose=0), dtype=np.float64)
    if not np.allclose(chained, rebuilt, atol=1e-4):
        raise Wrong(
            "decoder(encoder(x)) is not what the autoencoder computes: the encoder and decoder you returned are "
            "not the trained autoencoder's layers.",
            "Build autoencoder = keras.Sequential([encoder, decoder]), so that training it trains them.",
        )


def _demo_autoencoder(function) -> None:
    print(
        f"Your autoencoder reconstructs the test images with less than {MSE_LIMIT:.0%} of the mean image's error, "
        "from 32 codings."
    )


q2 = Exercise(
    name="build and train the autoencoder",
    checker=_check_autoencoder,
    hints=[
        "Two Sequential models, encoder (keras.Input((64,)), Dense(64, relu), Dense(32, relu)) and decoder "
        "(keras.Input((32,)), Dense(64, relu), Dense(64)), then autoencoder = keras.Sequential([encoder, decoder]).",
        "Compile with keras.optimizers.Adam(3e-3), loss='mse', jit_compile=False; fit(X, X, epochs=10, "
        "batch_size=64, verbose=0): the inputs are also the targets.",
    ],
    solution_text="""
def train_autoencoder(X, epochs=10):
    encoder = keras.Sequential(
        [
            keras.Input(shape=(64,)),
            keras.layers.Dense(64, activation="relu", kernel_initializer="he_normal"),
            keras.layers.Dense(32, activation="relu", kernel_initializer="he_normal"),
        ]
    )
    decoder = keras.Sequential(
        [
            keras.Input(shape=(32,)),
            keras.layers.Dense(64, activation="relu", kernel_initializer="he_normal"),
            keras.layers.Dense(64),  # linear: standardized pixels can be negative
        ]
    )
    autoencoder = keras.Sequential([encoder, decoder])
    autoencoder.compile(optimizer=keras.optimizers.Adam(3e-3), loss="mse", jit_compile=False)
    autoencoder.fit(X, X, epochs=epochs, batch_size=64, verbose=0)
    return encoder, decoder, autoencoder
""",
    on_pass=_demo_autoencoder,
)


# ------------------------------------------------------------------------------------------------------------
# Exercise 3: reuse the encoder (copied with its weights), frozen or not
# ------------------------------------------------------------------------------------------------------------


@functools.cache
def _q3_models():
    """Return an encoder and a decoder with distinctive weights (random biases too), as if pretrained."""
    import keras

    from utils.pretraining import build_keras_autoencoder

    keras.utils.set_random_seed(7)
    encoder, decoder, _ = build_keras_autoencoder()
    rng = np.random.default_rng(7)
    for model in (encoder, decoder):
        model.set_weights([w + rng.normal(0, 0.05, w.shape).astype(w.dtype) for w in model.get_weights()])
    return encoder, decoder


def _same_weights(a: list, b: list) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def _check_classifier(function) -> None:
    function = as_callable(function, "build_classifier")
    encoder, decoder = _q3_models()
    saved = [w.copy() for w in encoder.get_weights()]
    flags = [layer.trainable for layer in encoder.layers]
    try:
        for frozen in (True, False):
            model = call(function, encoder, frozen, what=f"`build_classifier(encoder, {frozen})`")
            _check_one_classifier(model, encoder, decoder, saved, frozen)
            if [layer.trainable for layer in encoder.layers] != flags or not encoder.trainable:
                raise Wrong(
                    "building the classifier changed the encoder's own trainable flags: freeze the copy, not the "
                    "original.",
                    "Set trainable on the copy: copy.trainable = not frozen.",
                )
    finally:
        encoder.set_weights(saved)
        encoder.trainable = True
        for layer, flag in zip(encoder.layers, flags, strict=True):
            layer.trainable = flag


def _check_one_classifier(model, encoder, decoder, saved, frozen: bool) -> None:
    if not _is_model(model):
        raise Wrong(f"build_classifier should return a Keras model, got {type(model).__name__}.")
    weights = model.get_weights()
    if any(w.shape == (N_CODINGS, N_PIXELS) for w in weights[:2]) or _same_weights(
        weights[:2], decoder.get_weights()[:2]
    ):
        raise Wrong(
            "your classifier starts with the decoder: it maps codings back to pixels, and its input is 32 codings, "
            "not an image.",
            "Reuse the encoder (64 pixels -> 32 codings); the decoder is thrown away after pretraining.",
        )
    if _output_width(model) != N_CLASSES or len(weights) != len(saved) + 2:
        raise Wrong(
            f"the classifier should be the encoder's two layers plus one new Dense({N_CLASSES}, softmax) layer; "
            f"yours has {len(weights) // 2} weight matrices and {_output_width(model)} outputs.",
            "keras.Sequential([copy_of_encoder, keras.layers.Dense(10, activation='softmax')])",
        )
    mine = {id(v) for v in encoder.weights}
    if any(id(v) in mine for v in model.weights):
        raise Wrong(
            "your classifier shares the encoder's layers: training it would change the pretrained encoder (and the "
            "autoencoder), and the frozen and fine-tuned versions could not start from the same weights.",
            "Copy it: copy = keras.models.clone_model(encoder), then copy.set_weights(encoder.get_weights()).",
        )
    if not _same_weights(weights[: len(saved)], saved):
        raise Wrong(
            "the encoder's weights in your classifier are not the pretrained ones: keras.models.clone_model copies "
            "the architecture with NEW random weights, so nothing pretrained is reused.",
            "After clone_model, copy the weights: copy.set_weights(encoder.get_weights()).",
        )
    n_trainable = len(model.trainable_weights)
    if frozen and n_trainable != 2:
        raise Wrong(
            "with frozen=True the encoder's layers are still trainable: only the new output layer should learn.",
            "Set copy.trainable = False (then compile the classifier after that).",
        )
    if not frozen and n_trainable != len(weights):
        raise Wrong(
            "with frozen=False some layers are not trainable: fine-tuning trains the copied encoder too.",
            "Set copy.trainable = not frozen.",
        )
    probabilities = np.asarray(model(_digits().X_test[:16], training=False), dtype=np.float64)
    if probabilities.shape != (16, N_CLASSES) or not np.allclose(probabilities.sum(axis=1), 1, atol=1e-4):
        raise Wrong(
            "the outputs are not class probabilities (each row should sum to 1).",
            "The new layer: keras.layers.Dense(10, activation='softmax').",
        )


def _demo_classifier(function) -> None:
    encoder, _ = _q3_models()
    counts = {}
    for frozen in (True, False):
        model = function(encoder, frozen)
        counts[frozen] = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    print(
        f"Frozen, {counts[True]} weights learn (the new layer); fine-tuned, all {counts[False]}, "
        "starting from the pretrained encoder's."
    )


q3 = Exercise(
    name="reuse the encoder, copied with its weights",
    checker=_check_classifier,
    hints=[
        "keras.models.clone_model(encoder) copies the architecture only, with new random weights: "
        "follow it with set_weights(encoder.get_weights()).",
        "Set copy.trainable = not frozen, then return keras.Sequential([copy, keras.layers.Dense(10, "
        "activation='softmax')]).",
    ],
    solution_text="""
def build_classifier(encoder, frozen):
    copy = keras.models.clone_model(encoder)
    copy.set_weights(encoder.get_weights())  # clone_model alone draws new random weights
    copy.trainable = not frozen
    return keras.Sequential([copy, keras.layers.Dense(10, activation="softmax")])
""",
    on_pass=_demo_classifier,
)


# ------------------------------------------------------------------------------------------------------------
# Exercise 4: same-digit pairs from the few labeled images
# ------------------------------------------------------------------------------------------------------------

Q4_PAIRS = 400


@functools.cache
def _q4_data():
    return few_label_splits(labels_per_class=5, seed=3)


def _labels_of(images: np.ndarray, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    lookup = {row.tobytes(): label for row, label in zip(np.asarray(X, np.float64), y, strict=True)}
    return np.array([lookup[row.tobytes()] for row in np.asarray(images, np.float64)])


def _check_pairs(function) -> None:
    function = as_callable(function, "make_pairs")
    data = _q4_data()
    X, y = data.X_labeled, data.y_labeled
    result = call(function, X.copy(), y.copy(), Q4_PAIRS, np.random.default_rng(0), what="`make_pairs(...)`")
    if not isinstance(result, tuple | list) or len(result) != 3:
        raise Wrong("make_pairs should return three arrays: left, right, same.", "End with `return left, right, same`.")
    left = as_array(result[0], "left", (Q4_PAIRS, N_PIXELS))
    right = as_array(result[1], "right", (Q4_PAIRS, N_PIXELS))
    same = as_array(result[2], "same", (Q4_PAIRS,))
    if not np.all(np.isin(same, (0, 1))):
        raise Wrong("same should hold 1 (same digit) or 0 (different digits).")
    for name, images in (("left", left), ("right", right)):
        outside = Q4_PAIRS - shared_rows(images, X)
        if shared_rows(images, data.X_test):
            raise Wrong(f"{name} contains test images: they must stay out of every pretraining set.")
        if outside:
            raise Wrong(
                f"{outside} of your {name} images are not among the labeled images you were given: pairs built "
                "from images whose labels you do not have leak labels into pretraining.",
                "Draw both images of every pair from X (the labeled images), and compare their labels y.",
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
    again = call(function, X.copy(), y.copy(), Q4_PAIRS, np.random.default_rng(1), what="`make_pairs(...)`")
    if np.array_equal(np.asarray(again[0]), left):
        raise Wrong(
            "a different rng gave the same pairs: draw them with the rng you are given.", "rng.integers, rng.choice"
        )


def _demo_pairs(function) -> None:
    data = _q4_data()
    n = len(data.y_labeled)
    print(f"From {n} labeled images: {n * (n - 1) // 2} possible pairs, balanced, none outside the labeled set.")


q4 = Exercise(
    name="same-digit pairs from the few labels",
    checker=_check_pairs,
    hints=[
        "Loop over the pairs: pick i = rng.integers(len(y)); for a same-digit pair choose j among "
        "np.flatnonzero((y == y[i]) & (np.arange(len(y)) != i)), otherwise among np.flatnonzero(y != y[i]).",
        "Alternate same and different (k % 2 == 0) for balance; return X[left], X[right], same.",
    ],
    solution_text="""
def make_pairs(X, y, n_pairs, rng):
    left, right, same = [], [], []
    for k in range(n_pairs):
        i = rng.integers(len(y))
        want_same = k % 2 == 0
        others = np.flatnonzero((y == y[i]) & (np.arange(len(y)) != i)) if want_same else np.flatnonzero(y != y[i])
        left.append(i)
        right.append(rng.choice(others))
        same.append(int(want_same))
    return X[left], X[right], np.array(same)
""",
    on_pass=_demo_pairs,
)
