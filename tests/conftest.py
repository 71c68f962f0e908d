"""Test settings shared by every test module: quiet, deterministic TensorFlow and a non-interactive backend."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402 (after the environment above, which TensorFlow reads at import)


@pytest.fixture(scope="module")
def course_setup():
    """Call ``utils.course.setup()`` once per module (seeds, threads, plotting style) and return Keras."""
    from utils.course import setup

    setup()
    import keras

    return keras


@pytest.fixture(scope="module")
def keras(course_setup):
    """Keras, after ``utils.course.setup()`` (the one setup every test module shares)."""
    return course_setup
