"""Exported models run by ONNX Runtime: numpy in, numpy out, without TensorFlow or Keras.

A shipped model is exported (`core.serving.onnx_export`, export time only) as two files beside its
weights, ``<key>.<part>.onnx`` for part in `PARTS`:

    encode   x (N, 28, 28, 1) → code (N, D); a VAE → z_mean, z_log_var (N, D) each; the denoiser → (N, 7, 7, C)
    decode   code → x̂ (N, 28, 28, 1)

`OnnxParts.reconstruct` runs one after the other, decoding z_mean for a VAE exactly as `VAE.call` does.
(A third, whole-model file would hold every weight twice for ~10 µs less per call.)

Each file's metadata names the spec key and the sha256 of the ``.keras`` file it was exported from, so
`load_onnx` refuses a stale file (the model was retrained since) and the caller falls back to Keras.
This module imports only numpy and, when a model is first loaded, onnxruntime (~0.4 s).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

PARTS = ("encode", "decode")
SUFFIX = ".onnx"
# metadata_props keys written by the exporter and checked here.
META_SPEC_KEY = "latent_lab.spec_key"
META_KERAS_SHA256 = "latent_lab.keras_sha256"
# One thread per session: a server answers many users at once, and one digit is a fraction of a
# millisecond of small matrices, as fast on one thread as on two (bench/bench_onnx.py), so a second
# thread would only take a core from the other users.
INTRA_OP_THREADS = 1


def onnx_path(directory: Path, spec_key: str, part: str) -> Path:
    """Where `part` of the model `spec_key` lives: ``<directory>/<key>.<part>.onnx``."""
    if part not in PARTS:
        raise ValueError(f"unknown ONNX part {part!r}; parts: {', '.join(PARTS)}")
    return Path(directory) / f"{spec_key}.{part}{SUFFIX}"


def _session(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = INTRA_OP_THREADS
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


class OnnxParts:
    """The exported parts of one model, called with float32 batches; safe to share between threads
    (`InferenceSession.run` is thread-safe)."""

    def __init__(self, spec_key: str, sessions: dict) -> None:
        assert set(sessions) == set(PARTS), sorted(sessions)
        self.spec_key = spec_key
        self._sessions = sessions
        self._inputs = {part: s.get_inputs()[0] for part, s in sessions.items()}
        # The VAE's encoder has two heads, (z_mean, z_log_var); every other encoder has one.
        self.is_vae = len(sessions["encode"].get_outputs()) == 2
        self._code = [sessions["encode"].get_outputs()[0].name]  # "code", or a VAE's "z_mean"

    def _run(self, part: str, x, outputs: list[str] | None = None) -> list[np.ndarray]:
        x = np.ascontiguousarray(x, dtype=np.float32)
        spec = self._inputs[part]
        if x.ndim != len(spec.shape) or any(isinstance(d, int) and d != s for d, s in zip(spec.shape[1:], x.shape[1:], strict=True)):
            raise ValueError(f"{part} of model {self.spec_key} takes {spec.name} of shape (N, "
                             f"{', '.join(map(str, spec.shape[1:]))}), got {x.shape}")
        return self._sessions[part].run(outputs, {spec.name: x})

    def reconstruct(self, x: np.ndarray) -> np.ndarray:
        """x (N, 28, 28, 1) → x̂ (N, 28, 28, 1); VAEs decode the posterior mean (deterministic)."""
        return self.decode(self.encode(x))

    def encode(self, x: np.ndarray) -> np.ndarray:
        """x (N, 28, 28, 1) → code (N, D) (the denoiser: (N, 7, 7, C)); for a VAE, z_mean."""
        return self._run("encode", x, self._code)[0]

    def encode_gaussian(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """x (N, 28, 28, 1) → (z_mean, z_log_var), (N, D) each. VAEs only."""
        if not self.is_vae:
            raise ValueError(f"model {self.spec_key} is not a VAE: its encoder gives one code, not (z_mean, z_log_var)")
        z_mean, z_log_var = self._run("encode", x)
        return z_mean, z_log_var

    def decode(self, z: np.ndarray) -> np.ndarray:
        """code (N, D) (the denoiser: (N, 7, 7, C)) → x̂ (N, 28, 28, 1)."""
        return self._run("decode", z)[0]


def load_onnx(spec_key: str, keras_sha256: str, directory: Path) -> OnnxParts | None:
    """The exported parts of model `spec_key` in `directory`, or None (reason logged) when a file is
    missing or unreadable, or was exported from another `.keras` file than the one hashing to
    `keras_sha256` (stale: the caller uses the Keras model instead). Never imports TensorFlow."""
    paths = {part: onnx_path(directory, spec_key, part) for part in PARTS}
    missing = [p.name for p in paths.values() if not p.is_file()]
    if missing:
        log.info("no ONNX export of model %s in %s (missing %s)", spec_key, directory, ", ".join(missing))
        return None
    sessions = {}
    for part, path in paths.items():
        try:
            session = _session(path)
            meta = session.get_modelmeta().custom_metadata_map
        except Exception as e:  # noqa: BLE001 - onnxruntime's error types (InvalidProtobuf, Fail, …) derive from Exception only
            log.warning("ONNX file %s is unreadable (%s: %s); using Keras", path, type(e).__name__, e)
            return None
        if meta.get(META_SPEC_KEY) != spec_key or meta.get(META_KERAS_SHA256) != keras_sha256:
            log.warning("ONNX file %s was exported from another model version (spec key %s, keras sha256 %s); "
                        "re-export it with `python -m core export`", path, meta.get(META_SPEC_KEY),
                        (meta.get(META_KERAS_SHA256) or "none")[:12])
            return None
        sessions[part] = session
    return OnnxParts(spec_key, sessions)
