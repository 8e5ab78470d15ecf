# Latent Lab: one Streamlit app server (CPU TensorFlow). For a class, run several behind nginx with
# deploy/compose.yaml (README "Deploying for a class").
#
#   docker build -t latent-lab .
#   docker run -p 8501:8501 -v /path/to/data:/data:ro latent-lab

# The Draw pad's in-browser runtime: onnxruntime-web from the npm registry, pinned by the lock file. Its
# postinstall (copy-runtime.mjs) copies the two files the pad loads into /app/static/ort/.
FROM node:20-slim AS pad-runtime
WORKDIR /app/views/canvas/web
COPY views/canvas/web/package.json views/canvas/web/package-lock.json views/canvas/web/copy-runtime.mjs ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    LATENT_LAB_DATA=/data \
    LATENT_LAB_CACHE=/var/cache/latent-lab/models

# A non-root user owns only the model cache; the code and shipped weights stay read-only to it.
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin lab \
    && mkdir -p /data /var/cache/latent-lab/models \
    && chown lab:lab /var/cache/latent-lab/models

WORKDIR /app
# requirements.txt installs tensorflow-cpu on Linux: no CUDA libraries in the image.
COPY requirements.txt ./
RUN pip install -r requirements.txt
COPY . .
# The runtime the pad loads; static/models/ is where the server publishes the Draw models' current ONNX
# files on its first Draw page (core/serving/browser.py), so that one folder is the lab user's.
COPY --from=pad-runtime /app/static/ort /app/static/ort
RUN mkdir -p /app/static/models && chown lab:lab /app/static/models

USER lab
EXPOSE 8501
# The slim image has no curl: ask Streamlit's health endpoint from Python.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; r = urllib.request.urlopen('http://localhost:8501/_stcore/health', timeout=4); sys.exit(r.read().strip() != b'ok')"]
# Settings for a class (upload limit, XSRF, no usage stats, headless) come from .streamlit/config.toml.
CMD ["streamlit", "run", "app.py", "--server.address=0.0.0.0", "--server.port=8501", "--server.fileWatcherType=none"]
