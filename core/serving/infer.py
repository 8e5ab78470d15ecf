"""The one inference entry point of the app: `served(spec)` runs a model for a page.

A page asks for a model by its `ModelSpec` and gets a `Served` model, shared by every session of the
server process: `reconstruct`, `encode`, `encode_gaussian` (VAEs) and `decode`, numpy float32 in and
out. Behind it, the fastest engine that is current for that spec:

- ONNX Runtime, when the model's entry ships ONNX files exported from its `.keras` file (the named
  shipped models do; `python -m core export`). No TensorFlow is imported for these;
- otherwise the Keras model, its encoder, decoder and whole pass each traced once into a
  `tf.function` graph with a batch-polymorphic signature.

Callers never build cache keys: the spec is the key. Shipped models stay loaded for the life of the
process; models trained in the Training lab are kept in a small least-recently-used set.
The plain Keras reference of each call is `core.lab.inference`; tests compare the two.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from core.errors import LatentLabError
from core.lab.data import as_batch
from core.lab.spec import ModelSpec
from core.lab.zoo import all_shipped, name_of
from core.serving import runtime
from core.serving.store import ModelStore

log = logging.getLogger(__name__)

USER_MODELS_KEPT = 16  # Training-lab models kept loaded at once per process (least recently used goes)
CHUNK = 1000  # images per engine call: whole test sets go through in pieces, keeping memory flat

_SHIPPED_KEYS = frozenset(s.key for s in all_shipped().values())


def _chunked(fn: Callable, x: np.ndarray):
    """fn over x in CHUNK-sized pieces, outputs concatenated (fn may return one array or a tuple)."""
    if len(x) <= CHUNK:
        out = fn(x)
        return tuple(np.asarray(o) for o in out) if isinstance(out, tuple | list) else np.asarray(out)
    parts = [fn(x[i : i + CHUNK]) for i in range(0, len(x), CHUNK)]
    if isinstance(parts[0], tuple | list):
        return tuple(np.concatenate([np.asarray(p[j]) for p in parts]) for j in range(len(parts[0])))
    return np.concatenate([np.asarray(p) for p in parts])


class Served:
    """A model ready to answer pages: numpy float32 in, numpy float32 out."""

    def __init__(self, spec: ModelSpec, engine: str, reconstruct: Callable, encode: Callable, decode: Callable,
                 encode_gaussian: Callable | None = None) -> None:
        self.spec, self.engine = spec, engine  # engine: "onnx" or "keras"
        self._reconstruct, self._encode, self._decode, self._encode_gaussian = reconstruct, encode, decode, encode_gaussian

    def reconstruct(self, x: np.ndarray) -> np.ndarray:
        """Images (28, 28), (N, 28, 28) or (N, 28, 28, 1) → x̂ (N, 28, 28, 1); a VAE decodes z_mean."""
        return _chunked(self._reconstruct, as_batch(x))

    __call__ = reconstruct  # so a Served model is a reconstruction function (core.lab.compare)

    def encode(self, x: np.ndarray) -> np.ndarray:
        """Images → codes (N, D) (the denoiser: (N, 7, 7, C)); for a VAE, z_mean."""
        return _chunked(self._encode, as_batch(x))

    def encode_gaussian(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Images → (z_mean, z_log_var), each (N, D). VAEs only."""
        if self._encode_gaussian is None:
            raise LatentLabError(f"{self.spec.label} is not a VAE: it has no q(z|x) to sample from")
        z_mean, z_log_var = _chunked(self._encode_gaussian, as_batch(x))
        return z_mean, z_log_var

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Codes (N, *code_shape) (or one code) → images (N, 28, 28, 1)."""
        z = np.asarray(z, dtype=np.float32)
        return _chunked(self._decode, z[None] if z.ndim == len(self.spec.code_shape) else z)


def _onnx(spec: ModelSpec, store: ModelStore) -> Served | None:
    """The spec's ONNX files, if its entry ships current ones (never imports TensorFlow)."""
    found = store.locate(spec)
    if found is None:
        return None
    directory, record = found
    try:
        from core.serving.onnx_runtime import load_onnx
    except ImportError as e:  # onnxruntime not installed: Keras still answers
        log.warning("ONNX Runtime is not available (%s); %s runs on Keras", e, spec.label)
        return None
    parts = load_onnx(spec.key, record["sha256"], directory)
    if parts is None:
        return None
    return Served(spec, "onnx", parts.reconstruct, parts.encode, parts.decode,
                  parts.encode_gaussian if spec.is_vae else None)


def _trained(spec: ModelSpec, store: ModelStore):
    """The stored Keras model. Serving never trains: minutes of training must never start from a page
    view (training goes through the Training lab's queue or the CLI)."""
    if not store.available(spec):
        raise LatentLabError(f"{name_of(spec)} has no trained weights on this server yet")
    return store.get(spec)


def _keras(spec: ModelSpec, store: ModelStore) -> Served:
    """The Keras model's encoder, decoder and whole pass, each one traced graph."""
    import tensorflow as tf

    from core.lab.models import decoder_of, encoder_of

    model = _trained(spec, store)
    encoder, decoder = encoder_of(model), decoder_of(model)
    images = tf.TensorSpec((None, 28, 28, 1), tf.float32)  # any batch size reuses the one trace
    codes = tf.TensorSpec((None, *spec.code_shape), tf.float32)
    whole = tf.function(lambda x: model(x, training=False), input_signature=[images])
    encode_all = tf.function(lambda x: encoder(x, training=False), input_signature=[images])
    decode = tf.function(lambda z: decoder(z, training=False), input_signature=[codes])
    if spec.is_vae:
        return Served(spec, "keras", whole, lambda x: encode_all(x)[0], decode, encode_all)
    return Served(spec, "keras", whole, encode_all, decode)


class Server:
    """The process's models: one `ModelStore` and the `Served` model of each spec asked for."""

    def __init__(self, store: ModelStore | None = None, prefer_onnx: bool = True) -> None:
        self.store = store if store is not None else ModelStore(evaluate_after_training=True)
        self.prefer_onnx = prefer_onnx
        self._served: OrderedDict[str, Served] = OrderedDict()
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def served(self, spec: ModelSpec) -> Served:
        """The model for `spec`, loaded once per process (a second caller waits for the first load)."""
        shipped = spec.key in _SHIPPED_KEYS
        found = self._served.get(spec.key)
        if found is not None:
            if not shipped:
                with self._guard:
                    if spec.key in self._served:
                        self._served.move_to_end(spec.key)  # recently used: evicted last
            return found
        with self._guard:
            lock = self._locks.setdefault(spec.key, threading.Lock())
        with lock:
            made = self._served.get(spec.key)
            if made is None:
                made = (self.prefer_onnx and _onnx(spec, self.store)) or _keras(spec, self.store)
                with self._guard:
                    self._served[spec.key] = made
                    self._evict_user_models()
                if shipped:
                    runtime.freeze_long_lived()  # kept for the process's life: out of the collector's scans
        return made

    def loaded(self, spec: ModelSpec) -> bool:
        """True if `served(spec)` answers at once (the model is in this process's memory)."""
        return spec.key in self._served

    def model(self, spec: ModelSpec):
        """The Keras model itself, for lab functions over whole test sets (scores, codes, −ELBO)."""
        return _trained(spec, store=self.store)

    def _evict_user_models(self) -> None:
        user = [k for k in self._served if k not in _SHIPPED_KEYS]
        for key in user[: max(0, len(user) - USER_MODELS_KEPT)]:
            del self._served[key]
            self.store.forget_key(key)


_server: Server | None = None
_server_lock = threading.Lock()


def server() -> Server:
    """This process's `Server` (created on first use)."""
    global _server
    if _server is None:
        with _server_lock:
            if _server is None:
                _server = Server()
    return _server


def served(spec: ModelSpec) -> Served:
    """`server().served(spec)`: what pages call."""
    return server().served(spec)
