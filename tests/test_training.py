"""core.lab.training: the denoiser's training noise is `core.lab.noise.gaussian`, drawn per batch from
one seeded stream."""

import numpy as np

from core.lab import noise
from core.lab.spec import ModelSpec
from core.lab.training import _dataset, _validation_dataset


def test_denoiser_trains_on_noise_gaussian_fresh_per_batch():
    spec = ModelSpec("denoise", latent_dim=4, noise_factor=0.5, batch_size=16, seed=3)
    x = np.random.default_rng(0).random((48, 28, 28, 1)).astype(np.float32)
    stream = np.random.default_rng(spec.seed + 1)  # the stream the pipeline draws from, batch after batch
    batches = list(_dataset(spec, x).as_numpy_iterator())
    assert len(batches) == 3
    for noisy, clean in batches:
        np.testing.assert_array_equal(noisy, noise.gaussian(clean, spec.noise_factor, seed=stream))
    assert not np.array_equal(batches[0][0] - batches[0][1], batches[1][0] - batches[1][1])  # fresh noise
    again = list(_dataset(spec, x).as_numpy_iterator())  # the same spec gets the same noise
    np.testing.assert_array_equal(again[2][0], batches[2][0])


def test_denoiser_validation_noise_is_one_fixed_draw():
    spec = ModelSpec("denoise", latent_dim=4, noise_factor=0.5, seed=3)
    x = np.random.default_rng(1).random((10, 28, 28, 1)).astype(np.float32)
    (noisy, clean), = _validation_dataset(spec, x).as_numpy_iterator()
    np.testing.assert_array_equal(noisy, noise.gaussian(x, 0.5, seed=spec.seed + 2))
    np.testing.assert_array_equal(clean, x)
