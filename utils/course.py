"""Course setup: the one call in every notebook's first code cell, the git-ignored output folder, and a bug report.

``python -m utils.course`` (or ``make report``) prints what a maintainer needs with a bug report: the course's
version, the versions of Python and the main packages, the platform, CPU and GPU, and ``environment_problems()``.
"""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

DEFAULT_SEED = 42
STYLE_FILE = Path(__file__).with_name("course.mplstyle")

# Set before TensorFlow is imported: quiet C++ logs, and the same kernels on every CPU
# (the oneDNN notice and its rounding differences appear only on some processors).
# Level 3, not 2: TF 2.21 logs a harmless *error*-level line ("NodeDef mentions attribute
# use_unbounded_threadpool") on every Keras fit; real failures still reach Python as exceptions.
_TF_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3"}
# A default only: an environment that asks for oneDNN explicitly keeps it (the re-run in `make test` does, to
# take another numeric path, as another CPU would; the course's printed numbers must not notice).
_TF_ENV_DEFAULTS = {"TF_ENABLE_ONEDNN_OPTS": "0"}


def setup(seed: int = DEFAULT_SEED, *, determinism: bool = True) -> None:
    """Quiet TensorFlow, seed every generator, turn on op determinism and apply the course plot style.

    Taught in chapter 00. Call it once, in a notebook's first code cell.
    """
    os.environ.update(_TF_ENV)
    for name, value in _TF_ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)
    import matplotlib.pyplot as plt

    plt.style.use(str(STYLE_FILE))
    seed_everything(seed)
    if determinism:
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()
    _quiet_python_warnings()


def seed_everything(seed: int = DEFAULT_SEED) -> None:
    """Seed Python, NumPy, TensorFlow and Keras (``keras.utils.set_random_seed``) at once."""
    os.environ.setdefault("PYTHONHASHSEED", str(seed))
    random.seed(seed)
    import keras

    keras.utils.set_random_seed(seed)


def _quiet_python_warnings() -> None:
    import logging
    import warnings

    import absl.logging

    absl.logging.set_verbosity(absl.logging.ERROR)
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    # Keras warns when a Sequential model gets `input_shape=`; the course passes keras.Input instead,
    # but learners' own code may not, and the warning carries a volatile file path.
    warnings.filterwarnings("ignore", message=".*input_shape.*input_dim.*", category=UserWarning)


def output_dir(*parts: str) -> Path:
    """Return (and create) a folder under the course's git-ignored ``outputs/`` folder.

    ``COURSE_OUTPUT_DIR`` overrides the location, e.g. on a read-only JupyterHub image.
    """
    root = os.environ.get("COURSE_OUTPUT_DIR")
    if root:
        base = Path(root)
    else:
        repo = Path(__file__).resolve().parent.parent
        is_checkout = (repo / "pyproject.toml").exists()
        base = repo / "outputs" if is_checkout else Path.home() / ".cache" / "training-deep-nets"
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


DISTRIBUTION = "training-deep-nets-course"  # pyproject.toml's [project] name


def course_version() -> str:
    """Return the course's release, as installed from pyproject.toml (e.g. '0.2.0'); see CHANGELOG.md."""
    import importlib.metadata as md

    try:
        return md.version(DISTRIBUTION)
    except md.PackageNotFoundError:
        return "unknown: the course is not installed (run `make setup`, or `pip install -e .` in the course folder)"


def versions() -> dict[str, str]:
    """Return the versions of Python and the course's main packages, by name."""
    import importlib.metadata as md

    found = {"python": sys.version.split()[0]}
    for name in ("tensorflow", "keras", "numpy", "matplotlib", "scikit-learn", "ipywidgets", "jupyterlab"):
        found[name] = _dist_version(md, name)
    return found


def _dist_version(md, name: str) -> str:
    aliases = {"tensorflow": ("tensorflow", "tensorflow-cpu")}
    for dist in aliases.get(name, (name,)):
        try:
            return md.version(dist)
        except md.PackageNotFoundError:
            continue
    return "not installed"


# What the course is tested with; environment_problems() compares the running kernel against it.
REQUIRED = {"python": (3, 11), "tensorflow": (2, 21), "keras": (3, 15), "ipywidgets": (8, 1), "jupyterlab": (4, 4)}


# Platforms without a TensorFlow 2.21 wheel (tests/test_platforms.py holds the table of published wheels).
NO_TENSORFLOW_WHEEL = {("Darwin", "x86_64"): "an Intel Mac", ("Linux", "aarch64"): "Linux aarch64"}
NO_WHEEL_ADVICE = "use Binder or a class JupyterHub, or a Linux x86-64 machine or container (README, Platforms)."


def no_tensorflow_wheel(system: str | None = None, machine: str | None = None) -> str | None:
    """Return this platform's name if TensorFlow 2.21 has no wheel for it (an Intel Mac, Linux aarch64), else None."""
    import platform

    return NO_TENSORFLOW_WHEEL.get((system or platform.system(), machine or platform.machine()))


def environment_problems() -> list[str]:
    """Return what is wrong with this environment for the course, as sentences that say what to do (empty: ready)."""
    found, problems = versions(), []
    for name, minimum in REQUIRED.items():
        version = found.get(name, "not installed")
        if version == "not installed" and name == "tensorflow" and no_tensorflow_wheel():
            problems.append(f"TensorFlow 2.21 publishes no wheel for {no_tensorflow_wheel()}: {NO_WHEEL_ADVICE}")
        elif version == "not installed":
            problems.append(f"{name} is not installed: run `make setup` (or `pip install -e .`) in the course folder.")
        elif _version_tuple(version) < minimum:
            wanted = ".".join(map(str, minimum))
            problems.append(f"{name} {version} is older than {wanted}: run `make setup` to refresh .venv.")
    try:
        import jupyterlab_widgets  # noqa: F401  (the JupyterLab side of ipywidgets; without it sliders do not render)
    except ImportError:
        problems.append("jupyterlab_widgets is missing, so widgets will not render: `pip install ipywidgets>=8`.")
    try:
        probe = output_dir("setup_check") / "write_probe.txt"
        probe.write_text("ok")
    except OSError as exc:
        problems.append(f"cannot write to the output folder ({exc}): set COURSE_OUTPUT_DIR to a writable folder.")
    return problems


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split(".")[:2]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


# ------------------------------------------------------------------------------------------------------------
# A bug report: python -m utils.course (make report)
# ------------------------------------------------------------------------------------------------------------

REPORTED_ENV = (
    "COURSE_OUTPUT_DIR",
    "TF_ENABLE_ONEDNN_OPTS",
    "TF_NUM_INTRAOP_THREADS",
    "OMP_NUM_THREADS",
    "CUDA_VISIBLE_DEVICES",
)
REPORTED_PACKAGES = ("ipykernel", "nbclient", "jupyterlab_widgets", "scipy", "latex2mathml")


def machine() -> dict[str, str]:
    """Return the platform, the processor and the devices TensorFlow sees (imports TensorFlow, quietly)."""
    import platform

    os.environ.update(_TF_ENV)
    for name, value in _TF_ENV_DEFAULTS.items():
        os.environ.setdefault(name, value)
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": f"{_processor_name()}, {os.cpu_count()} logical cores",
        "gpu": ", ".join(gpu.name for gpu in gpus) if gpus else "none (fine: the course runs on a CPU)",
        "tensorflow build": "with CUDA" if tf.test.is_built_with_cuda() else "CPU only",
    }


def _processor_name() -> str:
    import platform

    try:  # Linux names the model here; platform.processor() is often empty there
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown processor"


def report() -> str:
    """Return a bug report as text: course version, versions, platform, CPU/GPU, environment problems."""
    import importlib.metadata as md

    settings = [f"{name:<22}{os.environ[name]}" for name in REPORTED_ENV if name in os.environ]  # before TF's import
    lines = [f"{'course':<22}{course_version()}", f"{'python executable':<22}{sys.executable}"]
    lines += [f"{name:<22}{version}" for name, version in versions().items()]
    installed = []
    for dist in ("tensorflow", "tensorflow-cpu"):
        try:
            installed.append(f"{dist} {md.version(dist)}")
        except md.PackageNotFoundError:
            pass
    lines.append(f"{'tensorflow dist':<22}{', '.join(installed) or 'none'}")
    lines += [f"{name:<22}{_dist_version(md, name)}" for name in REPORTED_PACKAGES]
    lines += [f"{name:<22}{value}" for name, value in machine().items()]
    lines += settings
    problems = environment_problems()
    lines.append("environment problems: " + ("none" if not problems else f"{len(problems)}"))
    lines += [f"  - {problem}" for problem in problems]
    return "\n".join(lines)


if __name__ == "__main__":
    print(report())
