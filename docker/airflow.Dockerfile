# The image of docker-compose.yaml's Airflow and TorchServe services: the pinned stack plus the project,
# Java 17 for TorchServe and its archiver.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends openjdk-17-jre-headless git \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/soulsgen
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY pyproject.toml README.md ./
COPY soulsgen_lib ./soulsgen_lib
COPY docker/torchserve.properties ./docker/
# The TorchServe handler ships inside the package (soulsgen_lib/serving/handler.py): a plain install serves.
RUN pip install --no-cache-dir --no-deps --no-build-isolation .
ENV AIRFLOW_HOME=/opt/airflow PYTHONUNBUFFERED=1
WORKDIR /opt/airflow
