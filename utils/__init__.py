"""Shared code for the course *Training Deep Neural Networks, hands-on*.

Importing ``utils`` changes nothing global. Each notebook's first code cell calls
:func:`utils.course.setup`, which quiets TensorFlow, seeds every generator and applies the plot style.

Modules, from the bottom up (arrows point down, toward compute):

- ``course``: the setup call, the git-ignored output folder, versions.
- ``data``: the digits data set (ships with scikit-learn), the few-label protocol and small synthetic data.
- ``glyphs``: printed digits and letters rendered from matplotlib's fonts, reduced to 8x8 like the digits (ch. 06-07).
- ``blas``: one BLAS thread for the small matrix products behind the widgets.
- ``activations``: activation functions and derivatives in numpy; the signal through deep stacks (ch. 01, 03).
- ``diagnostics``: per-layer forward and backward statistics of any sequential Keras model, and a callback.
- ``init``: fans and the one Glorot / He / LeCun table (ch. 02; every numpy and Keras initialization reads it).
- ``nets``: the one numpy engine: dense networks, one or M side by side, hand-written backward pass, losses,
  SGD and Adam as Keras computes them, training with cached frozen layers (ch. 01-03, 06, 07).
- ``mlp``: chapters 01-03's experiments on ``nets``: the gradient-flow explorer, deep-stack measurements,
  activation comparisons and dead units.
- ``batchnorm``: batch normalization in numpy with Keras' conventions (ch. 04).
- ``models``: the one Keras MLP builder, compile and copy helpers, the custom training loop (ch. 01-08).
- ``layers``: the RReLU layer (ch. 03).
- ``clipping``: clipping by value, norm and global norm from scratch; exploding RNNs and deep nets (ch. 05).
- ``transfer``, ``zoo``: reusing, freezing and caching layers; the course's checksummed model zoo (ch. 06).
- ``pretraining``: contrastive, autoencoder and same-or-not pair pretraining with scarce labels (ch. 07).
- ``capstone``, ``doctor``: broken set-ups to debug, and ``doctor.doctor`` for a learner's model (ch. 08).
- ``plots``: the course's plot helpers (on top of compute).
- ``widgets``: the interactive explorers (on top of plots and compute).
- ``checks``: the exercise checks (on top of compute).

The course's version is the installed package's (pyproject.toml): ``utils.course.course_version()``.
"""
