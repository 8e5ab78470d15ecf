"""Home: what Latent Lab is and how to use it in a class."""

import streamlit as st

from core.lab.presets import QUICK_TIME
from views.common import warm_up_in_background

warm_up_in_background()  # TensorFlow and the other pages' models load while the class reads this page

st.title("🧬 Latent Lab")
st.subheader("See what an autoencoder learns, by drawing for it")

st.markdown(
    """
An **autoencoder** is a network trained to copy its input through a narrow middle layer. Because
the middle (the *code*, or *latent* vector) is much smaller than the image, the network cannot copy
pixel by pixel: it has to find a compact description of what digits look like, and redraw from it.
A **variational autoencoder (VAE)** makes that code a probability distribution, which turns the
decoder into a generator of new digits.

Every model here was trained on the 60,000 handwritten digits of MNIST. The weights ship with the
app, so nothing is trained when you open a page.
"""
)

c1, c2 = st.columns(2)
with c1:
    st.markdown(
        """
#### Pages
- **🎓 Lesson mode** — the course lesson (sections 5.1–5.4) in seven steps, each with a live experiment,
  a question for the class and its answer; a presenter layout for the projector.
- **✏️ Draw** — draw a digit and watch three autoencoders rebuild it from their codes:
  the lesson's dense model, a convolutional model, and a VAE with only two latent numbers.
  See exactly what the models receive (your drawing cropped, scaled and centred like MNIST).
- **🧽 Denoise** — add Gaussian, salt-and-pepper or masking noise to a digit and compare one network
  trained on clean digits with the same network trained on noisy ones (and a dense-code conv AE), with
  PSNR and SSIM, and a sweep over noise levels.
- **🚨 Anomalies** — score MNIST, Fashion-MNIST, noise, rotated digits and your own drawing by
  reconstruction error; set a threshold and read precision, recall, the ROC curve and the mistakes.
- **🗺️ Latent space** — the 2-D latent maps of a VAE and a plain AE: move the pointer anywhere to decode (click to pin a point), new digits
  from the prior, interpolation, and the β trade-off.
- **📤 Upload** — photos or scans of your own digits, made MNIST-style step by step, rebuilt and placed
  on the latent map.
- **🏋️ Train** — train a model live (the quick preset takes """ + QUICK_TIME + """), watch the losses and the
  reconstructions improve, then use it on the Draw page.
"""
    )
    st.page_link("views/lesson.py", label="Start the lesson", icon="🎓")
    st.page_link("views/draw.py", label="Open the Draw page", icon="✏️")
with c2:
    st.markdown(
        """
#### Using it in a class
**🎓 Lesson mode** runs a 20-minute class on its own: switch on the presenter layout and press Next. Or:

1. Project the **Draw** page and ask a student to draw a 7. Compare the three reconstructions:
   which model keeps the crossbar? Why might a 2-number code lose it?
2. Draw something that is *not* a digit (a letter, a star). The lesson model and the VAE answer with
   something digit-like and their error jumps — the seed of anomaly detection — while the 64-number conv AE
   rebuilds even a star: a wide code lets almost anything through.
3. Switch on an MNIST test digit to compare your drawing with the data the models learned from.

Students can open the same address on their own laptops or phones; each gets their own canvas.
"""
    )

with st.expander("The models on this server"):
    from core.lab.zoo import SHIPPED
    from views.common import model_store, title

    rows = []
    for name, spec in SHIPPED.items():  # the one-class models are listed on the Train page
        record = model_store().record(spec) or {}
        m = record.get("metrics", {})
        rows.append({
            "model": title(name), "code size": spec.code_size, "epochs": spec.epochs,
            "training time (s)": record.get("train_seconds"),
            "test BCE / pixel": m.get("test_bce"), "test −ELBO (nats)": m.get("test_neg_elbo"),
            "MNIST vs Fashion AUROC": m.get("auroc_fashion"),
        })
    st.dataframe(rows, hide_index=True)
    st.caption("Metrics are measured on the 10,000 MNIST test images, which no model trained on.")
