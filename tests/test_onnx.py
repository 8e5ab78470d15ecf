"""core.serving.onnx_export / onnx_runtime: the exported files compute what Keras computes, stale or
missing files are refused, and running them never imports TensorFlow."""

import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.cli import MANIFEST, ONNX_EXPORTED
from core.lab.data import load_mnist, to_float
from core.lab.models import build, decoder_of, encoder_of
from core.lab.spec import ModelSpec
from core.lab.zoo import SHIPPED
from core.serving.onnx_export import export_onnx, onnx_sha256
from core.serving.onnx_runtime import PARTS, OnnxParts, load_onnx, onnx_path
from core.serving.store import ASSETS_DIR, load_entry, read_record, save_entry

ROOT = Path(__file__).resolve().parent.parent
# 1e-5 absolute, plus 1e-6 relative for unbounded codes: the lesson's ReLU code reaches ~40, where
# neighbouring float32 values are 4e-6 apart and a different summation order moves a few of them.
TOLERANCE = dict(atol=1e-5, rtol=1e-6)


@pytest.fixture(scope="module")
def digits() -> np.ndarray:
    return to_float(load_mnist().x_test[:64])  # (64, 28, 28, 1)


def _keras_parts(spec: ModelSpec, model, x: np.ndarray) -> dict[str, np.ndarray]:
    """The reference: the Keras model's own calls (as core.lab.inference makes them)."""
    out = {"reconstruct": np.asarray(model(x, training=False))}  # a VAE's call decodes z_mean
    codes = encoder_of(model)(x, training=False)
    if spec.is_vae:
        out["z_mean"], out["z_log_var"] = np.asarray(codes[0]), np.asarray(codes[1])
        out["code"] = out["z_mean"]
    else:
        out["code"] = np.asarray(codes)
    out["decode"] = np.asarray(decoder_of(model)(out["code"], training=False))
    return out


def _assert_match(spec: ModelSpec, parts: OnnxParts, reference: dict[str, np.ndarray], x: np.ndarray) -> None:
    np.testing.assert_allclose(parts.reconstruct(x), reference["reconstruct"], **TOLERANCE)
    np.testing.assert_allclose(parts.encode(x), reference["code"], **TOLERANCE)
    np.testing.assert_allclose(parts.decode(reference["code"]), reference["decode"], **TOLERANCE)
    assert parts.is_vae == spec.is_vae
    if spec.is_vae:
        z_mean, z_log_var = parts.encode_gaussian(x)
        np.testing.assert_allclose(z_mean, reference["z_mean"], **TOLERANCE)
        np.testing.assert_allclose(z_log_var, reference["z_log_var"], **TOLERANCE)


# ---------------------------------------------------------------------------------------------
# The shipped files
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ONNX_EXPORTED)
def test_shipped_onnx_matches_keras(name, digits):
    spec = SHIPPED[name]
    record = read_record(ASSETS_DIR, spec)
    if record is None:  # test_shipped fails for the missing weights themselves
        pytest.skip(f"{name} has no weights yet: python -m core train --name {name} (exports it too)")
    parts = load_onnx(spec.key, record["sha256"], ASSETS_DIR)
    assert parts is not None, f"{name}: no current ONNX files; run `python -m core export --name {name}`"
    _assert_match(spec, parts, _keras_parts(spec, load_entry(ASSETS_DIR, spec), digits), digits)


def test_manifest_lists_the_onnx_files():
    manifest = json.loads(MANIFEST.read_text())["models"]
    for name in ONNX_EXPORTED:
        if name not in manifest:  # not trained yet (see above)
            continue
        assert manifest[name]["onnx"] == onnx_sha256(SHIPPED[name], ASSETS_DIR), name


# ---------------------------------------------------------------------------------------------
# Export of each kind, and refusal of stale, missing and damaged files
# ---------------------------------------------------------------------------------------------

KIND_SPECS = {
    "lesson": ModelSpec("lesson", latent_dim=16),
    "conv_ae": ModelSpec("conv_ae", latent_dim=8),
    "denoise": ModelSpec("denoise", latent_dim=4, noise_factor=0.5),  # a (7, 7, 4) code
    "vae": ModelSpec("vae", latent_dim=3),
}


def _exported(spec: ModelSpec, directory: Path) -> dict:
    """An untrained model of `spec` saved as a store entry and exported from the saved file."""
    save_entry(directory, spec, build(spec), {})
    record = read_record(directory, spec)
    export_onnx(spec, load_entry(directory, spec), record["sha256"], directory)
    return record


@pytest.mark.parametrize("kind", KIND_SPECS)
def test_export_of_each_kind_matches_keras(kind, tmp_path, digits):
    spec = KIND_SPECS[kind]
    record = _exported(spec, tmp_path)
    parts = load_onnx(spec.key, record["sha256"], tmp_path)
    assert parts is not None
    _assert_match(spec, parts, _keras_parts(spec, load_entry(tmp_path, spec), digits), digits)
    # The batch dimension is dynamic: one image and an odd batch both run.
    assert parts.reconstruct(digits[:1]).shape == (1, 28, 28, 1)
    assert parts.encode(digits[:7]).shape == (7, *spec.code_shape)


@pytest.fixture(scope="module")
def exported_vae(tmp_path_factory):
    directory = tmp_path_factory.mktemp("onnx")
    spec = KIND_SPECS["vae"]
    return spec, _exported(spec, directory), directory


def _copy(exported, tmp_path) -> tuple[ModelSpec, dict, Path]:
    spec, record, directory = exported
    for f in directory.iterdir():
        shutil.copy(f, tmp_path / f.name)
    return spec, record, tmp_path


def test_current_files_load(exported_vae):
    spec, record, directory = exported_vae
    assert load_onnx(spec.key, record["sha256"], directory) is not None


def test_file_from_another_keras_file_is_refused(exported_vae, caplog):
    spec, record, directory = exported_vae
    with caplog.at_level(logging.WARNING):
        assert load_onnx(spec.key, "0" * 64, directory) is None
    assert "another model version" in caplog.text


def test_retrained_model_makes_its_files_stale(exported_vae, tmp_path):
    """Weights saved again (here: other weights under the same spec) change the .keras file's hash,
    so the ONNX files exported from the old file are no longer used."""
    spec, old, directory = _copy(exported_vae, tmp_path)
    model = build(spec)
    model.set_weights([w + 0.01 for w in model.get_weights()])
    new = save_entry(directory, spec, model, {})
    assert new["sha256"] != old["sha256"]
    assert load_onnx(spec.key, new["sha256"], directory) is None
    export_onnx(spec, load_entry(directory, spec), new["sha256"], directory)  # re-exporting fixes it
    assert load_onnx(spec.key, new["sha256"], directory) is not None


def test_file_under_another_spec_key_is_refused(exported_vae, tmp_path):
    spec, record, directory = exported_vae
    for part in PARTS:
        shutil.copy(onnx_path(directory, spec.key, part), onnx_path(tmp_path, "0123456789abcdef", part))
    assert load_onnx("0123456789abcdef", record["sha256"], tmp_path) is None


@pytest.mark.parametrize("part", PARTS)
def test_missing_file_gives_none(exported_vae, tmp_path, part):
    spec, record, directory = _copy(exported_vae, tmp_path)
    onnx_path(directory, spec.key, part).unlink()
    assert load_onnx(spec.key, record["sha256"], directory) is None


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_damaged_file_gives_none(exported_vae, tmp_path, damage, caplog):
    spec, record, directory = _copy(exported_vae, tmp_path)
    path = onnx_path(directory, spec.key, "decode")
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "garbage": b"\x00latent" * 100, "empty": b""}[damage])
    with caplog.at_level(logging.WARNING):
        assert load_onnx(spec.key, record["sha256"], directory) is None
    assert "unreadable" in caplog.text


def test_wrong_input_shape_names_the_shape(exported_vae):
    spec, record, directory = exported_vae
    parts = load_onnx(spec.key, record["sha256"], directory)
    with pytest.raises(ValueError, match=r"\(N, 28, 28, 1\).*\(2, 28, 28\)"):
        parts.reconstruct(np.zeros((2, 28, 28), np.float32))
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        parts.decode(np.zeros((2, 4), np.float32))


def test_encode_gaussian_needs_a_vae(tmp_path, digits):
    spec = KIND_SPECS["lesson"]
    parts = load_onnx(spec.key, _exported(spec, tmp_path)["sha256"], tmp_path)
    with pytest.raises(ValueError, match="not a VAE"):
        parts.encode_gaussian(digits[:1])


def test_cli_export_writes_current_files(tmp_path, capsys):
    from core.cli import main

    spec = SHIPPED["lesson"]
    for suffix in (".keras", ".json"):
        shutil.copy(ASSETS_DIR / f"{spec.key}{suffix}", tmp_path)
    manifest_before = MANIFEST.read_text()
    assert main(["export", "--name", "lesson", "--out", str(tmp_path)]) == 0
    assert "lesson: ONNX" in capsys.readouterr().out
    assert load_onnx(spec.key, read_record(tmp_path, spec)["sha256"], tmp_path) is not None
    assert MANIFEST.read_text() == manifest_before  # only an export into assets/ rewrites the manifest


# ---------------------------------------------------------------------------------------------
# The import boundary
# ---------------------------------------------------------------------------------------------


def test_running_onnx_never_imports_tensorflow():
    """A fresh interpreter loads a shipped model's ONNX files and reconstructs a digit: no TensorFlow,
    no Keras (their import alone costs seconds of the Draw page's cold start)."""
    code = f"""
import json, sys
import numpy as np
from core.lab.zoo import SHIPPED
from core.serving.onnx_runtime import load_onnx
spec = SHIPPED[{ONNX_EXPORTED[0]!r}]
directory = {str(ASSETS_DIR)!r}
sha = json.loads(open(f"{{directory}}/{{spec.key}}.json").read())["sha256"]
parts = load_onnx(spec.key, sha, directory)
x_hat = parts.reconstruct(np.zeros((1, 28, 28, 1), np.float32))
assert x_hat.shape == (1, 28, 28, 1), x_hat.shape
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf2onnx", "onnx"))
print("heavy:", heavy)
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "heavy: []", done.stdout
