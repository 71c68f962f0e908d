"""Rebuild the course's model zoo (utils/zoo/): train each model, save it as .keras, write the manifest.

Usage: python tools/make_zoo.py [--out FOLDER] [name ...]     (``make zoo``; default: every model, into utils/zoo/)

Reproducible: each model is trained from a fixed seed with op determinism, and its .keras archive is written with
fixed timestamps (zip entries and Keras' ``date_saved``), so a rebuild on the same machine gives the same bytes
and the same SHA-256. On another CPU or thread count the float32 weights differ in their last bits; the
architecture and the test accuracy (within 0.03, see tests/test_zoo.py) stay the same.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

if not __package__:  # run as `python tools/make_zoo.py`: import `tools` from the course folder, as `-m` does
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.notebooks import ROOT  # noqa: E402

ZOO_DIR = ROOT / "utils" / "zoo"
FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold
FIXED_DATE_SAVED = "1980-01-01@00:00:00"

# name -> how it is made: task A of chapter 06 (digits 0-4), SGD with momentum, batch 32.
RECIPES = {
    "digits_0to4_mlp": {"batch_norm": False, "seed": 0, "epochs": 20, "learning_rate": 0.05, "momentum": 0.9},
    "digits_0to4_mlp_bn": {"batch_norm": True, "seed": 0, "epochs": 20, "learning_rate": 0.05, "momentum": 0.9},
}
# name -> a network pretrained on rendered characters (utils.glyphs), chapter 06's printed -> handwritten source:
# trained by the numpy twin (utils.transfer.pretrain_source on utils.nets: Adam 1e-3, batches of 64), saved as a
# Keras model.
_GLYPH = {"permuted": False, "seed": 0, "render_seed": 0, "epochs": 10, "elastic": 3.0}  # utils.transfer.SOURCE_ELASTIC
GLYPH_RECIPES = {
    "glyph_digits_mlp": {"source": "digits", **_GLYPH},
    "glyph_letters_mlp": {"source": "letters", **_GLYPH},
    "glyph_digits_permuted_mlp": {"source": "digits", **_GLYPH, "permuted": True},
    # The same printed digits with utils.glyphs' milder default distortion: the "too clean" source of chapter 06.
    "glyph_digits_mild_mlp": {"source": "digits", **_GLYPH, "elastic": 1.5},
}
GLYPH_TEST = {"seed": 1, "n_per_class": 100, "fonts": "heldout"}  # scored on fonts never trained on
TASKS = {
    "digits": "printed digits rendered from matplotlib's fonts (chapter 06's source)",
    "letters": "printed letters A-Z, a-z rendered from matplotlib's fonts (chapter 06's source with other classes)",
}


def glyph_test_set(name: str):
    """Return ``(X, y)``: the held-out-font images a glyph model is scored on (pixels permuted like its source)."""
    from utils.glyphs import DIGITS, LETTERS, render_glyphs
    from utils.transfer import pixels

    recipe = GLYPH_RECIPES[name]
    chars = {"digits": DIGITS, "letters": LETTERS}[recipe["source"]]
    X, y = render_glyphs(
        chars, GLYPH_TEST["n_per_class"], seed=GLYPH_TEST["seed"], fonts=GLYPH_TEST["fonts"], elastic=recipe["elastic"]
    )
    X = pixels(X)
    if recipe["permuted"]:
        from utils.transfer import SOURCE_PERMUTATION_SEED

        X = X[:, np.random.default_rng(SOURCE_PERMUTATION_SEED).permutation(X.shape[1])]
    return X, y


def test_accuracy(name: str, model) -> float:
    """Return the accuracy of zoo model ``name`` on its own test data (task A, or held-out fonts)."""
    from utils.transfer import accuracy, tasks

    if name in CH07_NAMES:
        return ch07_test_accuracy(model)
    if name in GLYPH_RECIPES:
        return accuracy(model, *glyph_test_set(name))
    task_a, _ = tasks()
    return accuracy(model, task_a.X_test, task_a.y_test)


def train_glyph(name: str):
    """Return the Keras twin of a network pretrained on rendered characters, and its held-out-font accuracy."""
    from utils.course import setup
    from utils.models import build_mlp
    from utils.transfer import DEPTH, WIDTH, keras_weights, pretrain_source, source_images

    recipe = GLYPH_RECIPES[name]
    setup(recipe["seed"])
    X, y = source_images(
        recipe["source"], seed=recipe["render_seed"], permuted=recipe["permuted"], elastic=recipe["elastic"]
    )
    net = pretrain_source(X, y, seed=recipe["seed"], epochs=recipe["epochs"])
    model = build_mlp(DEPTH, WIDTH, "relu", n_classes=int(y.max()) + 1, name=name)
    model.set_weights(keras_weights(net))
    return model, test_accuracy(name, model)


def train(name: str):
    """Return the trained Keras model ``name`` (uncompiled copy) and its test accuracy (task A or held-out fonts)."""
    if name in GLYPH_RECIPES:
        return train_glyph(name)
    from utils.course import setup
    from utils.models import build_mlp, compile_model, copy_model
    from utils.transfer import DEPTH, N_CLASSES, WIDTH, accuracy, fit_steps, tasks

    recipe = RECIPES[name]
    setup(recipe["seed"])
    task_a, _ = tasks()
    model = build_mlp(DEPTH, WIDTH, "relu", n_classes=N_CLASSES, batch_norm=recipe["batch_norm"], name=name)
    compile_model(model, learning_rate=recipe["learning_rate"], momentum=recipe["momentum"], metrics=["accuracy"])
    fit_steps(model, task_a.X_train, task_a.y_train, epochs=recipe["epochs"])
    return copy_model(model), accuracy(model, task_a.X_test, task_a.y_test)  # the copy carries no optimizer


def save_reproducibly(model, path: Path) -> None:
    """Save ``model`` as a .keras archive at ``path`` with fixed timestamps (same weights, same bytes)."""
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / path.name
        model.save(raw)
        with zipfile.ZipFile(raw) as src, zipfile.ZipFile(path, "w") as dst:
            for info in sorted(src.infolist(), key=lambda i: i.filename):
                data = src.read(info.filename)
                if info.filename == "metadata.json":
                    meta = json.loads(data)
                    meta["date_saved"] = FIXED_DATE_SAVED
                    data = json.dumps(meta, sort_keys=True).encode()
                fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME)
                fixed.compress_type, fixed.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
                dst.writestr(fixed, data)


def architecture(model) -> str:
    """Return a one-line description of a model's layers: 'Dense(32, relu) → ... → Dense(5, softmax)'."""
    parts = []
    for layer in model.layers:
        config = layer.get_config()
        if "units" in config:
            parts.append(f"Dense({config['units']}, {config['activation']})")
        else:
            parts.append(type(layer).__name__ + (f"({config['activation']})" if "activation" in config else ""))
    return f"Input({model.input_shape[-1]}) → " + " → ".join(parts)


def build(names, out: Path = ZOO_DIR) -> list[dict]:
    """Train and save the models ``names`` into ``out``; return their manifest entries."""
    from utils.zoo import sha256

    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for name in names:
        model, test_accuracy = train(name)
        path = out / f"{name}.keras"
        save_reproducibly(model, path)
        entries.append(
            {
                "name": name,
                "file": path.name,
                "sha256": sha256(path),
                "bytes": path.stat().st_size,
                "task": _task(name),
                "architecture": architecture(model),
                "test_accuracy": round(test_accuracy, 4),
                "recipe": {**ALL_RECIPES[name], "script": "tools/make_zoo.py", "keras": _keras_version()},
            }
        )
        print(
            f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {entries[-1]['bytes']} bytes, "
            f"test accuracy {test_accuracy:.4f}, sha256 {entries[-1]['sha256'][:12]}"
        )
    return entries


def _task(name: str) -> str:
    if name in GLYPH_RECIPES:
        recipe = GLYPH_RECIPES[name]
        notes = [", pixels permuted (the negative control)"] if recipe["permuted"] else []
        notes += (
            [f", milder elastic distortion ({recipe['elastic']} px)"] if recipe["elastic"] != _GLYPH["elastic"] else []
        )
        return TASKS[recipe["source"]] + "".join(notes)
    return "digits 0-4 (chapter 06's task A)"


def _keras_version() -> str:
    import keras

    return keras.__version__


def write_manifest(entries: list[dict], out: Path = ZOO_DIR) -> Path:
    """Write (or update, by name) ``out/manifest.json`` with ``entries``; return its path."""
    path = out / "manifest.json"
    old = json.loads(path.read_text(encoding="utf-8"))["models"] if path.exists() else []
    merged = {item["name"]: item for item in old} | {item["name"]: item for item in entries}
    data = {
        "about": "The course's model zoo: made by tools/make_zoo.py (`make zoo`); load with utils.zoo.load.",
        "models": [merged[name] for name in sorted(merged)],
    }
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


ALL_RECIPES = RECIPES | GLYPH_RECIPES

# Chapter 07: the full pretrainings on the digits' pool half (utils.pretraining.FULL_PRETRAINING), all seeds in one
# file per kind, trained in numpy (float64, one BLAS thread: the same bytes on the same machine), stored as float32.
CH07_NAMES = {f"ch07_{kind}_encoders": kind for kind in ("simclr", "autoencoder", "pairs", "pairs_plain")}


def ch07_test_accuracy(model) -> float:
    """Return the 1-nearest-neighbour test accuracy of a chapter 07 encoder's features, mean over its seeds.

    Neighbours are looked up among the pool half's images (with their labels), on the features of each seed.
    """
    from utils.pretraining import ENCODER_SIZES, SEEDS, digits_task

    X_pool, y_pool, X_test, y_test = digits_task()
    width = ENCODER_SIZES[-1]
    pool, test = np.asarray(model(X_pool)), np.asarray(model(X_test))
    scores = []
    for j in range(len(SEEDS)):
        a, b = pool[:, j * width : (j + 1) * width], test[:, j * width : (j + 1) * width]
        distance = (b**2).sum(1)[:, None] - 2 * b @ a.T + (a**2).sum(1)[None, :]
        scores.append(np.mean(y_pool[np.argmin(distance, axis=1)] == y_test))
    return float(np.mean(scores))


def build_ch07_encoders(names=tuple(CH07_NAMES), out: Path = ZOO_DIR) -> list[dict]:
    """Run chapter 07's full pretrainings ``names`` (5 seeds each) and save their encoders; return manifest entries."""
    from utils import pretraining as pt
    from utils.zoo import sha256

    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for name in names:
        kind = CH07_NAMES[name]
        pretrained = pt.pretrain_full(kind)
        model = pt.encoders_to_keras(pretrained.encoder, pt.SEEDS, name=name)
        path = out / f"{name}.keras"
        save_reproducibly(model, path)
        accuracy = ch07_test_accuracy(model)
        entries.append(
            {
                "name": name,
                "file": path.name,
                "sha256": sha256(path),
                "bytes": path.stat().st_size,
                "task": f"chapter 07: {kind} pretraining on the digits' unlabeled pool half, one encoder per seed "
                f"{list(pt.SEEDS)} side by side (test accuracy: 1-nearest-neighbour on the features)",
                "architecture": architecture(model),
                "test_accuracy": round(accuracy, 4),
                "recipe": {
                    "kind": kind,
                    **pt.FULL_PRETRAINING[kind],
                    "seeds": list(pt.SEEDS),
                    "script": "tools/make_zoo.py",
                    "keras": _keras_version(),
                },
            }
        )
        print(
            f"{path.name}: {entries[-1]['bytes']} bytes, 1-NN accuracy {accuracy:.4f}, "
            f"sha256 {entries[-1]['sha256'][:12]}"
        )
    return entries


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"models to rebuild (default: all): {', '.join(ALL_RECIPES)}")
    parser.add_argument("--out", type=Path, default=ZOO_DIR)
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(ALL_RECIPES) - set(CH07_NAMES))
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)}; the zoo has {', '.join(ALL_RECIPES)}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    entries = build([n for n in args.names if n in ALL_RECIPES] if args.names else list(ALL_RECIPES), args.out)
    entries += build_ch07_encoders([n for n in args.names if n in CH07_NAMES] if args.names else CH07_NAMES, args.out)
    print(f"wrote {write_manifest(entries, args.out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
