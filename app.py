"""Latent Lab: the entry point only routes (`streamlit run app.py`)."""

import streamlit as st

st.set_page_config(page_title="Latent Lab", page_icon="🧬", layout="wide")

pages = [
    st.Page("views/home.py", title="Home", icon="🏠", default=True),
    st.Page("views/lesson.py", title="Lesson mode", icon="🎓", url_path="lesson"),
    st.Page("views/draw.py", title="Draw", icon="✏️", url_path="draw"),
    st.Page("views/denoise.py", title="Denoise", icon="🧽", url_path="denoise"),
    st.Page("views/anomaly.py", title="Anomalies", icon="🚨", url_path="anomaly"),
    st.Page("views/latent.py", title="Latent space", icon="🗺️", url_path="latent"),
    st.Page("views/train.py", title="Train", icon="🏋️", url_path="train"),
    st.Page("views/upload.py", title="Upload", icon="📤", url_path="upload"),
]
st.navigation(pages).run()
