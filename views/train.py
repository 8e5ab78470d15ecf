"""Training lab: queue a training run, watch its place in the queue, then its losses and reconstructions."""

import uuid

import pandas as pd
import streamlit as st

from core.figures.plots import image_grid, loss_curves
from core.lab.data import require_full_mnist
from core.lab.presets import PRESETS
from core.lab.spec import KINDS, ModelSpec
from core.lab.zoo import KIND_NAMES, name_of
from core.serving.queue import app_queue
from views.common import explain, model_store, persist, stop_on_error
from views.lesson_code import LESSON_SPEC, code_panel

JOB_KEY = "tr_job"  # session key: the id of the job this user is watching
SESSION_KEY = "tr_session"  # session key: this browser session's id in the queue (one job per session)
LISTED_KEY = "tr_listed"  # session key: the finished job whose model the table below already lists

st.title("🏋️ Training lab")
st.caption("Train an autoencoder right here. Runs wait their turn in the class's training queue and train "
           "on a worker process, so the app stays quick for everyone; anyone who starts the same settings "
           "shares the same run.")
explain(
    "The curves below are the losses the model minimises, per epoch, on training and on held-out digits. A plain "
    "autoencoder minimises the reconstruction term alone (mean BCE per pixel); a VAE adds β times the KL "
    "divergence of its code cloud q(z|x) from the prior N(0, I), both summed per image in nats — at β = 1 the "
    "total is the negative ELBO, a bound on −log p(x).",
    r"\mathcal L(x)=\underbrace{-\sum_{i=1}^{784}\big[x_i\log\hat x_i+(1-x_i)\log(1-\hat x_i)\big]}_{\text{reconstruction}}"
    r"+\beta\,\underbrace{\tfrac12\sum_{d}\big(\mu_d^2+\sigma_d^2-\log\sigma_d^2-1\big)}_{\mathrm{KL}(q(z\mid x)\,\|\,\mathcal N(0,I))}",
    r"\beta=1:\quad \mathcal L(x)=-\mathrm{ELBO}(x)\ \ge\ -\log p(x)",
)
session = st.session_state.setdefault(SESSION_KEY, uuid.uuid4().hex)
queue = app_queue()  # the first visit starts this server's training worker: ready by the time Start is pressed

preset = st.selectbox("Start from", [*PRESETS, "Custom…"], key=persist("tr_preset"))
if preset != "Custom…":
    spec = PRESETS[preset]
    st.caption(f"Settings: {spec.label}, {spec.epochs} epochs, batch {spec.batch_size}.")
else:
    c1, c2, c3 = st.columns(3)
    kind = c1.selectbox("Model", KINDS, format_func=lambda k: KIND_NAMES[k] + (" (2-D code)" if k == "ae_2d" else ""), key=persist("tr_kind"))
    latent = c1.select_slider("Code size", [2, 4, 8, 16, 32, 64], value=2 if kind in ("vae", "ae_2d") else 16,
                              key=persist("tr_latent"), disabled=kind == "ae_2d")
    beta = c1.select_slider("β (KL weight)", [0.0, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0], value=1.0, key=persist("tr_beta"),
                            disabled=kind != "vae")
    noise = c1.slider("Training noise σ", 0.1, 1.0, 0.5, 0.1, key=persist("tr_noise"), disabled=kind != "denoise")
    epochs = c2.slider("Epochs", 1, 30, 5, key=persist("tr_epochs"))
    batch = c2.select_slider("Batch size", [32, 64, 128, 256, 512], value=128, key=persist("tr_batch"))
    lr = c2.select_slider("Learning rate", [1e-4, 3e-4, 1e-3, 3e-3], value=1e-3, key=persist("tr_lr"), format_func="{:g}".format)
    digits = c3.multiselect("Train only on these digits (empty = all)", list(range(10)), key=persist("tr_digits"))
    size = c3.select_slider("Training images (0 = all)", [0, 1000, 5000, 10000, 20000, 30000], value=10000, key=persist("tr_size"))
    with stop_on_error():
        spec = ModelSpec(kind, latent_dim=2 if kind == "ae_2d" else latent, beta=beta if kind == "vae" else 1.0,
                         noise_factor=noise if kind == "denoise" else 0.0, epochs=epochs, batch_size=batch,
                         learning_rate=lr, schedule="cosine", digits=tuple(digits), train_size=size)
if spec == LESSON_SPEC:  # exactly the lesson's recipe: its code, line by line, beside the settings
    with st.expander("The lesson's code for this model, line by line", expanded=True):
        code_panel("tr", here="views/train.py")

if st.button("▶ Start training", type="primary", key="tr_start"):
    with stop_on_error():
        require_full_mnist()  # without the full training set: the user's options now, not a failed run later
        st.session_state[JOB_KEY] = queue.submit(spec, session)


def cancel(job_id: str) -> None:
    """The Cancel button's callback: stop watching; the run stops too unless others watch it."""
    if not queue.cancel(job_id, session):
        st.session_state.pop(JOB_KEY, None)


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


@st.fragment(run_every=0.7)
def live_panel() -> None:
    """Polls the job a few times a second; only this fragment reruns while it waits or trains."""
    job_id = st.session_state.get(JOB_KEY)
    job = queue.job(job_id) if job_id is not None else None
    if job is None:
        st.info("Choose settings and press **Start training**.")
        return
    p = job.progress
    if job.state == "queued":
        st.info(f"Waiting in the training queue: **{job.position}** of {job.queued} · starts in about "
                f"{_minutes(job.wait_s)}.")
    elif job.state == "running" and job.cancelling:
        st.progress(min(p["fraction"], 1.0) if p else 0.0, text="Cancelling after the current step…")
    elif job.state == "running" and p is None:
        st.progress(0.0, text="Preparing data and compiling the model…")
    elif job.state == "running":
        st.progress(min(p["fraction"], 1.0), text=f"Epoch {p['epoch']}/{p['epochs']} · step {p['step']}/{p['steps']} · "
                                                 f"{p['elapsed']:.0f} s elapsed · about {p['remaining']:.0f} s left")
    elif job.state == "done":
        st.success(f"Done in {job.elapsed:.0f} s: **{name_of(job.spec)}** is saved and can be chosen on the other pages.")
        if st.session_state.get(LISTED_KEY) != job.id:  # once: the whole page reruns so the table lists it
            st.session_state[LISTED_KEY] = job.id
            st.rerun()
    elif job.state == "cancelled":
        st.warning("Cancelled. Nothing was saved.")
    else:
        st.error(job.error or "Training failed.")
    if job.note:
        st.caption(job.note[:1].upper() + job.note[1:])
    if job.active and not job.cancelling:
        st.button("■ Cancel", key="tr_cancel", on_click=cancel, args=(job.id,))
    if job.state == "queued":
        return

    left, right = st.columns([3, 2])
    with left:
        running = p["logs"] if (p is not None and not p["epoch_end"] and job.state == "running") else None
        st.plotly_chart(loss_curves(job.epochs, running, (p["epoch"] - 1 + p["step"] / p["steps"]) if p else None),
                        key="tr_losses", config={"displayModeBar": False})
    with right:
        if job.samples is not None:
            st.plotly_chart(image_grid([list(job.watch), list(job.samples)], ["test digit", "rebuilt"]),
                            key="tr_samples", config={"displayModeBar": False})
            st.caption(f"Reconstructions after epoch {len(job.epochs)}.")
        elif job.state == "running":
            st.caption("Reconstructions of test digits appear after the first epoch.")


live_panel()

st.subheader("Models on this server")
_job_id = st.session_state.get(JOB_KEY)
_job = queue.job(_job_id) if _job_id is not None else None
new_key = _job.spec.key if _job is not None and _job.state == "done" else None  # the model this session just trained
rows = []
for r in model_store().entries():
    m = r.get("metrics", {})
    recipe = r["spec"]
    rows.append({"": "✨ new" if r["key"] == new_key else "", "model": name_of(ModelSpec.from_dict(recipe)),
                 "where": "trained here" if r["location"] == "cache" else "ships with the app", "epochs": recipe.get("epochs"),
                 "batch": recipe.get("batch_size"), "learning rate": recipe.get("learning_rate"), "train s": r.get("train_seconds"),
                 "test BCE": m.get("test_bce"), "test −ELBO": m.get("test_neg_elbo"), "AUROC vs Fashion": m.get("auroc_fashion")})
rows.sort(key=lambda row: row[""] == "")  # the new model first (the rest stay newest first)
table = pd.DataFrame(rows)
if new_key is not None:  # the new model's row highlighted too
    table = table.style.apply(lambda row: ["background-color: #fff3c4" if row[""] else "" for _ in row], axis=1)
st.dataframe(table, hide_index=True, key="tr_models", height="content")  # every model at once, no inner scrolling

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
