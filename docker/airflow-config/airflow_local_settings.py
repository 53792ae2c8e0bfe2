"""Airflow cluster policy of the deployed stack (on every Airflow process's PYTHONPATH).

Training goes to the `train` queue, so that a worker on a GPU host can take it alone; every
other task stays on the default queue. Executors without queues (LocalExecutor) ignore it.
"""

from __future__ import annotations

from soulsgen_lib.stack.topology import TRAIN_QUEUE

TRAINING_TASKS = {("soulsgen_pipeline", "train_local")}


def task_policy(task) -> None:
    """Route the pipeline's training task to the train queue."""
    if (task.dag_id, task.task_id) in TRAINING_TASKS:
        task.queue = TRAIN_QUEUE
