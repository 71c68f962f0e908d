"""The course's own small model zoo (chapter 06): a manifest with SHA-256 checksums, verified before safe loading.

The models in ``utils/zoo/`` are made by ``tools/make_zoo.py`` (``make zoo``), saved in Keras' ``.keras`` format and
listed in ``utils/zoo/manifest.json`` with their size and SHA-256. :func:`load` checks the file against the manifest
first, then loads it with ``safe_mode=True`` (Keras' default, kept on purpose): a file that was changed, or that
carries Python code (a ``Lambda`` layer), is refused instead of run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

ZOO_DIR = Path(__file__).parent  # this package holds the models and the manifest
MANIFEST = ZOO_DIR / "manifest.json"


class ZooError(Exception):
    """A zoo model is missing, unknown, or does not match its manifest entry."""


@dataclass(frozen=True)
class ZooEntry:
    """One model of the zoo, as listed in the manifest."""

    name: str
    file: str
    sha256: str
    bytes: int
    task: str
    architecture: str
    test_accuracy: float
    recipe: dict

    @property
    def path(self) -> Path:
        return ZOO_DIR / self.file


def manifest(path: Path = MANIFEST) -> dict[str, ZooEntry]:
    """Return the zoo's entries by name, read from ``manifest.json``."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {item["name"]: ZooEntry(**item) for item in data["models"]}


def sha256(path: Path, chunk: int = 1 << 16) -> str:
    """Return the SHA-256 of a file, as 64 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while block := stream.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def entry(name: str) -> ZooEntry:
    """Return the manifest entry of ``name``, or raise ZooError listing the names there are."""
    entries = manifest()
    if name not in entries:
        raise ZooError(f"no model {name!r} in the zoo; there are: {', '.join(sorted(entries))}")
    return entries[name]


def verify(name: str) -> ZooEntry:
    """Check that ``name``'s file exists and that its size and SHA-256 match the manifest; return the entry."""
    item = entry(name)
    if not item.path.exists():
        raise ZooError(f"{item.file} is missing from {ZOO_DIR}: run `make zoo` to rebuild the zoo.")
    found = sha256(item.path)
    if found != item.sha256 or item.path.stat().st_size != item.bytes:
        raise ZooError(
            f"{item.file} does not match the manifest (SHA-256 {found[:12]}..., expected {item.sha256[:12]}...): "
            "it was changed or damaged; do not load it. `make zoo` rebuilds it (and the manifest)."
        )
    return item


def load(name: str):
    """Return the zoo model ``name``: checksum verified first, then loaded in Keras' safe mode, uncompiled."""
    import keras

    item = verify(name)
    return keras.models.load_model(item.path, safe_mode=True, compile=False)


def load_checked(path: Path, expected_sha256: str):
    """Return the Keras model in any ``path`` whose SHA-256 is ``expected_sha256``, loaded in safe mode."""
    import keras

    found = sha256(path)
    if found != expected_sha256:
        raise ZooError(f"{Path(path).name}: SHA-256 {found[:12]}... is not the expected {expected_sha256[:12]}...")
    return keras.models.load_model(path, safe_mode=True, compile=False)


def describe(names=None) -> list[str]:
    """Return one line per zoo model (every one, or those in ``names``): name, size, checksum prefix, accuracy."""
    return [
        f"{e.name:<20} {e.bytes / 1024:3.0f} KiB  sha256 {e.sha256[:12]}…  test accuracy {e.test_accuracy:.2f}"
        for e in manifest().values()
        if names is None or e.name in names
    ]
