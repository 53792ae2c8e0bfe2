"""docker-compose.yaml cannot run here (no Docker engine): check that it is the topology the process stack runs."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from types import SimpleNamespace

import yaml

from soulsgen_lib.stack.compose import COMPOSE_FILE, render_compose
from soulsgen_lib.stack.processes import launches, stack_environment
from soulsgen_lib.stack.topology import AIRFLOW_SERVICES, ROOT, WORKERS, StackConfig, compose_placement
from soulsgen_lib.stack.torchserve import PROPERTIES_FILE, read_properties

AIRFLOW_ALL = (*AIRFLOW_SERVICES, *(worker.name for worker in WORKERS))
# The only environment values that may differ between Docker and processes: where things are.
PLACE_KEYS = {
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CELERY__RESULT_BACKEND",
    "AIRFLOW__CELERY__BROKER_URL",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__CORE__PLUGINS_FOLDER",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
    "AIRFLOW__API__HOST",
    "AIRFLOW__API__PORT",
    "AIRFLOW__API__BASE_URL",
    "PYTHONPATH",
    "SOULSGEN_HOME",
    "DATASOURCE_DIR",
    "AIRFLOW_CONN_SOULSGEN_TORCHSERVE",
}


def load_compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def interpolate(value: str, dotenv: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} with the values of a .env file."""

    def one(match: re.Match) -> str:
        name, operator, rest = match.group(1), match.group(2), match.group(3)
        if dotenv.get(name):
            return dotenv[name]
        assert operator != ":?", f"compose would refuse to start without {name}: {rest}"
        return rest or ""

    return re.sub(r"\$\{(\w+)(?:(:-|:\?)([^}]*))?\}", one, value)


def test_compose_file_is_rendered_from_the_topology():
    assert COMPOSE_FILE.read_text() == render_compose(), "run `soulsgen stack compose --write`"


def test_compose_and_process_stack_run_the_same_services_and_commands(tmp_path):
    services = load_compose()["services"]
    assert set(services) == {"postgres", "redis", "airflow-init", "torchserve", *AIRFLOW_ALL}
    processes = {launch.name: launch for launch in launches(StackConfig(tmp_path, executor="celery"), "/tmp/x")}
    # PostgreSQL and Redis are this machine's own services; airflow-init is `up`'s migration step.
    assert set(processes) == set(services) - {"postgres", "redis", "airflow-init"}
    for name in AIRFLOW_ALL:
        assert services[name]["command"] == list(processes[name].command)
    assert services["airflow-init"]["command"] == ["airflow", "db", "migrate"]
    for worker in WORKERS:
        assert services[worker.name]["profiles"] == ["celery"]
        assert services[worker.name]["command"][3:5] == ["--queues", "default,train"]
    assert services["redis"]["profiles"] == ["celery"]
    assert set(launches(StackConfig(tmp_path, executor="local"), "/tmp/x")[i].name for i in range(5)) == {
        *AIRFLOW_SERVICES,
        "torchserve",
    }


def test_airflow_services_share_one_environment_equal_to_the_process_stacks(tmp_path, monkeypatch):
    compose = load_compose()
    services = compose["services"]
    dotenv = {"POSTGRES_PASSWORD": "pw", "AIRFLOW_JWT_SECRET": "jwt-secret", "AIRFLOW_EXECUTOR": "CeleryExecutor"}
    env_file = tmp_path / ".env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in dotenv.items()))
    for key in ("AIRFLOW_JWT_SECRET", "POSTGRES_PASSWORD", "PYTHONPATH"):
        monkeypatch.delenv(key, raising=False)
    process_env = stack_environment(StackConfig(tmp_path / "home", executor="celery"), env_file)
    for name in ("airflow-init", *AIRFLOW_ALL):
        service = services[name]
        assert service["environment"] == compose["x-airflow-env"]
        assert service["image"] == "soulsgen-airflow:latest"
        assert (ROOT / service["build"]["dockerfile"]).is_file()
        assert {"path": ".env", "required": False} in service["env_file"]
    compose_env = {key: interpolate(str(value), dotenv) for key, value in compose["x-airflow-env"].items()}
    for key, value in compose_env.items():
        if key not in PLACE_KEYS:
            assert process_env[key] == value, key
    assert process_env["AIRFLOW__API_AUTH__JWT_SECRET"] == "jwt-secret"
    assert process_env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    # Places differ, but both name a PostgreSQL database with the .env password and the same TorchServe keys.
    for env in (compose_env, process_env):
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
        assert ":pw@" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql+psycopg2://")
        connection = json.loads(env["AIRFLOW_CONN_SOULSGEN_TORCHSERVE"])
        assert connection["extra"]["key_file"].endswith("/key_file.json")
        assert "password" not in connection  # tokens are read from TorchServe's key file, never written here


def test_volumes_map_the_places_the_process_stack_uses(tmp_path):
    compose = load_compose()
    container, local = compose_placement(), StackConfig(tmp_path / "home").placement()
    mounts = {}
    for volume in compose["x-airflow-volumes"]:
        source, target = volume.removesuffix(":ro").rsplit(":", 1)
        mounts[target] = source
    expected = {
        "dags_folder": (ROOT / "dags", "./dags"),
        "plugins_folder": (ROOT / "plugins", "./plugins"),
        "config_folder": (ROOT / "docker" / "airflow-config", "./docker/airflow-config"),
        "soulsgen_home": ((tmp_path / "home").resolve(), "artifacts"),
        "datasource_dir": (ROOT / "sample_data", "${GAMEDATA_DIR:-./sample_data}"),
    }
    for place, (local_path, compose_source) in expected.items():
        assert mounts[getattr(container, place)] == compose_source, place
        assert Path(getattr(local, place)) == local_path, place
    key_folder = str(Path(container.torchserve_key_file).parent)
    assert mounts[key_folder] == "torchserve-keys"
    torchserve = compose["services"]["torchserve"]
    assert torchserve["working_dir"] == key_folder  # TorchServe writes key_file.json where Airflow reads it
    assert "torchserve-keys:/opt/soulsgen/torchserve:ro" in compose["x-airflow-volumes"]  # Airflow only reads
    assert "artifacts:/opt/soulsgen/artifacts" in torchserve["volumes"]
    assert set(compose["volumes"]) == {"postgres-db", "artifacts", "torchserve-keys"}


def test_only_loopback_ports_reach_the_host_and_secrets_come_from_dotenv():
    compose = load_compose()
    services = compose["services"]
    published = {name: service["ports"] for name, service in services.items() if "ports" in service}
    assert published == {
        "airflow-apiserver": ["${AIRFLOW_API_BIND:-127.0.0.1}:${AIRFLOW_API_PORT:-8080}:8080"],
        # Inference only: management (8081) and metrics (8082) stay on the compose network.
        "torchserve": ["127.0.0.1:${TORCHSERVE_PORT:-8090}:8080"],
    }
    postgres = services["postgres"]["environment"]
    assert postgres["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert postgres["POSTGRES_USER"] == "${POSTGRES_USER:-airflow}"
    assert compose["x-airflow-env"]["AIRFLOW__API_AUTH__JWT_SECRET"].startswith("${AIRFLOW_JWT_SECRET:?")
    text = COMPOSE_FILE.read_text()
    assert "TWITTER_" not in text and "airflow:airflow@" not in text


def test_torchserve_properties_lock_the_server_down():
    properties = read_properties()
    assert properties["disable_token_authorization"] == "false"
    assert properties["model_store"] == "/opt/soulsgen/artifacts/model-store"
    # Java properties unescape `\\` once: the pattern TorchServe sees admits only MARs inside the model store.
    allowed = properties["allowed_urls"].replace("\\\\", "\\")
    assert re.fullmatch(allowed, "file:///opt/soulsgen/artifacts/model-store/soulsgen-v1.mar")
    for url in ("http://evil.example/x.mar", "https://evil.example/x.mar", "file:///etc/x.mar"):
        assert not re.fullmatch(allowed, url), url
    command = load_compose()["services"]["torchserve"]["command"][-1]
    assert f"--ts-config /opt/soulsgen/docker/{PROPERTIES_FILE.name}" in command
    assert "--model-store /opt/soulsgen/artifacts/model-store" in command
    dockerfile = (ROOT / "docker" / "airflow.Dockerfile").read_text()
    assert "COPY docker/torchserve.properties ./docker/" in dockerfile
    assert "COPY serve" not in dockerfile and " -e ." not in dockerfile  # the handler ships in the package
    assert "openjdk-17" in dockerfile


def test_cluster_policy_sends_training_to_the_train_queue():
    path = ROOT / "docker" / "airflow-config" / "airflow_local_settings.py"
    spec = importlib.util.spec_from_file_location("stack_airflow_local_settings", path)
    policy = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(policy)
    train = SimpleNamespace(dag_id="soulsgen_pipeline", task_id="train_local", queue="default")
    evaluate = SimpleNamespace(dag_id="soulsgen_pipeline", task_id="evaluate", queue="default")
    policy.task_policy(train)
    policy.task_policy(evaluate)
    assert (train.queue, evaluate.queue) == ("train", "default")
    assert all("train" in worker.queues for worker in WORKERS)


def test_the_stacks_torchserve_connection_gives_the_hook_the_key_files_tokens(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "plugins"))  # as Airflow loads plugins/
    from soulsgen_airflow.hooks import TorchServeHook

    key_file = tmp_path / "key_file.json"
    key_file.write_text(
        json.dumps({"management": {"key": "m-key"}, "inference": {"key": "i-key"}, "API": {"key": "a"}})
    )
    connection = json.loads(load_compose()["x-airflow-env"]["AIRFLOW_CONN_SOULSGEN_TORCHSERVE"])
    connection["extra"]["key_file"] = str(key_file)
    monkeypatch.setenv("AIRFLOW_CONN_SOULSGEN_TORCHSERVE", json.dumps(connection))
    hook = TorchServeHook()
    assert hook.management() == ("http://torchserve:8081", "m-key")
    assert hook.get_conn().endpoint == "http://torchserve:8080"  # its inference token: the key file's
