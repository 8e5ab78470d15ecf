"""Export a trained autoencoder to ONNX, for `core.serving.onnx_runtime` (export time only).

Needs TensorFlow, Keras, tf2onnx and onnx (requirements-export.txt); the app never imports this
module. Keras's own exporter (`model.export(path, format="onnx")`, tf2onnx underneath) writes each
part; we then name its inputs and outputs after the maths (x, z → x_hat, code, z_mean, z_log_var),
call the dynamic batch dimension ``N``, and stamp the spec key and the `.keras` file's sha256 into
the file's metadata so a stale export is refused at load time.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

from core.errors import LatentLabError
from core.lab.spec import ModelSpec
from core.serving.onnx_runtime import META_KERAS_SHA256, META_SPEC_KEY, PARTS, onnx_path
from core.serving.store import atomic_write, sha256_file

OPSET = 17  # ONNX Runtime (server and web) runs it; fixed so a re-export does not change with tf2onnx's default


def _io_names(spec: ModelSpec, part: str) -> tuple[str, list[str]]:
    """(input name, output names) of a part, after the maths."""
    codes = ["z_mean", "z_log_var"] if spec.is_vae else ["code"]
    return {"encode": ("x", codes), "decode": ("z", ["x_hat"])}[part]


def _rename(graph, old: str, new: str) -> None:
    """Rename tensor `old` to `new` everywhere in an ONNX graph (producers, consumers, graph outputs)."""
    for node in graph.node:
        node.output[:] = [new if name == old else name for name in node.output]
        node.input[:] = [new if name == old else name for name in node.input]
    for value in (*graph.output, *graph.value_info):
        if value.name == old:
            value.name = new


def _write_part(keras_model, names: tuple[str, list[str]], metadata: dict[str, str], path: Path) -> None:
    """Export one Keras sub-model to `path` with Keras's exporter, then rename and stamp it."""
    import keras
    import onnx

    input_name, output_names = names
    # (None, ...): the batch dimension stays dynamic in the exported graph.
    signature = [keras.InputSpec(shape=(None, *keras_model.input_shape[1:]), dtype="float32", name=input_name)]
    with warnings.catch_warnings():  # Keras's tf2onnx patch for numpy 2 touches the deprecated np.object
        warnings.simplefilter("ignore", FutureWarning)
        keras_model.export(str(path), format="onnx", input_signature=signature, opset_version=OPSET, verbose=False)
    proto = onnx.load(str(path))
    graph = proto.graph
    assert [i.name for i in graph.input] == [input_name], [i.name for i in graph.input]
    assert len(graph.output) == len(output_names), (len(graph.output), output_names)
    for output, name in zip(list(graph.output), output_names, strict=True):
        _rename(graph, output.name, name)
    for value in (*graph.input, *graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "N"
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


def export_onnx(spec: ModelSpec, model, keras_sha256: str, directory: Path) -> dict[str, Path]:
    """Write ``<key>.<part>.onnx`` for every part of `model` into `directory`, each atomically.
    `keras_sha256`: the hash of the `.keras` file `model` was loaded from (its record's ``sha256``),
    stamped into each file. Returns {part: path}."""
    missing = [m for m in ("tf2onnx", "onnx") if importlib.util.find_spec(m) is None]
    if missing:
        raise LatentLabError(f"exporting ONNX needs {' and '.join(missing)}: pip install -r requirements-export.txt")
    from core.lab.models import decoder_of, encoder_of

    sub_models = {"encode": encoder_of(model), "decode": decoder_of(model)}
    metadata = {META_SPEC_KEY: spec.key, META_KERAS_SHA256: keras_sha256}
    paths = {part: onnx_path(directory, spec.key, part) for part in PARTS}
    for part, path in paths.items():
        atomic_write(path, lambda tmp, p=part: _write_part(sub_models[p], _io_names(spec, p), metadata, tmp))
    return paths


def onnx_sha256(spec: ModelSpec, directory: Path) -> dict[str, str] | None:
    """{part: sha256} of the model's ONNX files (for assets/manifest.json), or None if any is missing."""
    paths = {part: onnx_path(directory, spec.key, part) for part in PARTS}
    if not all(p.is_file() for p in paths.values()):
        return None
    return {part: sha256_file(p) for part, p in paths.items()}

