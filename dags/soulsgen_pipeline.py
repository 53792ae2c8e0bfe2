"""SoulsGen pipeline: game text -> corpus -> tokenizer -> model -> evaluation -> bucket -> TorchServe MAR.

Triggered from the UI or `airflow dags trigger soulsgen_pipeline -c '{"preset": "small"}'`.
Every task calls `soulsgen_lib.pipeline`; XCom carries paths and small dicts only.
"""

from __future__ import annotations

import pendulum
from airflow.providers.google.cloud.operators.compute import (
    ComputeEngineDeleteInstanceOperator,
    ComputeEngineInsertInstanceOperator,
)
from airflow.providers.google.cloud.sensors.gcs import GCSObjectsWithPrefixExistenceSensor
from airflow.sdk import Param, TriggerRule, dag, get_current_context, task, task_group

from soulsgen_lib.cloud import gce


def _layout():
    """The run's folder, from the version the first task chose."""
    from soulsgen_lib.pipeline import RunLayout
    from soulsgen_lib.settings import Settings

    context = get_current_context()
    version = context["ti"].xcom_pull(task_ids="choose_version")
    return RunLayout(Settings.load().home, version), context["params"]


@dag(
    dag_id="soulsgen_pipeline",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["soulsgen"],
    params={
        "source": Param(
            [],
            type="array",
            items={"type": "string"},
            description="Folders, files or gs:// prefixes of game text; empty uses DATASOURCE_DIR.",
        ),
        "version": Param("", type="string", description="Version name; empty uses the run's start time."),
        "preset": Param("small", enum=["tiny", "small", "seed"], description="Model size preset."),
        "steps": Param(0, type="integer", minimum=0, description="Training steps; 0 uses the preset's default."),
        "seed": Param(0, type="integer", description="Training seed."),
        "model_overrides": Param(
            {},
            type="object",
            description='Model or training fields to override, e.g. {"n_layer": 4, "tokenizer": "subword"}.',
        ),
        "training_backend": Param("local", enum=["local", "gce"], description="Train here or on a GPU VM."),
        "eval_sentences": Param(200, type="integer", minimum=10, description="Sentences generated for evaluation."),
        "deploy": Param(False, type="boolean", description="Register the new MAR with a running TorchServe."),
        "gce_zone": Param("europe-west4-a", type="string"),
        "gce_machine_type": Param(gce.DEFAULT_MACHINE_TYPE, type="string"),
        "gce_accelerator_type": Param(gce.DEFAULT_ACCELERATOR_TYPE, type="string"),
        "gce_accelerator_count": Param(1, type="integer", minimum=1),
        "gce_image": Param(gce.DEFAULT_VM_IMAGE, type="string"),
        "gce_boot_disk_gb": Param(gce.DEFAULT_BOOT_DISK_GB, type="integer", minimum=30),
        "gce_service_account": Param("default", type="string", description="Service account email of the VM."),
        "trainer_tag": Param("latest", type="string", description="Tag of the soulsgen-trainer image."),
    },
)
def soulsgen_pipeline():
    """Build a new SoulsGen model version from game text and publish it.

    extract & clean -> corpus + lexical report -> tokenizer -> train (local, or a GCE GPU VM) ->
    evaluate -> package the MAR -> publish corpus, model and MAR (the `latest` pointers move last) ->
    optionally deploy to TorchServe.
    """

    @task
    def choose_version() -> str:
        from soulsgen_lib.pipeline import version_for_run

        context = get_current_context()
        return version_for_run(context["dag_run"].run_after, context["params"]["version"])

    @task
    def build_corpus(version: str) -> dict:
        from soulsgen_lib.pipeline import build_corpus_step, resolve_sources
        from soulsgen_lib.settings import Settings

        layout, params = _layout()
        return build_corpus_step(layout, resolve_sources(params["source"], Settings.load(), layout))

    @task
    def train_tokenizer(corpus: dict) -> str:
        from soulsgen_lib.pipeline import train_tokenizer_step

        layout, params = _layout()
        return train_tokenizer_step(layout, params["model_overrides"].get("tokenizer", ""))

    @task.branch
    def choose_backend(tokenizer: str) -> str:
        backend = get_current_context()["params"]["training_backend"]
        return "train_local" if backend == "local" else "train_on_gce.gce_job"

    @task
    def train_local() -> dict:
        from soulsgen_lib.pipeline import train_step

        layout, params = _layout()
        return train_step(layout, params["preset"], params["steps"], params["seed"], params["model_overrides"])

    @task_group
    def train_on_gce():
        """Train on a GPU VM; the VM is deleted whatever happens."""

        @task
        def gce_job() -> dict:
            from soulsgen_lib.pipeline import gce_job_step
            from soulsgen_lib.settings import Settings

            layout, params = _layout()
            return gce_job_step(layout, Settings.load(), params)

        job = gce_job()
        create_vm = ComputeEngineInsertInstanceOperator(
            task_id="create_vm",
            zone="{{ params.gce_zone }}",
            project_id="{{ ti.xcom_pull(task_ids='train_on_gce.gce_job')['project'] }}",
            body=job["instance_body"],
        )
        wait_for_model = GCSObjectsWithPrefixExistenceSensor(
            task_id="wait_for_model",
            bucket="{{ ti.xcom_pull(task_ids='train_on_gce.gce_job')['bucket'] }}",
            prefix="{{ ti.xcom_pull(task_ids='train_on_gce.gce_job')['marker_prefix'] }}",
            deferrable=True,
            poke_interval=120,
            timeout=gce.DEFAULT_MAX_RUN_SECONDS,
        )
        delete_vm = ComputeEngineDeleteInstanceOperator(
            task_id="delete_vm",
            zone="{{ params.gce_zone }}",
            project_id="{{ ti.xcom_pull(task_ids='train_on_gce.gce_job')['project'] }}",
            resource_id="{{ ti.xcom_pull(task_ids='train_on_gce.gce_job')['instance_name'] }}",
            retries=3,
        )

        @task
        def fetch_model() -> dict:
            from soulsgen_lib.pipeline import fetch_remote_model_step
            from soulsgen_lib.settings import Settings

            layout, _ = _layout()
            return fetch_remote_model_step(layout, Settings.load())

        # A teardown runs once its setup ran, whatever failed in between: a failed or timed-out
        # run cannot leak a paid GPU VM (and a failed deletion fails the run); with the local
        # backend both are skipped.
        (
            job
            >> create_vm
            >> wait_for_model
            >> fetch_model()
            >> delete_vm.as_teardown(setups=create_vm, on_failure_fail_dagrun=True)
        )

    @task(trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    def evaluate() -> dict:
        from soulsgen_lib.pipeline import evaluate_step

        layout, params = _layout()
        return evaluate_step(layout, params["eval_sentences"])

    @task
    def package_mar(scorecard: dict) -> str:
        from soulsgen_lib.pipeline import package_step

        layout, _ = _layout()
        return package_step(layout)

    @task
    def publish(mar: str) -> dict:
        from soulsgen_lib.pipeline import publish_step
        from soulsgen_lib.settings import Settings

        layout, _ = _layout()
        return publish_step(layout, Settings.load())

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def deploy_requested(published: dict) -> bool:
        return bool(get_current_context()["params"]["deploy"])

    @task
    def deploy(published: dict) -> dict:
        from soulsgen_airflow.hooks import TorchServeHook

        from soulsgen_lib.pipeline import deploy_step
        from soulsgen_lib.settings import Settings

        layout, _ = _layout()
        management_url, token = TorchServeHook().management()
        return deploy_step(layout, Settings.load(), management_url, token)

    version = choose_version()
    tokenizer = train_tokenizer(build_corpus(version))
    trained = [train_local(), train_on_gce()]
    choose_backend(tokenizer) >> trained
    scorecard = evaluate()
    trained >> scorecard
    published = publish(package_mar(scorecard))
    deploy_requested(published) >> deploy(published)


soulsgen_pipeline()
