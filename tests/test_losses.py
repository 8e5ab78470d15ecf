"""core.lab.losses: the VAE's KL and reconstruction terms against independent numpy computations."""

import numpy as np
import pytest

from core.lab.losses import bernoulli_nll, kl_divergence


def test_kl_matches_numpy_closed_form_and_monte_carlo():
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(5, 3)).astype(np.float32)
    log_var = rng.normal(scale=0.5, size=(5, 3)).astype(np.float32)
    var = np.exp(log_var)
    # KL(N(mu, var) || N(0, 1)) per dimension = log(1/sigma) + (var + mu^2)/2 - 1/2
    ref = (-0.5 * log_var + 0.5 * (var + mu**2) - 0.5).sum(axis=1)
    np.testing.assert_allclose(np.asarray(kl_divergence(mu, log_var)), ref, rtol=1e-5)
    # Independent check by sampling: E_q[log q(z) - log p(z)].
    z = mu[0] + np.sqrt(var[0]) * rng.standard_normal((400_000, 3))
    log_q = -0.5 * (((z - mu[0]) ** 2) / var[0] + log_var[0] + np.log(2 * np.pi)).sum(1)
    log_p = -0.5 * (z**2 + np.log(2 * np.pi)).sum(1)
    assert np.mean(log_q - log_p) == pytest.approx(ref[0], abs=0.02)


def test_bernoulli_nll_is_summed_bce():
    rng = np.random.default_rng(1)
    x = rng.random((2, 28, 28, 1)).astype(np.float32)
    p = np.clip(rng.random((2, 28, 28, 1)), 0.01, 0.99).astype(np.float32)
    ref = -(x * np.log(p) + (1 - x) * np.log(1 - p)).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(np.asarray(bernoulli_nll(x, p)), ref, rtol=1e-4)


def test_kl_matches_the_general_multivariate_gaussian_formula():
    rng = np.random.default_rng(1)
    mu, log_var = rng.normal(size=(20, 3)), rng.normal(scale=0.7, size=(20, 3))
    ours = np.asarray(kl_divergence(mu, log_var))
    for i in range(20):  # KL(N(μ, Σ) ‖ N(0, I)) = ½ (tr Σ + μᵀμ − k − log det Σ), with full matrices
        cov = np.diag(np.exp(log_var[i]))
        reference = 0.5 * (np.trace(cov) + mu[i] @ mu[i] - 3 - np.log(np.linalg.det(cov)))
        assert ours[i] == pytest.approx(reference, rel=1e-6)
    assert np.asarray(kl_divergence(np.zeros((1, 2)), np.zeros((1, 2))))[0] == 0.0  # q = prior


def test_codes_kl_to_prior_is_kl_divergence_of_that_digit():
    from core.lab.latent import Codes

    rng = np.random.default_rng(2)
    mu, log_var = rng.normal(size=(4, 2)).astype(np.float32), rng.normal(scale=0.5, size=(4, 2)).astype(np.float32)
    codes = Codes(mu, np.arange(4), log_var)
    var = np.exp(log_var[2].astype(np.float64))
    reference = 0.5 * np.sum(mu[2].astype(np.float64) ** 2 + var - np.log(var) - 1)
    assert codes.kl_to_prior(2) == pytest.approx(reference, rel=1e-5)
