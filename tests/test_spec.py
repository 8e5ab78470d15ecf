import pytest

from core.errors import LatentLabError
from core.lab.spec import KINDS, ModelSpec
from core.lab.zoo import SHIPPED, spec_named


def test_key_is_stable_and_canonical():
    a = ModelSpec("vae", latent_dim=2, digits=(3, 1, 3))
    b = ModelSpec("vae", latent_dim=2, digits=(1, 3))
    assert a == b and a.key == b.key
    assert len(a.key) == 16 and int(a.key, 16) >= 0
    # Pinned: a changed hash would orphan every cached and shipped model.
    assert ModelSpec("lesson").key == ModelSpec.from_dict(ModelSpec("lesson").to_dict()).key


def test_different_specs_have_different_keys():
    keys = {ModelSpec("vae", beta=b).key for b in (0.25, 1.0, 4.0)} | {ModelSpec("vae", seed=1).key}
    assert len(keys) == 4


def test_round_trip_through_dict():
    spec = ModelSpec("denoise", latent_dim=32, noise_factor=0.5, digits=(7,), train_size=100)
    assert ModelSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"kind": "gan"}, ["'gan'", *KINDS]),
        ({"kind": "vae", "latent_dim": 0}, ["latent_dim", "0"]),
        ({"kind": "vae", "digits": (11,)}, ["digits", "11"]),
        ({"kind": "vae", "schedule": "step"}, ["'step'", "cosine"]),
        ({"kind": "vae", "beta": -1.0}, ["beta=-1.0"]),
        ({"kind": "ae_2d", "latent_dim": 16}, ["'ae_2d'", "2-D", "latent_dim=16"]),
        ({"kind": "ae_2d"}, ["'ae_2d'", "latent_dim=16"]),  # the default code size is not 2
        ({"kind": "conv_ae", "beta": 4.0}, ["'conv_ae'", "KL", "beta=4.0"]),  # β means nothing without a KL term
        ({"kind": "vae", "noise_factor": 0.5}, ["'vae'", "noise_factor=0.5"]),  # only the denoiser trains on noise
    ],
)
def test_bad_values_are_named(kwargs, words):
    with pytest.raises(LatentLabError) as err:
        ModelSpec(**kwargs)
    for w in words:
        assert w in str(err.value)


def test_unknown_dict_fields_are_rejected():
    with pytest.raises(LatentLabError, match="colour"):
        ModelSpec.from_dict({"kind": "vae", "colour": "red"})


def test_shipped_names_resolve():
    assert spec_named("vae_2d").latent_dim == 2
    with pytest.raises(LatentLabError, match="vae_2d"):
        spec_named("nope")
    assert len({s.key for s in SHIPPED.values()}) == len(SHIPPED)


def test_lesson_spec_is_the_lesson_recipe():
    s = SHIPPED["lesson"]
    assert (s.latent_dim, s.epochs, s.batch_size, s.learning_rate, s.schedule) == (16, 10, 256, 1e-3, "constant")


def test_architecture_revision_enters_the_key(monkeypatch):
    from core.lab import spec as spec_mod

    assert set(spec_mod.ARCH_REVISION) == set(KINDS)
    before = ModelSpec("conv_ae").key
    monkeypatch.setitem(spec_mod.ARCH_REVISION, "conv_ae", 99)
    assert ModelSpec("conv_ae").key != before  # new builder code never loads old weights


def test_ae_2d_has_a_2d_code_by_definition():
    assert ModelSpec("ae_2d", latent_dim=2).code_shape == (2,)
    assert SHIPPED["ae_2d"].latent_dim == 2


@pytest.mark.parametrize(("spec", "shape", "size"), [
    (ModelSpec("denoise", latent_dim=32, noise_factor=0.5), (7, 7, 32), 7 * 7 * 32),  # a 7×7 map, 32 channels
    (ModelSpec("vae", latent_dim=2), (2,), 2),
    (ModelSpec("conv_ae", latent_dim=64), (64,), 64),
    (ModelSpec("lesson"), (16,), 16),
])
def test_code_shape_says_what_latent_dim_means(spec, shape, size):
    assert spec.code_shape == shape and spec.code_size == size


def test_code_shape_is_what_the_builders_build():
    from core.lab.models import build, encoder_of

    for spec in (ModelSpec("denoise", latent_dim=4, noise_factor=0.5), ModelSpec("ae_2d", latent_dim=2)):
        assert tuple(encoder_of(build(spec)).outputs[0].shape[1:]) == spec.code_shape


def test_shipped_keys_are_pinned():
    """The shipped weights in assets/ are named by these keys: a spec change must never move them."""
    assert {n: SHIPPED[n].key for n in ("lesson", "ae_2d", "denoise", "vae_2d")} == {
        "lesson": "f7bfadf6b338a14a", "ae_2d": "d49cd7269d425cb1", "denoise": "050ce1d2bbe26a06", "vae_2d": "55d40fbae3cb3069"}
    # Augmentation (issue 17) moved no key: the conv AE's recipe without it still names its earlier weights.
    import dataclasses

    assert SHIPPED["conv_ae"].key == "598c5d49a03b98a1"
    assert dataclasses.replace(SHIPPED["conv_ae"], augment=None).key == "da9ab1cf1a61c29b"
