"""Latent space explorer: the MNIST test set in a VAE's and a plain AE's 2-D latent space; the pointer
decodes wherever it moves (in the browser: views/hover), a click pins a point and, on the VAE's map, shows
a digit's q(z|x) with samples from it; a manifold grid, samples from the prior, interpolation, and the β
trade-off.

Models are named by their ModelSpec (frozen, hashable: the key of every cache in views.latent_data), so the shipped
2-D models and any 2-D model trained in the Training lab go through the same code.

A rerun redraws six sections; each picture is cached on what it shows (model, settings, points), so
a widget recomputes only the section it changes, and the downloads are made only when clicked."""

from functools import partial

import numpy as np
import streamlit as st

from core.errors import LatentLabError
from core.figures import tiles
from core.figures.latent_map import explorer_overlay
from core.lab import latent
from core.lab.zoo import SHIPPED, name_of
from views.canvas import image_strip
from views.common import (
    USER_DIGIT_KEY,
    explain,
    mnist_test_count,
    mnist_test_digit,
    model_store,
    note_subset,
    persist,
    show_error,
    trained_models,
)
from views.hover import hover_map
from views.latent_data import (
    AE,
    VAES,
    ZOOM,
    Clicked,
    as_bytes,
    beta_figures,
    clicked_from_pick,
    codes,
    decoded_uri,
    grid_decodes,
    grid_figure,
    image_code,
    image_posterior,
    interpolation_frames,
    map_figure,
    posterior_draws,
    prior_png,
    strip_figure,
    test_decodes,
)

SHIPPED_CHOICE = "shipped"  # the map pickers' first option: the shipped model (a stable value, whatever β is)
SOURCES = ("Test digit", "My drawing or upload", "Point picked on a map")
CONFIG = {"displayModeBar": False}
POSTERIOR_SAMPLES = 6  # draws z = μ + σ ⊙ ε from a q(z|x) shown on the VAE's map and decoded beside its mean


def _user_marks(spec) -> tuple[tuple[str, float, float], ...]:
    """The user's latest drawing or upload in this model's latent space, as hashable marks."""
    user = st.session_state.get(USER_DIGIT_KEY)
    if user is None:
        return ()
    return ((user["source"], *image_code(spec, as_bytes(user["image"]))),)


def click_key(spec) -> str:
    """Session key of the point last clicked on `spec`'s map (a `Clicked`)."""
    return f"lt_click_{spec.key}"


def sample_key(family: str) -> str:
    """Session key of a map's 'sample again' counter: the seed of its draws ε."""
    return f"lt_sample_seed_{family}"


def _resample(family: str) -> None:
    """on_click of 'sample again': the next seed, so the fragment's rerun draws fresh ε."""
    st.session_state[sample_key(family)] = st.session_state.get(sample_key(family), 0) + 1


def _remember_click(spec, pick: dict | None) -> None:
    """on_pick: keep the latest point clicked on the hover map, per model; a dot's index is checked
    against the test set (the browser could send anything)."""
    clicked = clicked_from_pick(pick)
    if clicked is not None and clicked.test_index is not None and clicked.test_index >= len(codes(spec).labels):
        clicked = Clicked(clicked.z1, clicked.z2)
    if clicked is not None:
        st.session_state[click_key(spec)] = clicked


def _posteriors(spec, c: latent.Codes, clicked: Clicked) -> list[tuple[str, tuple[float, ...], tuple[float, ...]]]:
    """The posteriors q(z|x) shown on a VAE's map, (label, z_mean, z_log_var): the clicked test digit's
    (first: the one that is sampled) and the user's digit's. None for a plain AE."""
    if c.z_log_var is None:
        return []
    out = []
    if clicked.test_index is not None:
        i = clicked.test_index
        out.append((f"test digit #{i} (a {int(c.labels[i])})", tuple(map(float, c.z[i])), tuple(map(float, c.z_log_var[i]))))
    user = st.session_state.get(USER_DIGIT_KEY)
    if user is not None:
        out.append((user["source"], *image_posterior(spec, as_bytes(user["image"]))))
    return out


@st.fragment
def explorer(spec, family: str) -> None:
    """One hover map, and the point last clicked on it: its decode and, on a VAE's map, the q(z|x) of a
    clicked test digit or of the user's digit with samples from it (reruns alone)."""
    try:
        c = codes(spec)
        figure = map_figure(spec, _user_marks(spec))
    except LatentLabError as err:
        show_error(err)
        return
    clicked = st.session_state.get(click_key(spec), Clicked(0.0, 0.0))
    posteriors = _posteriors(spec, c, clicked)
    seed = st.session_state.get(sample_key(family), 0)
    draws = posterior_draws(spec, *posteriors[0][1:], POSTERIOR_SAMPLES, seed) if posteriors else None
    overlay = explorer_overlay((clicked.z1, clicked.z2),
                               [(label, np.array(mu), latent.sigma_of(log_var)) for label, mu, log_var in posteriors],
                               None if draws is None else draws[0])
    hover_map(figure, overlay, key=f"lt_map_{family}", on_pick=lambda pick: _remember_click(spec, pick))
    # A lookup, no model call, between a click and its picture: a dot is a test digit's code, and
    # anywhere else the click pinned a point of the hover grid.
    uri = decoded_uri(spec, clicked.z1, clicked.z2, clicked.test_index)
    left, right = st.container(key=f"lt_decoded_{family}").columns([1, 3])  # the key names it for browser tests
    left.image(uri, width=28 * ZOOM // 2)  # inline: no extra request per click
    notes = []  # one caption, not several
    if clicked.test_index is not None:
        notes.append(f"That is where the encoder puts test digit #{clicked.test_index} "
                     f"(a {int(c.labels[clicked.test_index])}).")
    if c.z_log_var is not None:
        tail = float(latent.prior_tail(clicked.z))
        notes.append(f"Under the prior N(0, I), {latent.share_text(tail)} of samples land further from the centre "
                     "than this point.")
        if clicked.test_index is not None:
            i = clicked.test_index
            sigma = latent.sigma_of(c.z_log_var[i])
            notes.append(f"Its q(z|x) has σ = ({sigma[0]:.2f}, {sigma[1]:.2f}) and KL to the prior {c.kl_to_prior(i):.2f} nats.")
    with right:
        st.markdown(f"**{name_of(spec)}** decoded at z = ({clicked.z1:+.2f}, {clicked.z2:+.2f})")
        if notes:
            st.caption("  \n".join(notes))
    if draws is not None:
        label, mu, _ = posteriors[0]
        z, images, mean_image = draws
        image_strip([mean_image, *images], ["μ", *[f"sample {k + 1}" for k in range(len(images))]],
                    [f"({mu[0]:+.2f}, {mu[1]:+.2f})", *[f"({a:+.2f}, {b:+.2f})" for a, b in z]],
                    key=f"lt_samples_{family}", height=56)
        st.button("🎲 Sample again", key=f"lt_resample_{family}", on_click=_resample, args=(family,),
                  help="Fresh ε ~ N(0, I): new draws z = μ + σ ⊙ ε from the same q(z|x).")
        st.caption(f"q(z|x) of {label}: the solid ring holds {latent.ellipse_mass(1):.0%} of its draws (1σ), the "
                   f"dashed one {latent.ellipse_mass(2):.0%} (2σ). The orange dots are draws z = μ + σ ⊙ ε "
                   f"(ε ~ N(0, I), seed {seed}), decoded above beside the decoded mean μ.")
    elif c.z_log_var is not None:
        st.caption("Click a test digit's dot (or draw a digit on ✏️ Draw) to see its q(z|x) and samples from it.")


def _pick(family: str, shipped, trained: list, key: str):
    """The sidebar picker of one map: the shipped model, or a 2-D model of the same family trained on
    this server (listed afresh on every run, so a model appears as soon as its training finishes)."""
    by_key = {s.key: s for s in trained}
    choice = st.selectbox(f"{family} map", [SHIPPED_CHOICE, *by_key], key=key,
                          format_func=lambda k: name_of(by_key.get(k, shipped)), disabled=not by_key,
                          help=f"A {family} with a 2-D code trained in the 🏋️ Train lab can take this map's place.")
    return by_key.get(choice, shipped)


def _end_code(end: latent.Endpoint, spec) -> tuple[float, ...]:
    """An interpolation end's point in `spec`'s latent space: a picked point as it is (if it was picked
    on this model's map), an image encoded once per model (`image_code`)."""
    if end.z is None and end.image is not None:
        return image_code(spec, as_bytes(end.image))
    return tuple(float(v) for v in latent.endpoint_code(end, None, name_of(spec)))  # raises for another map's point


def _endpoint(end: str, spec) -> latent.Endpoint | None:
    """The widgets of one interpolation end in `spec`'s latent space; None (with a note) when it has
    nothing to offer yet."""
    name = end.upper()
    source = st.radio(f"{name} is", SOURCES, key=persist(f"lt_src_{end}"))
    if source == SOURCES[0]:
        index = int(st.number_input(f"Test digit # for {name}", 0, mnist_test_count() - 1, {"a": 3, "b": 2}[end], key=persist(f"lt_idx_{end}")))
        image, label = mnist_test_digit(index)
        return latent.Endpoint(f"test digit #{index} (a {label})", image=image)
    if source == SOURCES[1]:
        user = st.session_state.get(USER_DIGIT_KEY)
        if st.button(f"📌 Keep my current drawing as {name}", key=f"lt_pin_{end}", disabled=user is None):
            st.session_state[f"lt_pinned_{end}"] = latent.Endpoint(user["source"], image=user["image"])
        pinned = st.session_state.get(f"lt_pinned_{end}")
        if pinned is None and user is None:
            st.info("Draw a digit on the ✏️ Draw page or upload one on the 📤 Upload page first.")
            return None
        return pinned or latent.Endpoint(user["source"], image=user["image"])
    # Not a button under the map: every element there costs time on each click.
    last = st.session_state.get(click_key(spec))
    if st.button(f"📍 Use the point last clicked on the {name_of(spec)} map", key=f"lt_take_{end}",
                 disabled=last is None):
        st.session_state[f"lt_end_{end}"] = latent.Endpoint(f"the point {last.describe()}", z=(last.z1, last.z2),
                                                            model=name_of(spec))
    picked = st.session_state.get(f"lt_end_{end}")
    if picked is None:
        st.info("Click a point on that map in section 1, then press the button.")
    return picked


# ---------------------------------------------------------------------------------------------

st.title("🗺️ Latent space")
st.caption("The MNIST test digits, squeezed to two numbers. Move the pointer over a map — also between the "
           "dots — to see what the decoder draws there; click to pin a point.")
explain(
    "Each dot is the centre μ(x) of the cloud q(z|x) = N(μ, σ²) that the VAE's encoder gives a test digit. The "
    "VAE was trained to minimise its reconstruction loss plus β times the KL divergence of that cloud from the "
    "prior N(0, I) — the term that packs the clouds around the origin so the space can be sampled; at β = 1 the "
    "sum is the negative ELBO (section 5 shows both terms for β = 0.25, 1 and 4).",
    r"\mathcal L(x)=\underbrace{-\log p(x\mid z)}_{\text{reconstruction: BCE summed over pixels}}+\beta\,"
    r"\mathrm{KL}\big(q(z\mid x)\,\|\,\mathcal N(0,I)\big),\qquad z=\mu+\sigma\odot\varepsilon,\ "
    r"\varepsilon\sim\mathcal N(0,I)",
    r"\mathrm{KL}=\tfrac12\sum_{d}\left(\mu_d^2+\sigma_d^2-\log\sigma_d^2-1\right),\qquad "
    r"\beta=1:\ \mathcal L(x)=-\mathrm{ELBO}(x)",
    expanded=False,  # closed: the maps and the decoded digit must be above the fold at 1280×720
)

with st.sidebar:
    st.header("VAE")
    beta = st.radio("KL weight β", list(VAES), index=1, format_func=lambda b: f"β = {b:g}", key=persist("lt_beta"),
                    help="Loss = reconstruction + β · KL. β = 1 is the true ELBO; more β, a tidier but blurrier space.")
    st.caption("β picks the shipped VAE used on the whole page: its map, grid, samples and interpolations.")
    st.header("Maps")
    mine = [s for s in trained_models().values() if latent.has_2d_code(s)]
    vae = _pick("VAE", SHIPPED[VAES[beta]], [s for s in mine if s.is_vae], "lt_pick_vae")
    ae = _pick("Plain AE", SHIPPED[AE], [s for s in mine if not s.is_vae], "lt_pick_ae")
    if not mine:
        st.caption("A VAE or plain AE with a 2-D code that you train in the 🏋️ Train lab can replace either map.")
if not model_store().available(vae):  # never start minutes of training from a page view
    st.info(f"{name_of(vae)} has no trained weights on this server yet: choose another β.")
    st.stop()

st.header("1 · Two latent maps")
note_subset()
left, right = st.columns(2, gap="large")
with left:
    st.subheader(name_of(vae))
    explorer(vae, "vae")
with right:
    st.subheader(name_of(ae))
    explorer(ae, "ae")
for spec in (vae, ae):  # ready before the first click (a few seconds for the conv AE, once per model)
    grid_decodes(spec)
    test_decodes(spec)
st.markdown(
    """
Both models squeeze a digit through two numbers. The **plain autoencoder** (right) is only asked to
rebuild its input, so it may put each digit anywhere: clusters stretch out along rays, sit far apart,
and the space between them was never trained — click into a gap and the decoder draws a smudge or a
hybrid. The **VAE** (left) must also keep each digit's cloud q(z|x) close to N(0, I), so the clusters
are packed around the origin with no holes, and every point decodes to something digit-like.
The ★ marks your latest drawing or upload; on the VAE's map, the rings around it are its q(z|x).
"""
)

# Sections 2–4 are fragments: moving one of their widgets reruns that section alone on the server
# (and redraws only it in the browser), not the maps and the rest of the page.
@st.fragment
def manifold_grid(vae, ae) -> None:
    controls, picture = st.columns([1, 2], gap="large")
    with controls:
        space = st.radio("Latent space of", ["vae", "ae"], format_func=lambda f: name_of(vae if f == "vae" else ae),
                         key=persist("lt_grid_space"))
        spec = vae if space == "vae" else ae
        mode = st.radio("Grid", list(latent.GRID_MODES), format_func=latent.GRID_MODES.get, key=persist("lt_grid_mode"),
                        disabled=space == "ae", help="Gaussian quantiles only make sense where the prior is N(0, I): the VAE.")
        mode = "range" if space == "ae" else mode
        n = st.slider("Digits per side", 5, latent.MAX_GRID, 15, key=persist("lt_grid_n"))
        (x_lo, x_hi), (y_lo, y_hi) = latent.extent(codes(spec).z, pad=0.0) if space == "ae" else ((-3.0, 3.0),) * 2
        lim = round(max(abs(v) for v in (x_lo, x_hi, y_lo, y_hi)) * 1.5, 1)  # room to look beyond the codes
        z1_range = st.slider("z₁ range", -lim, lim, (round(x_lo, 1), round(x_hi, 1)), key=f"lt_grid_z1_{space}",
                             disabled=mode == "quantiles")
        z2_range = st.slider("z₂ range", -lim, lim, (round(y_lo, 1), round(y_hi, 1)), key=f"lt_grid_z2_{space}",
                             disabled=mode == "quantiles")
        st.caption("Each tile is the decoder's drawing at one grid point; the top row has the largest z₂, as on the map. "
                   "The quantile grid places tile i at Φ⁻¹((i + ½)/n): every tile stands for the same share of the prior.")
    with picture:
        try:
            fig = grid_figure(spec, mode, n, tuple(z1_range), tuple(z2_range))
        except LatentLabError as err:
            show_error(err)  # the rest of the page still works
        else:
            st.plotly_chart(fig, key="lt_grid", config=CONFIG)


@st.fragment
def prior_samples(vae, ae) -> None:
    seed = st.session_state.setdefault("lt_seed", 0)
    k = st.slider("Samples per side", 4, 12, 8, key=persist("lt_samples_k"))
    if st.button("🎲 New samples", key="lt_reseed"):
        seed = st.session_state["lt_seed"] = seed + 1
    left, middle, right = st.columns([2, 2, 3], gap="large")
    with left:
        st.image(prior_png(vae, k, seed))
        st.caption(f"{name_of(vae)}: z ~ N(0, I), decoded (seed {seed}).")
    with middle:
        st.image(prior_png(ae, k, seed))
        st.caption(f"{name_of(ae)}: the same draws, mapped onto a Gaussian fitted to its codes.")
    right.markdown(
        """
A VAE is trained so that the codes of the training digits, taken together, look like draws from
N(0, I). So drawing z from N(0, I) and decoding it lands where training digits were: new digits,
none of them in MNIST. The plain AE was never given a target shape for its codes. Even sampling
it generously — from a Gaussian with the mean and spread of its own codes — hits gaps and borders
between clusters, and more of its samples come out as smudges or two digits at once.
"""
    )


@st.fragment
def interpolation(vae, ae) -> None:
    ends = st.columns([1, 1, 1], gap="large")
    with ends[2]:  # filled first: the ends depend on the space
        space = st.radio("In the latent space of", ["vae", "ae"], format_func=lambda f: name_of(vae if f == "vae" else ae),
                         key=persist("lt_space"))
        steps = st.slider("Steps (A and B included)", 2, latent.MAX_STEPS, 10, key=persist("lt_steps"))
    spec = vae if space == "vae" else ae
    with ends[0]:
        end_a = _endpoint("a", spec)
    with ends[1]:
        end_b = _endpoint("b", spec)
    strip = None  # the strip's figure once both ends are known
    if end_a is not None and end_b is not None:
        try:
            z_a, z_b = _end_code(end_a, spec), _end_code(end_b, spec)
            strip = strip_figure(spec, z_a, z_b, steps)
        except LatentLabError as err:
            show_error(err)  # e.g. a point picked on the other model's map; the rest of the page still works
    if strip is not None:
        st.plotly_chart(strip, key="lt_strip", config=CONFIG)
        st.caption(f"From {end_a.label}, z_A = ({z_a[0]:+.2f}, {z_a[1]:+.2f}), to {end_b.label}, "
                   f"z_B = ({z_b[0]:+.2f}, {z_b[1]:+.2f}), in {name_of(spec)}'s latent space.")
        d1, d2, _ = st.columns([1, 1, 3])
        # Encoded when clicked (a callable holding this run's frames), not on every rerun: the GIF alone is
        # 2·steps − 2 frames of Pillow work.
        frames = interpolation_frames(spec, z_a, z_b, steps)  # (steps, 28, 28), a cache hit
        d1.download_button("⬇️ Strip (PNG)", partial(tiles.strip_png, frames), "interpolation.png", "image/png",
                           key="lt_dl_png")
        d2.download_button("⬇️ Animation (GIF)", partial(tiles.gif_bytes, frames), "interpolation.gif", "image/gif",
                           key="lt_dl_gif")
        st.markdown("Walking in a straight line through the VAE's space, every step is a plausible digit and the "
                    "shape morphs smoothly. In the plain AE's space the same walk can cross a gap, where the decoder "
                    "has never been trained, and the middle frames stop looking like digits.")


st.header("2 · Manifold grid")
manifold_grid(vae, ae)
st.header("3 · New digits from the prior")
prior_samples(vae, ae)
st.header("4 · Interpolation")
interpolation(vae, ae)

st.header("5 · β: sharp reconstructions or a tidy space")
available = tuple(n for n in VAES.values() if model_store().available(SHIPPED[n]))
try:
    bars, grid = beta_figures(available, beta)
except LatentLabError as err:
    show_error(err)
else:
    st.plotly_chart(bars, key="lt_beta_terms", config=CONFIG)
    st.plotly_chart(grid, key="lt_beta_recs", config=CONFIG)
st.markdown(
    """
The VAE minimises reconstruction + β · KL. With **small β** the KL term is cheap: the encoder spreads
the digits out and makes each q(z|x) narrow, reconstructions get sharper (lower reconstruction
loss), but the space drifts away from N(0, I) and prior samples fall into empty regions. With
**large β** every code is pulled hard towards the origin: the space is smooth and well covered,
but two numbers then carry less about each digit, and the reconstructions blur (higher
reconstruction loss, lower KL). The bars are test-set means in nats per image; their sum, the
−ELBO, is the same bound for every β, so it says which trade-off models the data best.
Change β in the sidebar to see the maps, grid and samples change.
"""
)

st.header("6 · The maths behind the pictures")
c1, c2 = st.columns(2, gap="large")
c1.markdown(
    r"""
**A diagonal-Gaussian encoder.** For an image $x$ the VAE's encoder outputs two vectors, `z_mean`
$\mu(x)$ and `z_log_var` $\log\sigma^2(x)$. Together they describe a cloud of codes,
$q(z\mid x)=\mathcal N\big(\mu(x),\operatorname{diag}\sigma^2(x)\big)$ — one independent bell
curve per latent dimension. The maps show $\mu(x)$, the centre of each cloud.

**The KL term, in closed form.** How far is that cloud from the prior $\mathcal N(0, I)$? For two
Gaussians the divergence $\mathrm{KL}\big(q(z\mid x)\,\|\,\mathcal N(0,I)\big)$ needs no sampling:
"""
)
c1.latex(r"\mathrm{KL}=\tfrac12\sum_{d}\left(\mu_d^2+\sigma_d^2-\log\sigma_d^2-1\right)")
c1.markdown(
    r"""
It is zero only when $\mu=0$ and $\sigma=1$: it pulls every centre towards the origin and stops the
clouds from shrinking to points (the map's captions give it for any test digit you click).
"""
)
c2.markdown(
    r"""
**The reparameterisation trick.** Training needs a sample $z\sim q(z\mid x)$, but "draw at random"
has no gradient. So write the sample as
$z=\mu+\sigma\odot\varepsilon$ with $\varepsilon\sim\mathcal N(0,I)$: the randomness is in
$\varepsilon$, which does not depend on the weights, and gradients flow through $\mu$ and $\sigma$.

**Why the VAE's space can be sampled and the AE's cannot.** The KL term makes the codes of all
training images, taken together, fill $\mathcal N(0, I)$; and because the decoder was trained on
*noisy* codes (whole clouds, not points), it learned to draw something sensible everywhere in
them. A plain AE's decoder only ever saw the exact codes of its training images, scattered
wherever the encoder liked. There is no known distribution to draw from, and the points between
its clusters were never trained on.
"""
)
