"""Where trained models live, and how a spec becomes a loaded model.

Resolution order for `ModelStore.get(spec)`:
1. in-process memory (one copy per server process, shared by every user);
2. the user cache directory (``LATENT_LAB_CACHE``, default ``~/.cache/latent-lab/models``);
3. the weights shipped in ``assets/models/``;
4. train, then write to the user cache.

Each entry is two files named by `spec.key`: ``<key>.keras`` (the model, without optimizer state)
and ``<key>.json`` (the record: spec, sha256 of the .keras file, data fingerprint, training time,
metrics). The named shipped models also have ``<key>.encode.onnx`` and ``<key>.decode.onnx``, their
passes for ONNX Runtime (`core.serving.onnx_runtime`), stamped with the hash of the ``.keras`` file
they came from. The record is written last and names the weights' hash, so a missing, partial or corrupt
file is detected before loading and the entry is rebuilt, never loaded half-way. Writes go to a
temporary file in the same directory and are renamed into place (atomic on POSIX). A file lock per
key makes two processes asking for the same spec train it once; a thread lock does the same for
two users of one server.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import filelock

from core.errors import LatentLabError
from core.lab.spec import ModelSpec
from core.serving.onnx_runtime import PARTS as ONNX_PARTS

log = logging.getLogger(__name__)

ASSETS_DIR = Path(__file__).resolve().parents[2] / "assets" / "models"
CACHE_ENV = "LATENT_LAB_CACHE"
# One Keras load at a time per process: two threads deserialising different models at once (a page and
# the Home page's warm-up) can collide in Keras's global naming state. Loads are rare (once per model).
_KERAS_LOAD_LOCK = threading.Lock()
LOCK_TIMEOUT_S = 3600  # a waiting process gives up after an hour (longest training we run is minutes)


def default_cache_dir() -> Path:
    value = os.environ.get(CACHE_ENV)
    return Path(value).expanduser() if value else Path.home() / ".cache" / "latent-lab" / "models"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call write(tmp) on a temp path in `path`'s directory, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; shipped and shared cache files must be readable
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save_entry(directory: Path, spec: ModelSpec, model, record: dict) -> dict:
    """Write `model` and its record atomically under `directory`; returns the full record."""
    import keras

    from core.lab.models import export_copy

    weights = directory / f"{spec.key}.keras"
    # Save an uncompiled copy: no optimizer state (3x smaller), and nothing needed at inference.
    atomic_write(weights, lambda tmp: keras.saving.save_model(export_copy(spec, model), tmp))
    full = {
        **record,
        "name": record.get("name", spec.label),
        "key": spec.key,
        "spec": spec.to_dict(),
        "sha256": sha256_file(weights),
        "keras_version": keras.version(),
    }
    atomic_write(directory / f"{spec.key}.json", lambda tmp: tmp.write_text(json.dumps(full, indent=2) + "\n"))
    return full


def read_record(directory: Path, spec: ModelSpec) -> dict | None:
    """The entry's record if both files exist, the record parses, names this spec, and the weights'
    hash matches; None if the entry is absent. Raises `LatentLabError` if it exists but is corrupt."""
    weights, meta = directory / f"{spec.key}.keras", directory / f"{spec.key}.json"
    if not meta.exists() and not weights.exists():
        return None
    try:
        record = json.loads(meta.read_text())
        ok = ModelSpec.from_dict(record["spec"]) == spec and sha256_file(weights) == record["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise LatentLabError(f"model entry {spec.key} in {directory} is unreadable: {e}") from e
    if not ok:
        raise LatentLabError(f"model entry {spec.key} in {directory} does not match its record (partial or corrupt)")
    return record


def mark_used(directory: Path, spec: ModelSpec) -> None:
    """Set the entry's weights' access time to now (mtime kept): the user cache's least-recently-used order
    (`core.serving.worker.evict_lru`). Explicit, since many mounts record reads lazily (relatime) or never."""
    weights = directory / f"{spec.key}.keras"
    try:
        os.utime(weights, ns=(time.time_ns(), weights.stat().st_mtime_ns))
    except OSError as e:  # a read-only cache still serves; only the eviction order suffers
        log.debug("cannot mark %s used: %s", weights, e)


def load_entry(directory: Path, spec: ModelSpec):
    """Load a verified entry with Keras safe mode (no arbitrary code from the file)."""
    import keras

    import core.lab.models  # noqa: F401 - registers the custom VAE classes for deserialisation

    return keras.saving.load_model(directory / f"{spec.key}.keras", compile=False, safe_mode=True)


class ModelStore:
    """Resolves specs to loaded Keras models; safe to share between threads (one per server)."""

    def __init__(self, cache_dir: Path | None = None, assets_dir: Path = ASSETS_DIR, allow_training: bool = True,
                 evaluate_after_training: bool = False):
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self.assets_dir = Path(assets_dir)
        self.allow_training = allow_training
        # Test metrics in each new record (a few seconds per model): what the app's model list shows.
        self.evaluate_after_training = evaluate_after_training
        self._models: dict[str, object] = {}
        self._records: dict[str, dict] = {}
        self._key_locks: dict[str, threading.Lock] = {}
        self._verified: dict[tuple, tuple[ModelSpec, dict | None]] = {}  # file version → (spec, record)
        self._guard = threading.Lock()

    def _key_lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._key_locks.setdefault(key, threading.Lock())

    def locate(self, spec: ModelSpec) -> tuple[Path, dict] | None:
        """The first directory (cache, then assets) holding a valid entry; corrupt cache entries
        are deleted so they get rebuilt, corrupt shipped ones are skipped with a warning."""
        for directory in (self.cache_dir, self.assets_dir):
            try:
                record = read_record(directory, spec)
            except LatentLabError as e:
                log.warning("%s", e)
                if directory == self.cache_dir:
                    for suffix in (".keras", ".json", *(f".{part}.onnx" for part in ONNX_PARTS)):
                        (directory / f"{spec.key}{suffix}").unlink(missing_ok=True)
                continue
            if record is not None:
                return directory, record
        return None

    def forget_key(self, key: str) -> None:
        """Drop a loaded model from memory (its files stay); the next `get` loads it again."""
        self._models.pop(key, None)

    def available(self, spec: ModelSpec) -> bool:
        """True if `get(spec)` would not need to train."""
        return spec.key in self._models or self.locate(spec) is not None

    def loaded(self, spec: ModelSpec) -> bool:
        """True if the model is in this process's memory (`get` returns it at once)."""
        return spec.key in self._models

    def entries(self, include_shipped: bool = True) -> list[dict]:
        """Records of every valid model in the user cache and (optionally) the shipped assets
        (cache first; each key once), newest training first. Unreadable entries are skipped.

        Pages call this on reruns, so each entry is verified (hashed) once per file version.
        """
        seen, out = set(), []
        for directory in (self.cache_dir, self.assets_dir) if include_shipped else (self.cache_dir,):
            for meta in sorted(directory.glob("*.json")) if directory.is_dir() else ():
                try:
                    weights = meta.with_suffix(".keras")
                    version = (str(meta), meta.stat().st_mtime_ns, weights.stat().st_mtime_ns, weights.stat().st_size)
                    if version not in self._verified:
                        spec = ModelSpec.from_dict(json.loads(meta.read_text())["spec"])
                        self._verified[version] = (spec, read_record(directory, spec))
                    spec, record = self._verified[version]
                except (LatentLabError, OSError, ValueError, KeyError, TypeError):
                    continue
                if record is not None and spec.key not in seen:
                    seen.add(spec.key)
                    out.append({**record, "location": "cache" if directory == self.cache_dir else "shipped"})
        return sorted(out, key=lambda r: r.get("trained_at", ""), reverse=True)

    def record(self, spec: ModelSpec) -> dict | None:
        """The stored record (spec, training time, metrics) of an available model."""
        if spec.key not in self._records:
            found = self.locate(spec)
            if found is None:
                return None
            self._records[spec.key] = found[1]
        return self._records[spec.key]

    def get(self, spec: ModelSpec, on_progress=None, should_stop=None, **train_options):
        """The trained model for `spec`, training it (once, across threads and processes) if needed.

        `train_options` (validation, watch, per_step) go to `core.lab.training.train`. Returns None only
        if training was cancelled through `should_stop`.
        """
        model = self._models.get(spec.key)
        if model is not None:
            return model
        with self._key_lock(spec.key):
            if spec.key in self._models:  # another thread finished while we waited
                return self._models[spec.key]
            found = self.locate(spec)
            if found is None:
                found = self._train_locked(spec, on_progress, should_stop, train_options)
                if found is None:
                    return None
            directory, record = found
            with _KERAS_LOAD_LOCK:  # Keras deserialisation is not thread-safe across models
                model = load_entry(directory, spec)
            if directory == self.cache_dir:
                mark_used(directory, spec)
            self._models[spec.key], self._records[spec.key] = model, record
            return model

    def _train_locked(self, spec, on_progress, should_stop, train_options):
        if not self.allow_training:
            raise LatentLabError(f"no trained weights for {spec.label} (key {spec.key}) and training is disabled")
        from core.lab.training import train

        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with filelock.FileLock(str(self.cache_dir / f"{spec.key}.lock"), timeout=LOCK_TIMEOUT_S):
            found = self.locate(spec)  # another process may have trained it while we waited
            if found is not None:
                return found
            result = train(spec, on_progress=on_progress, should_stop=should_stop, **train_options)
            if result.cancelled:
                return None
            record = {"train_seconds": round(result.seconds, 2), "history": result.history,
                      "trained_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
            if self.evaluate_after_training:
                from core.lab.evaluate import evaluate

                record["metrics"] = evaluate(result.model, spec)
            record = save_entry(self.cache_dir, spec, result.model, record)
            return self.cache_dir, record

    def put(self, spec: ModelSpec, model, record: dict, directory: Path | None = None) -> dict:
        """Store an already-trained model (used by the CLI to write shipped weights)."""
        directory = Path(directory) if directory is not None else self.cache_dir
        with filelock.FileLock(str(directory / f"{spec.key}.lock"), timeout=LOCK_TIMEOUT_S):
            full = save_entry(directory, spec, model, record)
        self._models.pop(spec.key, None)
        self._records.pop(spec.key, None)
        return full
