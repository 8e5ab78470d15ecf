"""The VAE's two loss terms, per example, in `keras.ops`: the one definition of each.

Both take tensors or numpy arrays and return a tensor; `np.asarray(...)` turns it into numpy (the
Latent page's KL of one test digit, the evaluate table's −ELBO). tests/test_losses.py checks each
against an independent numpy computation.
"""

from __future__ import annotations

from keras import ops


def kl_divergence(z_mean, z_log_var):
    """KL(N(z_mean, diag(exp z_log_var)) ‖ N(0, I)) per example, in nats: (B, D) → (B,).

    Closed form: ½ Σ_d (μ_d² + σ_d² − log σ_d² − 1).
    """
    return 0.5 * ops.sum(ops.square(z_mean) + ops.exp(z_log_var) - z_log_var - 1.0, axis=-1)


def bernoulli_nll(x, x_hat):
    """−log p(x | z) under independent Bernoulli pixels, summed over pixels: (B, 28, 28, 1) → (B,).

    For grey-level targets in [0, 1] this is the summed binary cross-entropy (continuous MNIST, as in
    the keras.io example), which is what 'nats per image' means in our metrics.
    """
    return ops.sum(ops.binary_crossentropy(x, x_hat), axis=(1, 2, 3))
