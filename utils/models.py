"""Small Keras models and a compact training helper shared by the chapters."""

from __future__ import annotations

import numpy as np


def build_mlp(
    depth: int,
    width: int,
    activation: str = "relu",
    *,
    kernel_initializer="glorot_uniform",
    n_inputs: int = 64,
    n_classes: int = 10,
    batch_norm: bool = False,
    name: str | None = None,
):
    """Return a Sequential MLP: ``depth`` hidden Dense layers of ``width`` units, then a softmax output.

    Parameters
    ----------
    depth, width : number and width of the hidden layers.
    activation : the hidden layers' activation (any Keras activation name).
    kernel_initializer : a Keras initializer (name, class or instance) for every hidden layer, renewed per layer
        by :func:`fresh_initializer`; the output layer uses Glorot.
    n_inputs, n_classes : input features (64 for the digits) and classes.
    batch_norm : add BatchNormalization after each hidden Dense layer, before its activation.
    """
    import keras

    if depth < 1 or width < 1:
        raise ValueError(f"need depth >= 1 and width >= 1, got depth={depth}, width={width}")
    layers = [keras.Input(shape=(n_inputs,))]
    for i in range(depth):
        init = fresh_initializer(kernel_initializer)
        if batch_norm:
            layers += [
                keras.layers.Dense(width, kernel_initializer=init, use_bias=False, name=f"dense_{i + 1}"),
                keras.layers.BatchNormalization(name=f"bn_{i + 1}"),
                keras.layers.Activation(activation, name=f"act_{i + 1}"),
            ]
        else:
            layers.append(
                keras.layers.Dense(width, activation=activation, kernel_initializer=init, name=f"dense_{i + 1}")
            )
    layers.append(keras.layers.Dense(n_classes, activation="softmax", name="output"))
    return keras.Sequential(layers, name=name or f"mlp_{depth}x{width}_{activation}")


def fresh_initializer(initializer):
    """Return a new Keras initializer with the same settings, drawing its own seed from Keras' global generator.

    One initializer *object* shared by several layers gives every layer of the same shape the same kernel
    (it fixes its seed when it is created), so builders make a fresh one per layer. Still deterministic
    under ``keras.utils.set_random_seed``. Accepts a name, a class or an instance.
    """
    import keras

    if isinstance(initializer, str):
        return keras.initializers.get(initializer)
    if isinstance(initializer, type):
        return initializer()
    config = initializer.get_config()
    return type(initializer).from_config({**config, "seed": None} if "seed" in config else config)


def compile_classifier(model, optimizer=None, learning_rate: float = 0.01):
    """Compile for integer labels with sparse cross-entropy and accuracy, without XLA (faster for tiny models)."""
    import keras

    optimizer = optimizer or keras.optimizers.SGD(learning_rate=learning_rate)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=False)
    return model


def fit_quietly(model, splits, *, epochs: int = 10, batch_size: int = 32, callbacks=()) -> dict[str, np.ndarray]:
    """Train on ``splits`` without Keras' logs; return the history as arrays (loss, accuracy, val_...)."""
    history = model.fit(
        splits.X_train,
        splits.y_train,
        validation_data=(splits.X_valid, splits.y_valid),
        epochs=epochs,
        batch_size=batch_size,
        callbacks=list(callbacks),
        verbose=0,
        shuffle=True,
    )
    return {key: np.asarray(values) for key, values in history.history.items()}
