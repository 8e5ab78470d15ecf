"""The registry of shipped models: every model the app ships with, its title, and where it is used.

Trained weights live in assets/models/ and are listed in assets/manifest.json; `python -m core train
--all` regenerates exactly these. Every list the rest of the app needs (the titles, each page's models,
the models warmed up in the background, the models with a fast inference path) derives from `ENTRIES`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from core.errors import LatentLabError
from core.lab.spec import Augment, ModelSpec

# Pages that use shipped models by name (the url paths of views/*.py).
PAGES = ("draw", "denoise", "anomaly", "latent", "upload")


@dataclass(frozen=True)
class Shipped:
    """One shipped model: its spec, a title for people, and the pages that open with it."""

    spec: ModelSpec
    title: str
    pages: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = sorted(set(self.pages) - set(PAGES))
        assert not unknown, f"unknown pages {unknown}; pages: {PAGES}"


_COSINE = dict(batch_size=128, schedule="cosine")
# The conv AE judges users' digits (Draw, Upload, the Anomalies page's default) and learns handwriting, not
# only MNIST's writers: half of its training digits are distorted as other people write (issue 17;
# rotation, slant, size, position, stroke width, a wobbly hand — never mirrors or quarter turns, which
# the Anomalies page uses as anomalies). Measured (README, Models): MNIST test BCE unchanged, other
# writers' k-NN labels +1.8 points. The 2-D VAE is not augmented: with this recipe its MNIST −ELBO rose
# from 141.1 to 148.1 nats (over its 145 floor) and its k-NN labels fell (46 % → 38 %).
HANDWRITING = Augment(rotation=15, shear=0.3, scale=(0.9, 1.1), shift=1, stroke=0.5, elastic_alpha=20, elastic_sigma=4,
                      fraction=0.5)

ENTRIES: dict[str, Shipped] = {
    # The lesson's code, unchanged: dense 64-32-16, Adam(1e-3), BCE, batch 256, 10 epochs.
    "lesson": Shipped(ModelSpec("lesson", latent_dim=16, epochs=10, batch_size=256),
                      "Lesson AE (dense, 16-D code)", ("draw", "anomaly")),
    "conv_ae": Shipped(ModelSpec("conv_ae", latent_dim=64, epochs=16, augment=HANDWRITING, **_COSINE),
                       "Conv AE (64-D code)", ("draw", "denoise", "anomaly", "upload")),
    "ae_2d": Shipped(ModelSpec("ae_2d", latent_dim=2, epochs=12, **_COSINE), "Conv AE (2-D code)", ("latent",)),
    "denoise": Shipped(ModelSpec("denoise", latent_dim=32, noise_factor=0.5, epochs=7, **_COSINE),
                       "Denoising conv AE (7×7×32 code)", ("denoise",)),
    # The same architecture as `denoise`, trained on clean digits: the pair isolates what training on
    # noisy inputs does (Denoise page).
    "denoise_clean": Shipped(ModelSpec("denoise", latent_dim=32, epochs=7, **_COSINE),
                             "Same conv AE, trained on clean digits (7×7×32 code)", ("denoise",)),
    "vae_2d": Shipped(ModelSpec("vae", latent_dim=2, epochs=30, **_COSINE),
                      "VAE (2-D latent)", ("draw", "anomaly", "latent", "upload")),
    "vae_16": Shipped(ModelSpec("vae", latent_dim=16, epochs=20, **_COSINE), "VAE (16-D latent)", ("anomaly",)),
    # The β trade-off (Latent page): the same 2-D VAE with a lighter and a heavier KL weight.
    "vae_2d_beta0.25": Shipped(ModelSpec("vae", latent_dim=2, beta=0.25, epochs=30, **_COSINE),
                               "VAE (2-D latent, β = 0.25)", ("latent",)),
    "vae_2d_beta4": Shipped(ModelSpec("vae", latent_dim=2, beta=4.0, epochs=30, **_COSINE),
                            "VAE (2-D latent, β = 4)", ("latent",)),
}

SHIPPED: dict[str, ModelSpec] = {name: e.spec for name, e in ENTRIES.items()}
TITLES: dict[str, str] = {name: e.title for name, e in ENTRIES.items()}


def models_of(page: str) -> tuple[str, ...]:
    """The shipped models a page opens with, in registry order."""
    if page not in PAGES:
        raise LatentLabError(f"unknown page {page!r}; pages: {', '.join(PAGES)}")
    return tuple(name for name, e in ENTRIES.items() if page in e.pages)


# The Draw page answers every stroke, so its models must have the fast inference path (ONNX, no
# TensorFlow); `python -m core export` writes it for every named model. The other pages also score and
# encode whole test sets with the Keras models: those are what the Home page loads in the background.
FAST_PATH: tuple[str, ...] = models_of("draw")
WARM_UP: tuple[str, ...] = tuple(n for n, e in ENTRIES.items() if set(e.pages) - {"draw"})


def spec_named(name: str) -> ModelSpec:
    try:
        return SHIPPED[name]
    except KeyError:
        raise LatentLabError(f"unknown model {name!r}; shipped models: {', '.join(SHIPPED)}") from None


KIND_NAMES = {  # what each model kind is called on screen
    "lesson": "Lesson-style dense AE", "conv_ae": "Conv AE", "ae_2d": "Conv AE",
    "denoise": "Denoising conv AE", "vae": "VAE",
}


def name_of(spec: ModelSpec) -> str:
    """A name for people, for any spec: a shipped model's title, or for a model trained in the
    Training lab what it is and how it was trained, e.g. "VAE (2-D code, β = 1, 512 digits, 1 epoch)"."""
    for entry in ENTRIES.values():
        if entry.spec == spec:
            return entry.title
    if spec.digits and dataclasses.replace(spec, digits=()) == ONE_CLASS_TEMPLATE:
        return f"One-class VAE (digit {', '.join(map(str, spec.digits))} only)"
    code = "×".join(map(str, spec.code_shape)) if len(spec.code_shape) > 1 else f"{spec.latent_dim}-D"
    parts = [f"{code} code"]
    if spec.is_vae:
        parts.append(f"β = {spec.beta:g}")
    if spec.noise_factor:
        parts.append(f"noise σ = {spec.noise_factor:g}")
    if spec.digits:
        parts.append(f"digit{'s' if len(spec.digits) > 1 else ''} {', '.join(map(str, spec.digits))} only")
    parts.append(f"{spec.train_size:,} digits" if spec.train_size else "all digits")
    if spec.augment is not None:
        parts.append("augmented")
    parts.append(f"{spec.epochs} epoch{'s' if spec.epochs > 1 else ''}")
    return f"{KIND_NAMES[spec.kind]} ({', '.join(parts)})"


# The one-class recipe (Anomalies page): this spec with digits=(d,) for d in 0..9. Chosen by
# measurement (AUROC of digit d vs the other test digits, MSE score; see docs/performance.md).
ONE_CLASS_TEMPLATE = ModelSpec("vae", latent_dim=8, epochs=30, **_COSINE)


def one_class_spec(digit: int) -> ModelSpec:
    """The model trained on one digit's training images only (the one-class anomaly protocol)."""
    if digit not in range(10):
        raise LatentLabError(f"digit must be in 0..9, got {digit!r}")
    return dataclasses.replace(ONE_CLASS_TEMPLATE, digits=(digit,))


def all_shipped() -> dict[str, ModelSpec]:
    """Every model whose weights ship in assets/: the named models and the ten one-class models."""
    return SHIPPED | {f"one_class_{d}": one_class_spec(d) for d in range(10)}
