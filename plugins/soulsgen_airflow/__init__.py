"""Airflow adapters for SoulsGen's outside systems (TorchServe, X, Bluesky, Mastodon), configured by connections."""
