"""Training lab: train a model live, watch the losses and reconstructions, cancel, reuse."""

import streamlit as st

from core.errors import LatentLabError
from core.figures.plots import image_grid, loss_curves
from core.lab.presets import PRESETS
from core.lab.spec import KINDS, ModelSpec
from views.common import job_board, model_store

KIND_LABELS = {"lesson": "Lesson dense AE", "conv_ae": "Convolutional AE", "ae_2d": "Convolutional AE (2-D code)",
               "denoise": "Denoising conv AE", "vae": "Variational AE"}
JOB_KEY = "train_spec"  # session key: the spec this user is watching

st.title("🏋️ Training lab")
st.caption("Train an autoencoder right here. Training runs in the background on the server: you can "
           "keep using the app, and anyone who starts the same settings shares the same run.")

preset = st.selectbox("Start from", [*PRESETS, "Custom…"], key="tr_preset")
if preset != "Custom…":
    spec = PRESETS[preset]
    st.caption(f"Settings: {spec.label}, {spec.epochs} epochs, batch {spec.batch_size}.")
else:
    c1, c2, c3 = st.columns(3)
    kind = c1.selectbox("Model", KINDS, format_func=KIND_LABELS.get, key="tr_kind")
    latent = c1.select_slider("Code size", [2, 4, 8, 16, 32, 64], value=2 if kind in ("vae", "ae_2d") else 16,
                              key="tr_latent", disabled=kind == "ae_2d")
    beta = c1.select_slider("β (KL weight)", [0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0], value=1.0, key="tr_beta",
                            disabled=kind != "vae")
    noise = c1.slider("Training noise σ", 0.1, 1.0, 0.5, 0.1, key="tr_noise", disabled=kind != "denoise")
    epochs = c2.slider("Epochs", 1, 30, 5, key="tr_epochs")
    batch = c2.select_slider("Batch size", [32, 64, 128, 256, 512], value=128, key="tr_batch")
    lr = c2.select_slider("Learning rate", [1e-4, 3e-4, 1e-3, 3e-3], value=1e-3, key="tr_lr", format_func="{:g}".format)
    digits = c3.multiselect("Train only on these digits (empty = all)", list(range(10)), key="tr_digits")
    size = c3.select_slider("Training images (0 = all)", [0, 1000, 5000, 10000, 20000, 30000], value=10000, key="tr_size")
    try:
        spec = ModelSpec(kind, latent_dim=2 if kind == "ae_2d" else latent, beta=beta if kind == "vae" else 1.0,
                         noise_factor=noise if kind == "denoise" else 0.0, epochs=epochs, batch_size=batch,
                         learning_rate=lr, schedule="cosine", digits=tuple(digits), train_size=size)
    except LatentLabError as err:
        st.error(str(err))
        st.stop()

if st.button("▶ Start training", type="primary", key="tr_start"):
    try:
        job_board().start(spec)
    except LatentLabError as err:
        st.error(str(err))
        st.stop()
    st.session_state[JOB_KEY] = spec


@st.fragment(run_every=0.7)
def live_panel() -> None:
    """Polls the job a few times a second; only this fragment reruns while training."""
    watched = st.session_state.get(JOB_KEY)
    job = job_board().get(watched) if watched is not None else None
    if job is None:
        st.info("Choose settings and press **Start training**.")
        return
    snap = job.snapshot()
    p = snap["progress"]
    if snap["state"] == "running":
        if p is None:
            st.progress(0.0, text="Preparing data and compiling the model…")
        else:
            st.progress(min(p.fraction, 1.0), text=f"Epoch {p.epoch}/{p.epochs} · step {p.step}/{p.steps} · "
                                                   f"{p.elapsed:.0f} s elapsed · about {p.remaining:.0f} s left")
        if st.button("■ Cancel", key="tr_cancel"):
            job.cancel()
    elif snap["state"] == "done":
        st.success(f"Done in {snap['elapsed']:.0f} s: **{job.spec.label}** is saved and can be chosen on the other pages.")
    elif snap["state"] == "cancelled":
        st.warning("Cancelled. Nothing was saved.")
    else:
        st.error(snap["error"] or "Training failed.")

    left, right = st.columns([3, 2])
    with left:
        running = p.logs if (p is not None and not p.epoch_end and snap["state"] == "running") else None
        st.plotly_chart(loss_curves(snap["epochs"], running, (p.epoch - 1 + p.step / p.steps) if p else None),
                        key="tr_losses", config={"displayModeBar": False})
    with right:
        if snap["samples"] is not None:
            st.plotly_chart(image_grid([list(snap["watch"]), list(snap["samples"])], ["test digit", "rebuilt"]),
                            key="tr_samples", config={"displayModeBar": False})
            st.caption(f"Reconstructions after epoch {len(snap['epochs'])}.")
        elif snap["state"] == "running":
            st.caption("Reconstructions of test digits appear after the first epoch.")


live_panel()

st.subheader("Models on this server")
rows = []
for r in model_store().entries():
    m = r.get("metrics", {})
    recipe = r["spec"]
    rows.append({"model": r["name"], "where": r["location"], "key": r["key"], "epochs": recipe.get("epochs"),
                 "batch": recipe.get("batch_size"), "learning rate": recipe.get("learning_rate"), "train s": r.get("train_seconds"),
                 "test BCE": m.get("test_bce"), "test −ELBO": m.get("test_neg_elbo"), "AUROC vs Fashion": m.get("auroc_fashion")})
st.dataframe(rows, hide_index=True, key="tr_models")

with st.expander("What the losses mean, and what a healthy curve looks like"):
    st.markdown(
        """
- **Reconstruction** — how badly the output matches the input (binary cross-entropy, summed over the
  784 pixels for a VAE, averaged for the plain AEs). It falls fast in the first epoch, then slowly.
- **KL** (VAEs only) — how far each image's code distribution strays from the standard normal prior.
  It often *rises* early: the encoder starts spreading digits apart to rebuild them better, and pays
  for it in KL. **Total** = reconstruction + β·KL.
- **Validation** — the same losses on test digits the model never trains on. Healthy: both curves fall
  and flatten together. Validation turning upward while training keeps falling means memorising
  (overfitting) — likely with tiny training sets.
- A loss that jumps about or grows means the learning rate is too high; one that barely moves, too low.
"""
    )
