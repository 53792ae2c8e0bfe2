"""SoulsGen pipeline: game text -> corpus -> model (tokenizer included) -> evaluation -> quality gate -> MAR -> store.

Triggered from the UI or `airflow dags trigger soulsgen_pipeline -c '{"preset": "small"}'`.
Every task calls `soulsgen_lib.pipeline`; XCom carries the run's plan (a dict) and small summaries.
Nothing heavy is imported at parse time: the Google client and torch load inside the tasks.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, Param, PokeReturnValue, TriggerRule, dag, get_current_context, task, task_group

from soulsgen_lib.cloud import gce
from soulsgen_lib.gametext.catalog import CORPUS_KINDS
from soulsgen_lib.model.config import DEFAULT_PRESET, PRESETS
from soulsgen_lib.quality_gate import QualityFloors
from soulsgen_lib.settings import Settings

# Moved by `publish` only when the new version passed the quality gate (or was forced): a DAG
# scheduled on the model asset runs once per new `latest` model.
CORPUS_ASSET = Asset(name="soulsgen_corpus")
MODEL_ASSET = Asset(name="soulsgen_model")
MAR_ASSET = Asset(name="soulsgen_mar")

DOC_MD = """
### SoulsGen pipeline

Builds a new model version from game text and publishes it:

1. **plan_run** reads the Params once into the run's plan (version, sources, corpus filters, model
   recipe, VM); a bad Param fails here, before any work.
2. **build_corpus**: extract, clean, dedupe and split the game text; lexical report.
3. **train_local**, or **train_on_gce** (a GPU VM that deletes itself; the DAG deletes it too
   whenever a create was attempted). Training makes the tokenizer from `model_overrides`
   (`tokenizer`, `max_vocab`) on both backends.
4. **evaluate** against the test split and a markovify baseline; with `calibrate`, first pick the
   sampling temperatures for this corpus (stored beside the model, so the MAR serves them).
5. **quality_gate**: floors on the first-try pass rate (and MAUVE when measured); on the corpus of the
   current `latest`, no worse than `latest` on its test split. The verdict goes in the model card.
6. **package_mar**, then **publish**: corpus, model and MAR are stored under the version; the
   `latest` pointers (and the `soulsgen_corpus` / `soulsgen_model` / `soulsgen_mar` assets) move only
   when the gate passed or `force` is set. A failed gate fails the run and keeps its files.
7. **deploy** to TorchServe when `deploy` is set.

With the default form it builds from `DATASOURCE_DIR` (`make airflow` points it at the bundled sample data).
"""


def _settings() -> Settings:
    return Settings.load()


def _default_sources() -> list[str]:
    """The `source` Param's default: DATASOURCE_DIR as a one-item list the form can edit."""
    datasource = _settings().datasource_dir
    return [str(datasource)] if datasource else []


def _plan(data: dict):
    from soulsgen_lib.pipeline import RunPlan

    return RunPlan.from_dict(data)


def _google_credentials():
    """Credentials of the `google_cloud_default` connection."""
    from airflow.providers.google.common.hooks.base_google import GoogleBaseHook

    return GoogleBaseHook(gcp_conn_id="google_cloud_default").get_credentials()


def _zone_compute(job: dict):
    """The Compute Engine zone of a GCE training job, reached with `google_cloud_default` at COMPUTE_API_URL."""
    from soulsgen_lib.cloud.compute import ZoneCompute

    return ZoneCompute(job["project"], job["zone"], _google_credentials(), _settings().compute_api_url)


@dag(
    dag_id="soulsgen_pipeline",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["soulsgen"],
    doc_md=DOC_MD,
    params={
        "source": Param(
            _default_sources(),
            type="array",
            items={"type": "string"},
            title="Game text",
            description="Folders, files or gs:// prefixes of game text, one per line; empty uses DATASOURCE_DIR.",
        ),
        "games": Param([], type="array", items={"type": "string"}, description="Games to keep; empty keeps all."),
        "kinds": Param(
            list(CORPUS_KINDS), type="array", items={"type": "string"}, description="Kinds of table text to keep."
        ),
        "version": Param("", type="string", description="Version name; empty uses the run's start time."),
        "preset": Param(DEFAULT_PRESET, enum=list(PRESETS), description="Model size preset."),
        "steps": Param(0, type="integer", minimum=0, description="Training steps; 0 uses the preset's default."),
        "seed": Param(0, type="integer", description="Training seed."),
        "model_overrides": Param(
            {},
            type="object",
            description='Model or training fields to override, e.g. {"n_layer": 4, "tokenizer": "subword"}.',
        ),
        "training_backend": Param("local", enum=["local", "gce"], description="Train here or on a GPU VM."),
        "eval_sentences": Param(200, type="integer", minimum=10, description="Sentences generated for evaluation."),
        "calibrate": Param(
            False,
            type="boolean",
            description="Before evaluating, pick the sampling temperatures for this corpus (eval_sentences a"
            " trial, ten trials) and ship them with the model; checks part-of-speech fluency where spaCy's"
            " en_core_web_sm is installed.",
        ),
        "min_first_try_pass_rate": Param(
            QualityFloors.min_first_try_pass_rate,
            type="number",
            minimum=0,
            maximum=1,
            description="Quality gate: share of first drafts that pass the filters.",
        ),
        "min_mauve": Param(
            QualityFloors.min_mauve,
            type="number",
            minimum=0,
            maximum=1,
            description="Quality gate: MAUVE floor, when the evaluation measures it.",
        ),
        "force": Param(False, type="boolean", description="Move `latest` even when the quality gate fails."),
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
    """Build a new SoulsGen model version from game text and publish it (see the DAG docs)."""

    @task
    def plan_run() -> dict:
        from soulsgen_lib.pipeline import plan_run

        context = get_current_context()
        return plan_run(context["params"], context["dag_run"].run_after, _settings()).to_dict()

    @task
    def build_corpus(plan: dict) -> dict:
        from soulsgen_lib.pipeline import build_corpus_step

        return build_corpus_step(_plan(plan))

    @task.branch
    def choose_backend(plan: dict) -> str:
        return "train_local" if plan["backend"] == "local" else "train_on_gce.gce_job"

    @task
    def train_local(plan: dict) -> dict:
        from soulsgen_lib.pipeline import train_step

        return train_step(_plan(plan))

    @task_group
    def train_on_gce(plan: dict):
        """Train on a GPU VM; the VM is deleted whenever a create was attempted."""

        @task
        def gce_job(plan: dict) -> dict:
            from soulsgen_lib.pipeline import gce_job_step

            return gce_job_step(_plan(plan), _settings())

        @task
        def create_vm(job: dict) -> None:
            _zone_compute(job).create_instance(job["instance_body"])

        @task.sensor(poke_interval=120, timeout=gce.DEFAULT_MAX_RUN_SECONDS, mode="reschedule")
        def wait_for_model(plan: dict) -> PokeReturnValue:
            from soulsgen_lib.pipeline import remote_training_done

            return PokeReturnValue(is_done=remote_training_done(_plan(plan), _settings()))

        @task
        def fetch_model(plan: dict) -> dict:
            from soulsgen_lib.pipeline import fetch_remote_model_step

            return fetch_remote_model_step(_plan(plan), _settings())

        @task(retries=3)
        def delete_vm(job: dict) -> bool:
            return _zone_compute(job).delete_instance(job["instance_name"])

        job = gce_job(plan)
        created = create_vm(job)
        fetched = fetch_model(plan)
        created >> wait_for_model(plan) >> fetched
        # A teardown runs once any of its setups succeeded: with `gce_job` one of them, a create that
        # failed after Compute Engine accepted the insert is still followed by the delete (by name,
        # "not found" is fine). A failed deletion fails the run; with the local backend both are skipped.
        fetched >> delete_vm(job).as_teardown(setups=[job, created], on_failure_fail_dagrun=True)

    @task(trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    def evaluate(plan: dict) -> dict:
        from soulsgen_lib.pipeline import evaluate_step

        return evaluate_step(_plan(plan))

    @task
    def quality_gate(plan: dict) -> dict:
        from soulsgen_lib.pipeline import quality_gate_step

        return quality_gate_step(_plan(plan), _settings())

    @task
    def package_mar(plan: dict) -> str:
        from soulsgen_lib.pipeline import package_step

        return package_step(_plan(plan))

    @task(outlets=[CORPUS_ASSET, MODEL_ASSET, MAR_ASSET])
    def publish(plan: dict, verdict: dict) -> dict:
        from soulsgen_lib.pipeline import publish_step
        from soulsgen_lib.quality_gate import Verdict

        return publish_step(_plan(plan), _settings(), Verdict.from_dict(verdict))

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def deploy_requested(plan: dict) -> bool:
        return bool(plan["deploy"])

    @task
    def deploy(plan: dict) -> dict:
        from soulsgen_airflow.hooks import TorchServeHook

        from soulsgen_lib.pipeline import deploy_step

        management_url, token = TorchServeHook().management()
        return deploy_step(_plan(plan), _settings(), management_url, token)

    plan = plan_run()
    trained = [train_local(plan), train_on_gce(plan)]
    build_corpus(plan) >> choose_backend(plan) >> trained
    scorecard = evaluate(plan)
    trained >> scorecard
    verdict = quality_gate(plan)
    scorecard >> verdict
    published = publish(plan, verdict)
    verdict >> package_mar(plan) >> published
    published >> deploy_requested(plan) >> deploy(plan)


soulsgen_pipeline()
