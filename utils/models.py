"""The course's one Keras MLP builder, its compile and copy helpers, and its one custom training loop.

Every chapter builds its Keras networks with :func:`build_mlp` (chapters 01-08) and compiles them with
:func:`compile_model`. :func:`train_step` is the ``GradientTape`` step chapters 04, 05 and 08 write by hand
(loss, gradients, their global norm, the update); :func:`run_epochs` runs it over minibatches inside one traced
epoch and records the loss and the gradient norm of every step.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# The initializer that keeps each activation's signal at a steady scale (chapter 02), by its short name.
KERAS_INIT = {"glorot": "glorot_normal", "he": "he_normal", "lecun": "lecun_normal"}
# Activations that need a layer of their own (a parameter, a random slope, or a slope other than Keras' layer's).
LAYER_ACTIVATIONS = ("rrelu", "prelu", "leaky_relu")
BN_PLACEMENTS = (False, "before", "after")

# ------------------------------------------------------------------------------------------------------------
# Building
# ------------------------------------------------------------------------------------------------------------


def build_mlp(
    depth: int,
    width: int,
    activation: str = "relu",
    *,
    kernel_initializer="glorot_uniform",
    bias_initializer="zeros",
    n_inputs: int = 64,
    n_classes: int = 10,
    batch_norm: bool | str = False,
    activation_layers: bool = False,
    logits: bool = False,
    dtype=None,
    name: str | None = None,
):
    """Return a Sequential MLP: ``depth`` hidden Dense layers of ``width`` units, then an output layer.

    Parameters
    ----------
    depth, width : number and width of the hidden layers (named ``dense_1``...; the output layer ``output``).
    activation : the hidden layers' activation: a Keras activation name, ``"rrelu"``, ``"prelu"`` or
        ``"leaky_relu"`` (slope 0.2, the course's; these three imply ``activation_layers``).
    kernel_initializer : a Keras initializer for every hidden layer (a name, a class, an instance, or a function
        returning a new one), renewed per layer by :func:`fresh_initializer`; the output layer uses Glorot.
    bias_initializer : the hidden biases' initializer, or a number (a constant, e.g. -3 to kill ReLU units).
    n_inputs, n_classes : input features (64 for the digits) and classes.
    batch_norm : ``"before"`` (or True): Dense without bias -> BatchNormalization ``bn_i`` -> Activation ``act_i``;
        ``"after"``: Dense with its activation -> BatchNormalization ``bn_i`` (chapter 04 compares the two).
    activation_layers : put each hidden activation in a layer of its own, named ``<activation>_i``.
    logits : no softmax on the output layer (pair with a loss ``from_logits=True``).
    dtype : the dtype of the input and of every layer (e.g. ``"float64"``); None: Keras' default.
    name : the model's name (default ``mlp_<depth>x<width>_<activation>``).
    """
    import keras

    if depth < 1 or width < 1:
        raise ValueError(f"need depth >= 1 and width >= 1, got depth={depth}, width={width}")
    placement = "before" if batch_norm is True else batch_norm
    if placement not in BN_PLACEMENTS:
        raise ValueError(f"batch_norm must be False, True, 'before' or 'after', got {batch_norm!r}")
    separate = activation_layers or activation in LAYER_ACTIVATIONS
    if placement == "after" and separate:
        raise ValueError("batch_norm='after' keeps the activation inside Dense: use a Keras activation name")
    if isinstance(bias_initializer, int | float):
        bias_initializer = keras.initializers.Constant(float(bias_initializer))
    on = {} if dtype is None else {"dtype": dtype}
    layers = [keras.Input(shape=(n_inputs,), **on)]
    for i in range(1, depth + 1):
        init = fresh_initializer(kernel_initializer)
        if placement == "before":
            layers += [
                keras.layers.Dense(width, kernel_initializer=init, use_bias=False, name=f"dense_{i}", **on),
                keras.layers.BatchNormalization(name=f"bn_{i}", **on),
                activation_layer(activation, name=f"act_{i}", **on),
            ]
            continue
        inside = None if separate else activation
        layers.append(
            keras.layers.Dense(
                width, inside, kernel_initializer=init, bias_initializer=bias_initializer, name=f"dense_{i}", **on
            )
        )
        if separate:
            layers.append(activation_layer(activation, name=f"{activation}_{i}", **on))
        if placement == "after":
            layers.append(keras.layers.BatchNormalization(name=f"bn_{i}", **on))
    layers.append(keras.layers.Dense(n_classes, None if logits else "softmax", name="output", **on))
    return keras.Sequential(layers, name=name or f"mlp_{depth}x{width}_{activation}")


def activation_layer(activation: str, **kwargs):
    """Return a Keras layer for ``activation``, including ``"rrelu"`` and ``"prelu"`` (slopes start at 0.25).

    ``"leaky_relu"`` gets the course's slope 0.2 (the function's default; the ``LeakyReLU`` layer's is 0.3).
    Keyword arguments (``name``, ``dtype``...) go to the layer.
    """
    import keras

    from utils import activations, layers

    if activation == "rrelu":
        return layers.RReLU(**kwargs)
    if activation == "prelu":
        slope = keras.initializers.Constant(layers.PRELU_INITIAL_SLOPE)
        return keras.layers.PReLU(alpha_initializer=slope, **kwargs)
    if activation == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope=activations.LEAKY_SLOPE, **kwargs)
    return keras.layers.Activation(activation, **kwargs)


def fresh_initializer(initializer):
    """Return a new Keras initializer with the same settings, drawing its own seed from Keras' global generator.

    One initializer *object* shared by several layers gives every layer of the same shape the same kernel
    (it fixes its seed when it is created), so builders make a fresh one per layer. Still deterministic
    under ``keras.utils.set_random_seed``. Accepts a name, a class, an instance, or a function returning one.
    """
    import keras

    if isinstance(initializer, str):
        return keras.initializers.get(initializer)
    if isinstance(initializer, type) or not isinstance(initializer, keras.initializers.Initializer):
        return initializer()
    config = initializer.get_config()
    return type(initializer).from_config({**config, "seed": None} if "seed" in config else config)


def compile_model(
    model,
    optimizer="sgd",
    *,
    learning_rate: float = 0.01,
    momentum: float = 0.0,
    metrics=(),
    loss="sparse_categorical_crossentropy",
    **clipping,
):
    """Compile ``model`` without XLA (faster for tiny models); return it.

    Parameters
    ----------
    optimizer : ``"sgd"`` (with ``momentum``), ``"adam"``, or an optimizer instance (then ``learning_rate``,
        ``momentum`` and ``clipping`` are its own).
    learning_rate, momentum : the new optimizer's settings.
    metrics : e.g. ``["accuracy"]``.
    loss : default: sparse cross-entropy on probabilities (integer labels); ``"mse"`` for regression.
    clipping : ``clipnorm=``, ``clipvalue=`` or ``global_clipnorm=`` for the new optimizer (chapter 05).
    """
    import keras

    if optimizer == "sgd":
        optimizer = keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum, **clipping)
    elif optimizer == "adam":
        optimizer = keras.optimizers.Adam(learning_rate=learning_rate, **clipping)
    elif isinstance(optimizer, str):
        raise ValueError(f"optimizer must be 'sgd', 'adam' or an optimizer instance, got {optimizer!r}")
    model.compile(optimizer=optimizer, loss=loss, metrics=list(metrics), jit_compile=False)
    return model


def copy_model(model):
    """Return an independent copy of ``model``: ``clone_model`` (new random weights), then ``set_weights``."""
    import keras

    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def restart(model, weights, optimizer=None):
    """Set ``model``'s weights to ``weights`` and zero ``optimizer``'s state (step count, momenta); return the model.

    The learning rate stays: the same as a new model and a new optimizer, without tracing a new training step.
    """
    model.set_weights(weights)
    for variable in getattr(optimizer, "variables", ()):
        if "learning_rate" not in variable.name:
            variable.assign(np.zeros(variable.shape, dtype=variable.dtype))
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


# ------------------------------------------------------------------------------------------------------------
# One custom training loop
# ------------------------------------------------------------------------------------------------------------


def train_step(model, optimizer, loss_fn) -> Callable:
    """Return a traced step ``(x, y) -> (loss, global norm of the raw gradient)`` that updates ``model``.

    ``loss_fn(y, outputs)``: a Keras loss object or a per-example loss function (its mean is taken). The model
    runs in training mode; the optimizer's own clipping options act inside ``apply_gradients``, after the norm
    is measured. Keras' ``fit`` does not show its gradients, which is why chapters 05 and 08 record them here.
    """
    import tensorflow as tf

    return tf.function(_step(model, optimizer, loss_fn), reduce_retracing=True)


def _step(model, optimizer, loss_fn) -> Callable:
    """Return the plain (untraced) step of :func:`train_step`: traced inside a caller's graph, it adds no call."""
    import tensorflow as tf

    def step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(loss_fn(y, model(x, training=True)))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss, tf.linalg.global_norm(grads)

    return step


@dataclass
class Record:
    """What :func:`run_epochs` saw: per step (one row per epoch) and per epoch; NaN after a non-finite epoch."""

    step_loss: np.ndarray  # (epochs, steps)
    step_norm: np.ndarray  # (epochs, steps): the raw gradient's global norm (NaN for a custom step)
    outputs: list  # the model's validation outputs after each epoch (inference mode), when asked for

    @property
    def loss(self) -> np.ndarray:
        """Return the mean training loss of each epoch."""
        return np.mean(self.step_loss, axis=1)

    @property
    def grad_norm(self) -> np.ndarray:
        """Return the largest gradient norm of each epoch."""
        return np.max(self.step_norm, axis=1)


def batches(n: int, batch_size: int, rule: str = "drop", *, order=None, steps: int | None = None) -> list:
    """Return one epoch's minibatches of ``order`` (default ``range(n)``) as index arrays.

    ``rule``: ``"drop"`` full batches only; ``"split"`` ⌈n / batch_size⌉ batches of nearly equal sizes
    (``np.array_split``); ``"wrap"`` ``steps`` consecutive batches that wrap around the end of the data.
    """
    order = np.arange(n) if order is None else np.asarray(order)
    if rule == "drop":
        return list(order[: n // batch_size * batch_size].reshape(-1, batch_size))
    if rule == "split":
        return np.array_split(order, int(np.ceil(n / batch_size)))
    if rule == "wrap":
        starts = (np.arange(steps or int(np.ceil(n / batch_size))) * batch_size) % n
        return [order[start : start + batch_size] for start in starts]
    raise ValueError(f"unknown batching rule {rule!r}: use 'drop', 'split' or 'wrap'")


def run_epochs(
    model,
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int = 1,
    batch_size: int = 32,
    optimizer=None,
    loss=None,
    step: Callable | None = None,
    seed: int | None = None,
    rule: str = "drop",
    steps: int | None = None,
    validation: np.ndarray | None = None,
) -> Record:
    """Train ``model`` for ``epochs`` epochs of minibatch steps, each epoch one traced graph; return a :class:`Record`.

    Parameters
    ----------
    model : a Keras model, trained in place.
    X, y : the training set.
    epochs, batch_size : how long, in epochs of minibatches made by :func:`batches` (``rule``, ``steps``).
    optimizer, loss : default: the model's own (from ``compile``); a loss name means its per-example function.
    step : a step ``(x, y) -> loss`` to run instead of :func:`train_step` (the gradient norm is then NaN).
    seed : shuffle the examples every epoch with ``np.random.default_rng(seed)``; None: keep their order.
    validation : inputs to run through the model (inference mode) after each epoch, in the same graph.

    An epoch whose mean loss is not finite ends the run; the epochs after it stay NaN.
    """
    runner = _epoch_runner(model, optimizer, loss, step)
    rng = None if seed is None else np.random.default_rng(seed)
    rows, outputs = [], []
    for _ in range(epochs):
        order = None if rng is None else rng.permutation(len(y))
        parts = batches(len(y), batch_size, rule, order=order, steps=steps)
        valid = np.zeros((0, *np.shape(X)[1:]), np.asarray(X).dtype) if validation is None else validation
        losses, norms, out = runner(X, y, parts, valid)
        rows.append((losses.numpy(), norms.numpy()))
        if validation is not None:
            outputs.append(out.numpy())
        if not np.isfinite(np.mean(rows[-1][0])):
            break
    n_steps = len(rows[0][0]) if rows else 0
    loss_table, norm_table = np.full((epochs, n_steps), np.nan), np.full((epochs, n_steps), np.nan)
    for epoch, (losses, norms) in enumerate(rows):
        loss_table[epoch], norm_table[epoch] = losses, norms
    return Record(loss_table, norm_table, outputs)


_RUNNERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {(optimizer, loss, step): runner}


def _epoch_runner(model, optimizer, loss, step):
    """Return the traced epoch of ``model`` for this optimizer, loss, step and set of trainable variables: traced
    once, reused by every call (a new ``compile`` or a change of ``trainable`` traces a new one)."""
    runners = _RUNNERS.setdefault(model, {})
    optimizer = optimizer or getattr(model, "optimizer", None)
    loss = loss if loss is not None else getattr(model, "loss", None)
    key = (id(optimizer), id(loss), id(step), tuple(id(v) for v in model.trainable_variables))
    if key not in runners:
        runners[key] = (_make_epoch_runner(model, optimizer, loss, step), optimizer, loss, step)  # keep them alive
    return runners[key][0]


def _build(optimizer, model) -> None:
    """Create the optimizer's variables now: variables cannot be created inside the traced loop."""
    if optimizer is not None and not optimizer.built:
        optimizer.build(model.trainable_variables)


def _make_epoch_runner(model, optimizer, loss, step):
    import keras
    import tensorflow as tf

    _build(optimizer, model)
    if step is None:
        if optimizer is None or loss is None:
            raise ValueError("the model is not compiled: call model.compile(optimizer=..., loss=...) before training")
        one_step = _step(model, optimizer, keras.losses.get(loss) if isinstance(loss, str) else loss)
    else:

        def one_step(x, y):
            return step(x, y), tf.constant(np.nan, tf.float64)

    def run(X, Y, n_steps, batch):
        losses = tf.TensorArray(tf.float64, size=n_steps)
        norms = tf.TensorArray(tf.float64, size=n_steps)
        for i in tf.range(n_steps):
            part = batch(i)
            value, norm = one_step(tf.gather(X, part), tf.gather(Y, part))
            losses = losses.write(i, tf.cast(value, tf.float64))
            norms = norms.write(i, tf.cast(norm, tf.float64))
        return losses.stack(), norms.stack()

    @tf.function(reduce_retracing=True)
    def equal_batches(X, Y, rows, X_valid):  # rows: (steps, batch) indices, one row per step (cheaper per step)
        return *run(X, Y, tf.shape(rows)[0], lambda i: rows[i]), model(X_valid, training=False)

    @tf.function(reduce_retracing=True)
    def any_batches(X, Y, index, bounds, X_valid):  # step i takes index[bounds[i]:bounds[i + 1]]
        steps = run(X, Y, tf.shape(bounds)[0] - 1, lambda i: index[bounds[i] : bounds[i + 1]])
        return *steps, model(X_valid, training=False)  # validation in the graph: cheaper

    def run_epoch(X, Y, parts, X_valid):
        if len({len(part) for part in parts}) == 1:
            return equal_batches(X, Y, np.stack(parts).astype(np.int32), X_valid)
        bounds = np.cumsum([0] + [len(part) for part in parts]).astype(np.int32)
        return any_batches(X, Y, np.concatenate(parts).astype(np.int32), bounds, X_valid)

    return run_epoch
