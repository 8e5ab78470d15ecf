"""A trained autoencoder's reconstruction pass in plain numpy, loadable without TensorFlow.

Why: `import tensorflow` alone takes 2–6 s on a 2-core server, before any model loads. The Draw page
must answer a stroke within seconds of `streamlit run` (issue 8: ≤ 6 s to interactive), so its three
shipped models also ship as *forward packs*: ``<key>.forward.npz`` beside ``<key>.keras``, holding the
layer sequence of `model(x, training=False)` and its weights. Loading a pack reads a few MB with
numpy; running one digit through the convolutional AE costs ~1 ms.

A pack is exported from the Keras model (`export`, needs Keras) and names the sha256 of the `.keras`
file it came from, so a stale pack is never used. tests/test_forward.py checks that every layer kind
here matches Keras to float32 precision, and test_shipped that each shipped pack matches its model.

Supported: the layer kinds `core.lab.models` builds (InputLayer, Flatten, Reshape, Dense, Conv2D,
Conv2DTranspose, BatchNormalization, ReLU, Activation) in single-input chains, which covers every
autoencoder here: the encoder (for a VAE, its ``z_mean`` head, as `VAE.call` does) then the decoder.
Anything else raises `LatentLabError` at export, naming the layer.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from core.errors import LatentLabError

FORMAT = 1  # bump when the pack layout changes; older packs are refused (re-export them)
ACTIVATIONS = {
    "linear": lambda x: x,
    "relu": lambda x: np.maximum(x, 0.0),
    "sigmoid": lambda x: 0.5 * (1.0 + np.tanh(0.5 * x)),  # = 1 / (1 + e^-x), without overflow warnings
    "tanh": np.tanh,
}


# ---------------------------------------------------------------------------------------------
# Export (Keras side)
# ---------------------------------------------------------------------------------------------


def _chain(model, output_index: int = 0) -> list:
    """The layers from `model`'s input to its output `output_index`, in call order. Walks back from
    the output through each layer's (single) input, so side branches (a VAE's z_log_var) drop out."""
    by_output = {id(layer.output): layer for layer in model.layers if layer.__class__.__name__ != "InputLayer"}
    tensor, chain = model.outputs[output_index], []
    while id(tensor) in by_output:
        layer = by_output[id(tensor)]
        if isinstance(layer.input, (list, tuple)):
            raise LatentLabError(f"layer {layer.name!r} has several inputs; forward packs hold single-input chains")
        chain.append(layer)
        tensor = layer.input
    if tensor is not model.inputs[0]:
        raise LatentLabError(f"model {model.name!r} is not a single-input chain; forward packs cannot hold it")
    return chain[::-1]


def _activation(layer) -> str:
    name = getattr(layer.activation, "__name__", str(layer.activation))
    if name not in ACTIVATIONS:
        raise LatentLabError(f"layer {layer.name!r} uses activation {name!r}; forward packs support {sorted(ACTIVATIONS)}")
    return name


def _op(layer) -> tuple[dict, list[np.ndarray]]:
    """One layer → (op description, its weight arrays in the order `_run_op` reads them)."""
    kind, cfg = layer.__class__.__name__, layer.get_config()
    weights = [np.asarray(w, dtype=np.float32) for w in layer.get_weights()]
    if kind == "Flatten":
        return {"op": "reshape", "shape": [-1]}, []
    if kind == "Reshape":
        return {"op": "reshape", "shape": list(cfg["target_shape"])}, []
    if kind == "Activation":
        return {"op": "activation", "activation": _activation(layer)}, []
    if kind == "ReLU":
        if cfg.get("max_value") is not None or cfg.get("negative_slope", 0.0) or cfg.get("threshold", 0.0):
            raise LatentLabError(f"layer {layer.name!r}: only a plain ReLU (no max_value, slope, threshold) is supported")
        return {"op": "activation", "activation": "relu"}, []
    if kind == "Dense":
        return {"op": "dense", "bias": layer.use_bias, "activation": _activation(layer)}, weights
    if kind in ("Conv2D", "Conv2DTranspose"):
        if tuple(cfg["dilation_rate"]) != (1, 1) or cfg.get("groups", 1) != 1 or cfg["data_format"] != "channels_last":
            raise LatentLabError(f"layer {layer.name!r}: only channels-last, undilated, ungrouped convolutions are supported")
        if kind == "Conv2DTranspose" and cfg.get("output_padding") is not None:
            raise LatentLabError(f"layer {layer.name!r}: output_padding is not supported")
        return {"op": "conv" if kind == "Conv2D" else "conv_transpose", "strides": list(cfg["strides"]),
                "padding": cfg["padding"], "bias": layer.use_bias, "activation": _activation(layer)}, weights
    if kind == "BatchNormalization":
        if cfg["axis"] not in (-1, [-1], 3, [3]):
            raise LatentLabError(f"layer {layer.name!r}: BatchNormalization over axis {cfg['axis']} is not supported")
        # Inference only: y = (x − moving_mean) / √(moving_var + ε) · γ + β, folded to y = x · a + b.
        gamma = layer.gamma.numpy() if layer.scale else 1.0
        beta = layer.beta.numpy() if layer.center else 0.0
        scale = gamma / np.sqrt(layer.moving_variance.numpy() + layer.epsilon)
        return {"op": "affine"}, [np.asarray(scale, np.float32), np.asarray(beta - layer.moving_mean.numpy() * scale, np.float32)]
    raise LatentLabError(f"layer {layer.name!r} is a {kind}; forward packs do not support that layer kind")


def export(model, source_sha256: str) -> dict[str, np.ndarray]:
    """The forward pack of an autoencoder from `core.lab.models` (arrays for `np.savez`). `source_sha256`:
    the hash of the `.keras` file the model was saved to, so `ForwardPass.load` can tell a stale pack."""
    from core.lab.models import decoder_of, encoder_of

    ops, arrays = [], {}
    for layer in _chain(encoder_of(model), output_index=0) + _chain(decoder_of(model)):
        op, weights = _op(layer)
        op["name"], op["weights"] = layer.name, []
        for w in weights:
            key = f"w{len(arrays)}"
            arrays[key] = w
            op["weights"].append(key)
        ops.append(op)
    header = {"format": FORMAT, "source_sha256": source_sha256, "ops": ops}
    return {"header": np.array(json.dumps(header)), **arrays}


def save(path: Path, pack: dict[str, np.ndarray]) -> None:
    """Write a pack (uncompressed: loading speed matters more than a few MB)."""
    with open(path, "wb") as f:
        np.savez(f, **pack)


# ---------------------------------------------------------------------------------------------
# Inference (numpy only)
# ---------------------------------------------------------------------------------------------


def _same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's 'same' padding for one axis: output ceil(size / stride), the odd pixel after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def conv2d(x: np.ndarray, kernel: np.ndarray, strides, padding: str) -> np.ndarray:
    """Cross-correlation as Keras's Conv2D computes it. x (B, H, W, C_in), kernel (kh, kw, C_in, C_out)
    → (B, H', W', C_out): every output pixel's kh·kw·C_in window as one row, times the kernel."""
    kh, kw, c_in, c_out = kernel.shape
    (sh, sw), (_, h, w, _) = strides, x.shape
    if padding == "same":
        (top, bottom), (left, right) = _same_padding(h, kh, sh), _same_padding(w, kw, sw)
        x = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]  # (B, H', W', C_in, kh, kw)
    b, oh, ow = windows.shape[:3]
    rows = windows.transpose(0, 1, 2, 4, 5, 3).reshape(b * oh * ow, kh * kw * c_in)  # (B·H'·W', kh·kw·C_in)
    return (rows @ kernel.reshape(kh * kw * c_in, c_out)).reshape(b, oh, ow, c_out)


def conv2d_transpose(x: np.ndarray, kernel: np.ndarray, strides, padding: str) -> np.ndarray:
    """Keras's Conv2DTranspose: the adjoint of `conv2d`. x (B, H, W, C_in), kernel (kh, kw, C_out, C_in).

    Each input pixel (i, j) adds x[i, j] · kernel[a, b]ᵀ at output (i·s + a, j·s + b) of the full
    (H − 1)·s + kh map; 'same' then crops that to H·s exactly as `conv2d` pads (its adjoint)."""
    kh, kw, c_out, _ = kernel.shape
    (sh, sw), (b, h, w, _) = strides, x.shape
    # (H − 1)·s + kh, but at least H·s: a kernel smaller than its stride leaves zero gaps (as Keras does).
    full = np.zeros((b, (h - 1) * sh + max(kh, sh), (w - 1) * sw + max(kw, sw), c_out), np.float32)
    for a in range(kh):
        for c in range(kw):
            full[:, a : a + (h - 1) * sh + 1 : sh, c : c + (w - 1) * sw + 1 : sw] += x @ kernel[a, c].T
    if padding == "same":
        top, left = _same_padding(h * sh, kh, sh)[0], _same_padding(w * sw, kw, sw)[0]
        full = full[:, top : top + h * sh, left : left + w * sw]
    return full


class ForwardPass:
    """`model(x, training=False)` of an exported autoencoder, in numpy: x (B, 28, 28, 1) → x̂ (B, 28, 28, 1).

    Callable like the Keras model, so `core.serving.infer.reconstruct` and `core.lab.compare` take it as one."""

    def __init__(self, ops: list[dict], arrays: dict[str, np.ndarray]):
        self.ops = ops
        self._weights = [[arrays[k] for k in op["weights"]] for op in ops]

    @classmethod
    def load(cls, path: Path, expect_sha256: str | None = None) -> ForwardPass:
        """Read a pack; `expect_sha256` (the model file's hash from its record) refuses a stale one."""
        try:
            with np.load(path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
            header = json.loads(str(arrays.pop("header")))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as e:
            raise LatentLabError(f"forward pack {path} is unreadable: {e}") from e
        if header.get("format") != FORMAT:
            raise LatentLabError(f"forward pack {path} has format {header.get('format')!r}, expected {FORMAT}; re-export it")
        if expect_sha256 is not None and header.get("source_sha256") != expect_sha256:
            raise LatentLabError(f"forward pack {path} was exported from another version of its model; re-export it")
        try:
            return cls(header["ops"], arrays)
        except KeyError as e:
            raise LatentLabError(f"forward pack {path} lacks weight array {e}") from None

    def __call__(self, x, training: bool = False) -> np.ndarray:
        if training:
            raise ValueError("a ForwardPass is for inference only")
        h = np.asarray(x, dtype=np.float32)
        for op, weights in zip(self.ops, self._weights, strict=True):
            h = _run_op(op, weights, h)
        return h


def _run_op(op: dict, weights: list[np.ndarray], h: np.ndarray) -> np.ndarray:
    kind = op["op"]
    if kind == "reshape":
        return h.reshape(len(h), *op["shape"])
    if kind == "activation":
        return ACTIVATIONS[op["activation"]](h)
    if kind == "affine":
        scale, offset = weights
        return h * scale + offset
    if kind == "dense":
        h = h @ weights[0]
    elif kind == "conv":
        h = conv2d(h, weights[0], op["strides"], op["padding"])
    elif kind == "conv_transpose":
        h = conv2d_transpose(h, weights[0], op["strides"], op["padding"])
    else:
        raise LatentLabError(f"forward pack op {kind!r} is unknown (pack from a newer version?)")
    if op["bias"]:
        h = h + weights[1]
    return ACTIVATIONS[op["activation"]](h).astype(np.float32, copy=False)
