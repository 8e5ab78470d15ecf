"""AppTest: the Latent space page runs, shows its hover maps and controls, reacts to clicks (a clicked
point stored as the map's on_pick callback stores it) with the VAE's q(z|x) and samples, grid, reseed and
interpolation settings, and encodes the test set once per model, not once per rerun."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from core.lab import latent
from core.lab.zoo import SHIPPED
from views.common import mnist_test_count
from views.latent_data import Clicked, clicked_from_pick

TIMEOUT = 90  # the first run imports TensorFlow, loads the models and encodes 10 000 digits
VAE_CLICK = f"lt_click_{SHIPPED['vae_2d'].key}"  # session key of the point last clicked on the VAE's map
AE_CLICK = f"lt_click_{SHIPPED['ae_2d'].key}"


@pytest.fixture
def page(monkeypatch):
    calls: list[int] = []
    real = latent.test_codes

    def counting(model, x, labels):  # counts full test-set encodings (the β section encodes 10 images)
        if len(x) == 10_000:
            calls.append(len(x))
        return real(model, x, labels)

    monkeypatch.setattr(latent, "test_codes", counting)
    at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
    at.run()
    at.switch_page("views/latent.py").run()
    assert not at.exception
    at.encodings = calls
    return at


def _decoded_texts(at) -> list[str]:
    return [m.value for m in at.markdown if "decoded at z =" in m.value]


def _component(at, key: str) -> dict:
    """The data a components-v2 element (the hover map, its overlay, an image strip) was given."""
    found = [c for c in at.get("bidi_component") if c.key == key]
    assert len(found) == 1, [c.key for c in at.get("bidi_component")]
    return json.loads(found[0].proto.json)


def _chart(at, key: str) -> str:
    return next(c for c in at.get("plotly_chart") if c.proto.id.endswith(key) or key in c.proto.id).proto.spec


def test_page_shows_both_maps_and_the_controls(page):
    at = page
    assert not at.error
    assert at.title[0].value == "🗺️ Latent space"
    assert at.radio(key="lt_beta").value == 1.0
    for family in ("vae", "ae"):  # two hover maps, each with the codes and a 40×40 grid of decodes
        figure = _component(at, f"lt_map_{family}")
        assert figure["n"] == 40 and figure["count"] == mnist_test_count()
        assert len(base64.b64decode(figure["grid"])) == 40 * 40 * 28 * 28
        assert [c[0] for c in figure["centres"]] == list(range(10))  # cluster labels
        assert _component(at, f"lt_map_{family}_overlay") == {"pin": [0.0, 0.0], "ellipses": [], "samples": [],
                                                              "map_key": f"lt_map_{family}"}
    assert not any(c.proto.selection_mode for c in at.get("plotly_chart"))  # no plotly map left
    assert _decoded_texts(at) == ["**VAE (2-D latent)** decoded at z = (+0.00, +0.00)",
                                  "**Conv AE (2-D code)** decoded at z = (+0.00, +0.00)"]
    for key in ("lt_grid_n", "lt_samples_k", "lt_steps"):
        at.slider(key=key)
    for key in ("lt_grid_space", "lt_grid_mode", "lt_src_a", "lt_src_b", "lt_space"):
        at.radio(key=key)
    assert at.button(key="lt_reseed")
    assert {d.proto.label for d in at.get("download_button")} == {"⬇️ Strip (PNG)", "⬇️ Animation (GIF)"}
    text = " ".join(m.value for m in at.markdown)
    for idea in ("reparameterisation trick", "KL term, in closed form", "diagonal-Gaussian encoder",
                 "can be sampled and the AE's cannot"):
        assert idea in text


def test_a_click_decodes_that_point_and_can_end_an_interpolation(page):
    at = page
    at.session_state[VAE_CLICK] = Clicked(2.5, -1.25)  # what the map's on_select stores
    at.run()
    assert not at.exception and not at.error
    assert _decoded_texts(at)[0] == "**VAE (2-D latent)** decoded at z = (+2.50, -1.25)"
    assert any("further from the centre than this point" in c.value for c in at.caption)

    at.session_state[VAE_CLICK] = Clicked(-0.5, 0.75, test_index=3)  # a click on test digit #3
    at.run()
    assert any("test digit #3 (a 0)" in c.value for c in at.caption)
    assert any("KL to the prior" in c.value for c in at.caption)
    overlay = _component(at, "lt_map_vae_overlay")  # its q(z|x): 1σ and 2σ rings around μ, and 6 draws
    (ellipse,) = overlay["ellipses"]
    assert [r["k"] for r in ellipse["rings"]] == [1.0, 2.0] and len(overlay["samples"]) == 6
    strip = _component(at, "lt_samples_vae")["panels"]
    assert [p["title"] for p in strip] == ["μ", *[f"sample {k}" for k in range(1, 7)]]
    at.button(key="lt_resample_vae").click().run()  # sample again: new ε, the same q(z|x)
    assert not at.exception
    again = _component(at, "lt_map_vae_overlay")
    assert again["ellipses"] == overlay["ellipses"] and again["samples"] != overlay["samples"]
    strip_again = _component(at, "lt_samples_vae")["panels"]
    assert strip_again[0] == strip[0] and strip_again[1:] != strip[1:]  # the decoded mean stays
    assert any("seed 1" in c.value for c in at.caption)

    at.radio(key="lt_src_b").set_value("Point picked on a map").run()
    assert any("Click a point on that map" in i.value for i in at.info)
    at.button(key="lt_take_b").click().run()  # "Use the point last clicked on the … map"
    assert not at.exception and not at.error
    assert any("to the point z = (-0.50, +0.75)" in c.value for c in at.caption)
    at.radio(key="lt_space").set_value("ae").run()  # that point means nothing in the AE's space
    assert any("was picked on the map of 'VAE (2-D latent)', not 'Conv AE (2-D code)'" in e.value for e in at.error)
    assert any(h.value.startswith("6 · The maths") for h in at.header)  # the rest of the page still shows


def test_grid_reseed_and_steps_change_the_output(page):
    at = page
    grid = _chart(at, "lt_grid")
    at.slider(key="lt_grid_n").set_value(8).run()
    assert not at.exception and _chart(at, "lt_grid") != grid
    at.radio(key="lt_grid_mode").set_value("quantiles").run()
    assert not at.exception and not at.error
    assert "-1.53" in _chart(at, "lt_grid")  # Φ⁻¹(0.5/8) = −1.534 labels the first column

    assert any("(seed 0)" in c.value for c in at.caption)
    at.button(key="lt_reseed").click().run()
    assert any("(seed 1)" in c.value for c in at.caption)

    strip = _chart(at, "lt_strip")
    at.slider(key="lt_steps").set_value(5).run()
    assert not at.exception and _chart(at, "lt_strip") != strip
    assert _chart(at, "lt_strip").count('"1.00"') == 1


def test_the_test_set_is_encoded_once_per_model(page):
    at = page
    first = len(at.encodings)
    assert first <= 2  # the VAE and the AE, only if no earlier test in this process encoded them
    at.session_state[AE_CLICK] = Clicked(10.0, 5.0)
    at.run()
    at.slider(key="lt_grid_n").set_value(6).run()
    at.run()
    assert not at.exception
    assert len(at.encodings) == first


def test_interpolating_two_drawings(page):
    at = page
    digit = np.zeros((28, 28), np.float32)
    digit[5:23, 13:15] = 1.0
    at.session_state["user_digit"] = {"image": digit, "source": "your drawing"}
    at.run()
    at.radio(key="lt_src_a").set_value("My drawing or upload").run()
    at.button(key="lt_pin_a").click().run()
    bar = np.zeros((28, 28), np.float32)
    bar[13:15, 5:23] = 1.0
    at.session_state["user_digit"] = {"image": bar, "source": "your second drawing"}
    at.radio(key="lt_src_b").set_value("My drawing or upload").run()
    assert not at.exception and not at.error
    assert any("From your drawing" in c.value and "to your second drawing" in c.value for c in at.caption)
    assert [m["name"] for m in _component(at, "lt_map_vae")["marks"]] == ["your second drawing"]  # the ★
    overlay = _component(at, "lt_map_vae_overlay")  # the drawing's q(z|x) on the VAE's map, sampled
    assert [e["rings"][0]["k"] for e in overlay["ellipses"]] == [1.0] and len(overlay["samples"]) == 6
    assert _component(at, "lt_map_ae_overlay")["ellipses"] == []  # a plain AE has no q(z|x)


def test_other_betas(page):
    from core.lab.zoo import SHIPPED
    from views.common import model_store

    at = page
    for beta, name in ((0.25, "vae_2d_beta0.25"), (4.0, "vae_2d_beta4")):
        if not model_store().available(SHIPPED[name]):
            pytest.skip(f"{name} is not trained on this machine")
        at.radio(key="lt_beta").set_value(beta).run()
        assert not at.exception and not at.error
        assert f"β = {beta:g}" in at.subheader[0].value
    assert _chart(at, "lt_beta_terms").count('"type":"bar"') == 3


def test_models_trained_here_with_a_2d_code_can_take_a_map(page):
    """Issue #7: a model that finishes training enters the cache and is selectable on the next run."""
    from core.lab.spec import ModelSpec
    from core.lab.zoo import name_of
    from core.serving.store import ModelStore
    from views.common import model_store

    at = page
    tiny = dict(epochs=1, batch_size=128, train_size=512)
    vae, ae, wide = ModelSpec("vae", latent_dim=2, **tiny), ModelSpec("lesson", latent_dim=2, **tiny), \
        ModelSpec("lesson", latent_dim=8, **tiny)
    trainer = ModelStore(cache_dir=model_store().cache_dir)  # the app's cache, as the Training lab's jobs write it
    for spec in (vae, ae, wide):
        trainer.get(spec)

    at.run()  # the page was open before training finished: the next run lists the new models
    assert not at.exception
    vae_box, ae_box = at.selectbox(key="lt_pick_vae"), at.selectbox(key="lt_pick_ae")
    assert not vae_box.disabled and not ae_box.disabled
    assert vae_box.options[0] == "VAE (2-D latent)" and ae_box.options[0] == "Conv AE (2-D code)"
    names = {spec: name_of(spec) for spec in (vae, ae, wide)}  # people's names, no hash keys
    assert names[vae] in vae_box.options and names[vae] not in ae_box.options
    assert names[ae] in ae_box.options and names[ae] not in vae_box.options
    assert names[wide] not in vae_box.options + ae_box.options  # an 8-D code is no map

    at.selectbox(key="lt_pick_vae").set_value(vae.key).run()  # options are spec keys, shown by label
    at.selectbox(key="lt_pick_ae").set_value(ae.key).run()
    assert not at.exception and not at.error
    assert at.subheader[0].value == names[vae] and at.subheader[1].value == names[ae]
    decoded = _decoded_texts(at)
    assert decoded[0].startswith(f"**{names[vae]}") and decoded[1].startswith(f"**{names[ae]}")
    for family in ("vae", "ae"):  # both trained models are mapped
        assert _component(at, f"lt_map_{family}")["count"] == mnist_test_count()

    at.session_state[f"lt_click_{vae.key}"] = Clicked(0.5, -0.5)  # a click on the trained VAE's map
    at.run()
    assert not at.exception and not at.error
    assert _decoded_texts(at)[0].endswith("decoded at z = (+0.50, -0.50)")
    at.radio(key="lt_space").set_value("ae").run()  # the interpolation runs in the trained AE's space
    assert not at.exception and not at.error
    assert any(f"in {names[ae]}" in c.value and "latent space" in c.value for c in at.caption)


def test_clicks_on_empty_space_and_on_test_digits():
    assert clicked_from_pick(None) is None
    assert clicked_from_pick({"z1": "1", "z2": 2}) is None  # the browser could send anything
    assert clicked_from_pick({"z1": float("nan"), "z2": 2}) is None
    assert clicked_from_pick({"z1": -2.5, "z2": 1.25, "index": -1}) == Clicked(-2.5, 1.25, None)  # a grid point
    assert clicked_from_pick({"z1": 0.5, "z2": -0.75, "index": 4321}) == Clicked(0.5, -0.75, 4321)  # a dot
    assert clicked_from_pick({"z1": 0.5, "z2": -0.75, "index": True}).test_index is None
    assert "test digit #4321" in Clicked(0.5, -0.75, 4321).describe()
