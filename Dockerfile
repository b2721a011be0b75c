# The video bot. Two targets (`docker compose build`; see docs/deploy.md):
#   full (the default, the last stage): the bot with its GPU engine, for one machine with one NVIDIA
#       GPU; with its command set to `videobot-worker`, the GPU worker of a scaled-out deployment.
#   bot (`--target bot`): the bot without torch, diffusers or the CUDA libraries, for a scaled-out
#       deployment where GPU workers take the jobs from Redis (QUEUE_URL). A few hundred MB, not GBs.
#
# Base: python slim rather than nvidia/cuda. Linux torch wheels carry their CUDA runtime, cuBLAS and
# cuDNN as pip packages, and the NVIDIA Container Toolkit mounts the host's driver at run time, so a
# CUDA base image would only add a second, unused copy of those libraries (several GB).
# Every package comes from the lock in requirements/ (`python3 requirements/update.py`), hash-checked:
# the versions CI tested. torch is PyPI's Linux build of the tested version, made for CUDA 13.0, which
# needs NVIDIA driver 580 or newer. For an older driver, take the same torch version built for an older
# CUDA from PyTorch's index instead (not hash-checked; see docs/deploy.md), e.g.
#   --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126
# Never a "+cpu" build: that is the test environment's torch, not the image's.

ARG PYTHON_VERSION=3.12

FROM python:${PYTHON_VERSION}-slim-bookworm AS wheel
WORKDIR /src
COPY pyproject.toml ./
COPY bot/ bot/
COPY generation/ generation/
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /dist .

# What both targets share: the virtual environment, the user, the volumes, the health check.
FROM python:${PYTHON_VERSION}-slim-bookworm AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv

# /data is a volume for the SQLite database and the finished videos, /data/hf a second one for the
# model cache (tens of GB, safe to drop). Created here so that new volumes inherit this ownership.
RUN useradd --no-log-init --create-home --uid 10001 --user-group videobot \
    && mkdir -p /data/hf /data/outputs \
    && chown -R videobot:videobot /data
ENV HF_HOME=/data/hf \
    DATABASE_PATH=/data/videobot.sqlite3 \
    OUTPUT_DIR=/data/outputs \
    HEALTH_PORT=8080 \
    HEALTH_HOST=0.0.0.0
WORKDIR /data

EXPOSE 8080
# Model loading (and a first download) can take minutes; failures in that window do not count.
HEALTHCHECK --interval=30s --timeout=10s --start-period=10m --retries=3 CMD ["python", "-m", "bot.healthcheck"]

# CMD, not ENTRYPOINT: `docker compose run --rm bot python -m generation download` must replace it.
CMD ["videobot"]

# The bot alone: the core dependencies (requirements/bot-image.txt), no torch, no CUDA libraries.
# It needs QUEUE_URL: without it the bot would start a GPU worker of its own, which this image cannot run.
FROM base AS bot
COPY requirements/bot-image.txt /tmp/requirements/
RUN pip install --no-cache-dir --require-hashes --no-deps -r /tmp/requirements/bot-image.txt \
    && rm -r /tmp/requirements
COPY --from=wheel /dist/ /tmp/dist/
RUN pip install --no-cache-dir --no-deps /tmp/dist/*.whl && pip check && rm -rf /tmp/dist
USER 10001:10001

# The bot with its GPU engine (and the GPU worker's image): the default target.
FROM base AS full
ENV NVIDIA_DRIVER_CAPABILITIES=compute,utility

# Layers from the slowest-changing down: torch and its CUDA libraries (GBs), the other dependencies,
# then our code. --no-deps: the lock lists every package, and `pip check` below proves none is missing.
ARG TORCH_INDEX_URL=
COPY requirements/torch-cuda.txt /tmp/requirements/
RUN if [ -z "${TORCH_INDEX_URL}" ]; then \
        pip install --no-cache-dir --require-hashes --no-deps -r /tmp/requirements/torch-cuda.txt; \
    else \
        pip install --no-cache-dir --index-url "${TORCH_INDEX_URL}" \
            "$(grep -o '^torch==[^ ]*' /tmp/requirements/torch-cuda.txt)"; \
    fi

COPY requirements/image.txt /tmp/requirements/
RUN pip install --no-cache-dir --require-hashes --no-deps -r /tmp/requirements/image.txt \
    && rm -r /tmp/requirements

# Installed as a wheel (not editable, no source tree in the image): the code that runs is the code built.
COPY --from=wheel /dist/ /tmp/dist/
RUN pip install --no-cache-dir --no-deps /tmp/dist/*.whl && pip check && rm -rf /tmp/dist
USER 10001:10001

# Optional: bake the model into the image for hosts without Hub access
# (`docker compose build --build-arg PRELOAD_MODEL=damo-vilab/text-to-video-ms-1.7b`).
ARG PRELOAD_MODEL=
RUN if [ -n "${PRELOAD_MODEL}" ]; then python -m generation download --model "${PRELOAD_MODEL}"; fi
