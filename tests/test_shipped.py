"""The weights in assets/: present, intact, listed in the manifest, and meeting the quality floors."""

import json

import pytest

from core.lab.evaluate import evaluate
from core.lab.zoo import SHIPPED, all_shipped
from core.serving.store import ASSETS_DIR, ModelStore, read_record, sha256_file

MANIFEST = ASSETS_DIR.parent / "manifest.json"


@pytest.fixture(scope="module")
def shipped_metrics(tmp_path_factory, needs_full_data):
    # Measured on the full test sets (skips without them). An empty cache and no training: what is measured is exactly the files in assets/.
    store = ModelStore(cache_dir=tmp_path_factory.mktemp("cache"), assets_dir=ASSETS_DIR, allow_training=False)
    manifest = json.loads(MANIFEST.read_text())["models"]
    # The other-writers figures (scikit-learn's digits) are measured where the manifest lists them.
    listed = {name for name, entry in manifest.items() if "other_writers_flagged" in entry.get("metrics", {})}
    return {name: evaluate(store.get(spec), spec, other_writers=name in listed) for name, spec in SHIPPED.items()}


def test_every_shipped_model_is_present_and_intact():
    manifest = json.loads(MANIFEST.read_text())["models"]
    assert set(manifest) == set(all_shipped())
    for name, spec in all_shipped().items():
        record = read_record(ASSETS_DIR, spec)
        assert record is not None, f"{name} has no weights in assets/models"
        assert manifest[name]["key"] == spec.key
        assert manifest[name]["sha256"] == sha256_file(ASSETS_DIR / f"{spec.key}.keras")
        assert manifest[name]["train_seconds"] > 0 and len(manifest[name]["data_fingerprint"]) == 64


def test_manifest_metrics_are_reproduced(shipped_metrics):
    """The figures in the manifest are what the shipped weights measure now (reconstructions are
    deterministic; −ELBO uses one seeded sample)."""
    manifest = json.loads(MANIFEST.read_text())["models"]
    for name, measured in shipped_metrics.items():
        for metric, value in manifest[name]["metrics"].items():
            assert measured[metric] == pytest.approx(value, rel=2e-3, abs=1e-4), (name, metric)


def test_lesson_floor(shipped_metrics):
    # The floor is the lesson recipe's own printed result (test loss 0.123): the model stays exactly
    # the lesson's (dense 64-32-16, Adam, BCE, batch 256, 10 epochs), so its floor is that result.
    assert shipped_metrics["lesson"]["test_bce"] <= 0.125


def test_best_ae_floors(shipped_metrics):
    aes = {n: m for n, m in shipped_metrics.items() if not SHIPPED[n].is_vae and not SHIPPED[n].noise_factor}
    best = min(aes, key=lambda n: aes[n]["test_bce"])
    assert aes[best]["test_bce"] <= 0.075
    assert aes[best]["auroc_fashion"] >= 0.99


def test_vae_2d_elbo_floor(shipped_metrics):
    assert shipped_metrics["vae_2d"]["test_neg_elbo"] <= 145.0


def test_larger_latent_vae_is_sharper(shipped_metrics):
    assert shipped_metrics["vae_16"]["test_bce"] < shipped_metrics["vae_2d"]["test_bce"]


def test_denoiser_floor(shipped_metrics):
    """Issue #5: on MNIST test with Gaussian noise σ = 0.5 (clipped), the denoising AE's outputs score
    a mean per-image PSNR of at least 20 dB (the noisy inputs themselves score 9.4 dB)."""
    assert shipped_metrics["denoise"]["psnr_gauss_0.5"] >= 20.0


def test_the_draw_models_are_served_without_tensorflow(tmp_path):
    """The Draw page's models (FAST_PATH) must have current ONNX files: the serving layer runs them with
    ONNX Runtime; a missing or stale file would drop the page back to Keras and TensorFlow's import."""
    from core.lab.zoo import FAST_PATH
    from core.serving.infer import Server

    server = Server(ModelStore(cache_dir=tmp_path, assets_dir=ASSETS_DIR, allow_training=False))
    for name in FAST_PATH:
        assert server.served(SHIPPED[name]).engine == "onnx", f"{name}: run `python -m core export --name {name}`"


def test_the_denoising_pair_differs_only_in_training_noise():
    """Issue 15: the Denoise page's honest comparison is one architecture trained on clean digits and on
    noisy ones; the manifest lists both with their PSNR at σ = 0.5."""
    import dataclasses

    clean, noisy = SHIPPED["denoise_clean"], SHIPPED["denoise"]
    assert (clean.kind, clean.latent_dim, clean.code_shape) == (noisy.kind, noisy.latent_dim, noisy.code_shape)
    assert (clean.noise_factor, noisy.noise_factor) == (0.0, 0.5)
    assert dataclasses.replace(clean, noise_factor=noisy.noise_factor) == noisy  # and the same recipe otherwise
    manifest = json.loads(MANIFEST.read_text())["models"]
    psnr = {name: manifest[name]["metrics"].get("psnr_gauss_0.5") for name in ("denoise_clean", "denoise")}
    assert None not in psnr.values(), f"run `python -m core evaluate` and record psnr_gauss_0.5 for both: {psnr}"
    assert psnr["denoise"] > psnr["denoise_clean"]


@pytest.mark.needs_full_data
def test_evaluate_measures_the_denoising_pair_at_the_same_noise(tmp_path):
    """`evaluate` gives both models of the pair a PSNR at σ = 0.5, and training on noise is what wins."""
    store = ModelStore(cache_dir=tmp_path, assets_dir=ASSETS_DIR, allow_training=False)
    psnr = {name: evaluate(store.get(SHIPPED[name]), SHIPPED[name])["psnr_gauss_0.5"] for name in ("denoise_clean", "denoise")}
    assert psnr["denoise"] > psnr["denoise_clean"] + 3, psnr  # measured: 20.5 dB against 13.1 dB
