"""Posting generated sentences to X: credentials, checks, budget, retries and history."""
