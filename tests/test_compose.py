"""docker-compose.yaml cannot run here (no Docker engine): check its shape instead."""

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
        assert env["AIRFLOW_CONN_SOULSGEN_TORCHSERVE"] == "http://torchserve:8080"
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
    assert torchserve["image"].startswith("pytorch/torchserve:0.12")
    assert "/artifacts/model-store" in torchserve["command"]
    assert "artifacts:/artifacts:ro" in torchserve["volumes"]
    config_mount = next(v for v in torchserve["volumes"] if v.endswith("config.properties:ro"))
    assert (ROOT / config_mount.split(":")[0]).is_file()
    assert all(port.startswith("127.0.0.1:") for port in torchserve["ports"])
    assert set(compose["volumes"]) == {"postgres-db", "artifacts"}
