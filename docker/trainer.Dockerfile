# soulsgen-trainer: the image a Compute Engine GPU VM runs for the pipeline's `gce` training backend.
# Build and push from the repository root:
#   docker build -f docker/trainer.Dockerfile -t "$CONTAINER_REG/soulsgen-trainer:$TAG" .
#   docker push "$CONTAINER_REG/soulsgen-trainer:$TAG"
# The VM runs: python -m soulsgen_lib.cloud.train_job --store gs://... --version ... (see soulsgen_lib/cloud).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /opt/soulsgen
# Dependencies first: this layer is reused until the pins change.
COPY docker/trainer-requirements.txt ./
RUN pip install -r trainer-requirements.txt

COPY pyproject.toml README.md ./
COPY soulsgen_lib ./soulsgen_lib
RUN pip install --no-deps . && rm -rf build ./*.egg-info

RUN useradd --create-home --uid 1000 trainer
USER trainer
WORKDIR /home/trainer
CMD ["python", "-m", "soulsgen_lib.cloud.train_job", "--help"]
