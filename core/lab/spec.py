"""`ModelSpec`: the frozen description that names every model and keys its cache entry.

Two specs that compare equal describe the same training run (same data, architecture, recipe and
seed), so they share one set of weights. `spec.key` is a stable hash of the canonical JSON form; it
is the file name in the cache and in `assets/models/`, and the spec is saved beside the weights.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

from core.errors import LatentLabError

KINDS = ("lesson", "conv_ae", "ae_2d", "denoise", "vae")
SCHEDULES = ("constant", "cosine")
# Architecture revision of each kind's builder (core.lab.models). Bump it whenever a builder changes
# what it builds: the revision enters `ModelSpec.key`, so weights made by older code are never
# loaded into (or mistaken for) the new architecture. Revision 1 is left out of the hash.
ARCH_REVISION = {"lesson": 1, "conv_ae": 1, "ae_2d": 1, "denoise": 3, "vae": 1}
VAE_KINDS = ("vae",)
FIXED_LATENT_DIM = {"ae_2d": 2}  # kinds whose code size is part of what they are
MAX_ROTATION = 45.0  # degrees: beyond this a turn is an anomaly (the Anomalies page turns digits by 90°)



def _check_fields(cls, d: dict, what: str) -> None:
    """A saved dict names only fields `cls` has (a record from other code fails loudly, not silently)."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - known)
    if unknown:
        raise LatentLabError(f"unknown {what} fields {unknown}; valid fields: {sorted(known)}")

@dataclass(frozen=True)
class Augment:
    """How training images are distorted, the way other people's handwriting differs from MNIST's
    (`core.lab.augment`). Each training image gets its own random draw, afresh every epoch:

    rotation       degrees, uniform in ±rotation (never a quarter turn: see MAX_ROTATION)
    shear          horizontal shear (slant), uniform in ±shear: a column moves by shear × its height
    scale          zoom factor, uniform in [low, high]
    shift          pixels, uniform in ±shift, down and across
    stroke         probability of a one-pixel stroke-width change: thicker or thinner, even odds
    elastic_alpha  elastic distortion (Simard et al. 2003): a random displacement field, smoothed by a
    elastic_sigma  Gaussian of std elastic_sigma pixels and scaled by elastic_alpha; 0 turns it off
    fraction       share of training images distorted; the others are seen as they are

    No mirror images: a mirrored digit is another (or no) digit, and the Anomalies page uses mirrors
    and 90° turns as anomalies.
    """

    rotation: float = 15.0
    shear: float = 0.3
    scale: tuple[float, float] = (0.85, 1.15)
    shift: float = 2.0
    stroke: float = 0.5
    elastic_alpha: float = 0.0
    elastic_sigma: float = 4.0
    fraction: float = 1.0

    def __post_init__(self) -> None:
        # Canonical form: floats throughout, so Augment(rotation=15) and Augment(rotation=15.0) share a key.
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            object.__setattr__(self, f.name, tuple(float(u) for u in v) if f.name == "scale" else float(v))
        lo, hi = self.scale if len(self.scale) == 2 else (0.0, 0.0)
        if not 0 <= self.rotation < MAX_ROTATION:
            raise LatentLabError(f"augment rotation must be in [0, {MAX_ROTATION:g}) degrees, got {self.rotation!r}")
        if not 0 < lo <= hi:
            raise LatentLabError(f"augment scale must be (low, high) with 0 < low ≤ high, got {self.scale!r}")
        if min(self.shear, self.shift, self.elastic_alpha) < 0 or self.elastic_sigma <= 0:
            raise LatentLabError(f"augment shear, shift, elastic_alpha must be ≥ 0 and elastic_sigma > 0 (got shear={self.shear}, "
                                 f"shift={self.shift}, elastic_alpha={self.elastic_alpha}, elastic_sigma={self.elastic_sigma})")
        if not (0 <= self.stroke <= 1 and 0 <= self.fraction <= 1):
            raise LatentLabError(f"augment stroke and fraction are probabilities in [0, 1], got stroke={self.stroke!r}, "
                                 f"fraction={self.fraction!r}")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["scale"] = list(self.scale)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Augment:
        _check_fields(cls, d, "augment")
        return cls(**d)


@dataclass(frozen=True)
class ModelSpec:
    """Everything that determines a trained model.

    kind          one of `KINDS` (see `core.lab.models.BUILDERS`)
    latent_dim    size of the code z; for "denoise", the channels of its (7, 7, latent_dim) feature map
                  (see `code_shape`); "ae_2d" is 2 by definition
    beta          weight of the KL term (VAEs only; 1.0 is the true ELBO)
    noise_factor  std of the Gaussian noise added to training inputs (denoising AE only)
    epochs, batch_size, learning_rate, seed   the training recipe
    schedule      learning-rate schedule: "constant" (the lesson's Adam) or "cosine" (decay to 5 %)
    digits        training subset by label, e.g. (3,) for "digit 3 only"; () means all ten
    train_size    use only the first N training images (after the digit filter); 0 means all
    augment       how training inputs are distorted (`Augment`, `core.lab.augment`); None: not at all
    """

    kind: str
    latent_dim: int = 16
    beta: float = 1.0
    noise_factor: float = 0.0
    epochs: int = 10
    batch_size: int = 256
    learning_rate: float = 1e-3
    schedule: str = "constant"
    seed: int = 0
    digits: tuple[int, ...] = field(default=())
    train_size: int = 0
    augment: Augment | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise LatentLabError(f"unknown model kind {self.kind!r}; valid kinds: {', '.join(KINDS)}")
        for name in ("latent_dim", "epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise LatentLabError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.beta < 0 or self.noise_factor < 0 or self.learning_rate <= 0 or self.train_size < 0:
            raise LatentLabError(
                f"beta, noise_factor, train_size must be ≥ 0 and learning_rate > 0 "
                f"(got beta={self.beta}, noise_factor={self.noise_factor}, "
                f"learning_rate={self.learning_rate}, train_size={self.train_size})"
            )
        fixed = FIXED_LATENT_DIM.get(self.kind)
        if fixed is not None and self.latent_dim != fixed:
            raise LatentLabError(f"{self.kind!r} has a {fixed}-D code by definition, got latent_dim={self.latent_dim!r}; "
                                 f"use kind 'conv_ae' for other code sizes")
        if self.schedule not in SCHEDULES:
            raise LatentLabError(f"unknown schedule {self.schedule!r}; valid schedules: {', '.join(SCHEDULES)}")
        if self.beta != 1.0 and not self.is_vae:
            raise LatentLabError(f"beta weighs a VAE's KL term, and a {self.kind!r} model has none; got beta={self.beta!r}")
        if self.noise_factor and self.kind != "denoise":
            raise LatentLabError(f"noise_factor is the denoising AE's training noise; a {self.kind!r} model trains on "
                                 f"clean inputs; got noise_factor={self.noise_factor!r}")
        if self.augment is not None and not isinstance(self.augment, Augment):
            raise LatentLabError(f"augment must be an Augment or None, got {self.augment!r}")
        bad = [d for d in self.digits if d not in range(10)]
        if bad:
            raise LatentLabError(f"digits must be in 0..9, got {bad}")
        # Canonical form: sorted unique digits, so (3, 1) and (1, 3, 3) are the same spec.
        object.__setattr__(self, "digits", tuple(sorted(set(int(d) for d in self.digits))))

    @property
    def is_vae(self) -> bool:
        return self.kind in VAE_KINDS

    @property
    def code_shape(self) -> tuple[int, ...]:
        """The shape of one code: (latent_dim,), except the denoiser, whose code is a 7×7 map with
        `latent_dim` channels (7, 7, latent_dim)."""
        return (7, 7, self.latent_dim) if self.kind == "denoise" else (self.latent_dim,)

    @property
    def code_size(self) -> int:
        """How many numbers one code holds (the denoiser's 7×7×32 map: 1568, more than 784 pixels)."""
        return int(np.prod(self.code_shape))

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["digits"] = list(self.digits)
        # No augmentation is left out, so every spec from before augmentation keeps its dict and its key.
        d["augment"] = self.augment.to_dict() if self.augment is not None else None
        if d["augment"] is None:
            del d["augment"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> ModelSpec:
        _check_fields(cls, d, "spec")
        d = dict(d)
        d["digits"] = tuple(d.get("digits", ()))
        if d.get("augment") is not None:
            d["augment"] = Augment.from_dict(d["augment"])
        return cls(**d)

    @property
    def key(self) -> str:
        """Stable 16-hex-digit hash of the canonical JSON (sorted keys, floats as repr). Revision 1 and
        no augmentation are left out of it (see `to_dict`): keys made before either existed stay valid."""
        d = self.to_dict()
        if ARCH_REVISION[self.kind] != 1:
            d["arch"] = ARCH_REVISION[self.kind]
        canonical = json.dumps(d, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    @property
    def label(self) -> str:
        """Short human name, e.g. ``vae z=2 β=1`` or ``conv_ae z=32 digit 3``."""
        parts = [self.kind, f"z={self.latent_dim}"]
        if self.is_vae:
            parts.append(f"β={self.beta:g}")
        if self.noise_factor:
            parts.append(f"noise={self.noise_factor:g}")
        if self.digits:
            parts.append("digit " + ",".join(map(str, self.digits)))
        if self.train_size:
            parts.append(f"n={self.train_size}")
        if self.augment is not None:
            parts.append("augmented")
        return " ".join(parts)
