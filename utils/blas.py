"""Small-matrix speed: run numpy's matrix products on one thread inside the widgets' compute functions."""

from __future__ import annotations

import functools


@functools.cache
def _controller():
    from threadpoolctl import ThreadpoolController  # a dependency of scikit-learn, listed in pyproject.toml

    return ThreadpoolController()


def single_blas_thread():
    """Return a context manager that runs numpy's matrix products on one thread.

    The course's matrices are small: several BLAS threads only wait for each other, and on a busy 2-core
    machine that waiting made a 100-layer pass 10-50 times slower (measured: 30 ms alone, up to 800 ms).
    """
    return _controller().limit(limits=1, user_api="blas")
