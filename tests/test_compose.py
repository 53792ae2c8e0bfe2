"""docker-compose.yaml cannot run here (no Docker engine): check its shape instead."""

import json
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")


def load_compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def test_services_cover_airflow_postgres_and_torchserve():
    services = load_compose()["services"]
    assert set(services) >= {"postgres", "airflow-init", "torchserve", *AIRFLOW_SERVICES}
    commands = {name: services[name]["command"] for name in AIRFLOW_SERVICES}
    assert commands == {
        "airflow-apiserver": ["airflow", "api-server"],
        "airflow-scheduler": ["airflow", "scheduler"],
        "airflow-dag-processor": ["airflow", "dag-processor"],
        "airflow-triggerer": ["airflow", "triggerer"],
    }
    assert services["airflow-init"]["command"] == ["airflow", "db", "migrate"]


def test_airflow_services_share_the_project_image_env_and_volumes():
    services = load_compose()["services"]
    for name in AIRFLOW_SERVICES:
        service = services[name]
        assert service["image"] == "soulsgen-airflow:latest"
        assert service["build"]["dockerfile"] == "docker/airflow.Dockerfile"
        assert (ROOT / service["build"]["dockerfile"]).is_file()
        env = service["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
        assert "@postgres/" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert env["SOULSGEN_HOME"] == "/opt/soulsgen/artifacts"
        torchserve = json.loads(env["AIRFLOW_CONN_SOULSGEN_TORCHSERVE"])
        assert (torchserve["host"], torchserve["port"]) == ("torchserve", 8080)
        assert torchserve["extra"]["management_url"] == "http://torchserve:8081"
        assert env["AIRFLOW__API_AUTH__JWT_SECRET"].startswith("${AIRFLOW_JWT_SECRET:?")
        assert {"path": ".env", "required": False} in service["env_file"]
        mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in service["volumes"]}
        assert mounts["/opt/airflow/dags"] == "./dags"
        assert mounts["/opt/airflow/plugins"] == "./plugins"
        assert mounts["/opt/soulsgen/artifacts"] == "artifacts"
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy"
    # No secret is written into the file itself: X and GCP credentials come from .env.
    text = (ROOT / "docker-compose.yaml").read_text()
    assert "TWITTER_" not in text


def test_torchserve_serves_the_pipeline_model_store():
    compose = load_compose()
    torchserve = compose["services"]["torchserve"]
    # The project image: it carries Java, TorchServe and everything the handler imports (tokenizers).
    assert torchserve["image"] == "soulsgen-airflow:latest"
    command = torchserve["command"][-1]
    assert "--model-store /opt/soulsgen/artifacts/model-store" in command
    assert "--ts-config /opt/soulsgen/docker/torchserve.properties" in command
    assert "artifacts:/opt/soulsgen/artifacts" in torchserve["volumes"]
    dockerfile = (ROOT / "docker" / "airflow.Dockerfile").read_text()
    assert "COPY docker/torchserve.properties ./docker/" in dockerfile
    assert "COPY serve ./serve" in dockerfile  # `soulsgen package` needs serve/handler.py
    assert "openjdk-17" in dockerfile
    assert all(port.startswith("127.0.0.1:") for port in torchserve["ports"])
    assert set(compose["volumes"]) == {"postgres-db", "artifacts"}
