"""Airflow adapters for SoulsGen's outside systems: TorchServe and X, configured by connections."""
