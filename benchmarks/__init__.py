"""repokit vs the raw drivers vs SQLAlchemy ORM sessions: workloads W1–W8 and scale checks.

Run ``uv run python -m benchmarks.runner --help``. Not collected by the test
run; ``tests/benchmarks/test_smoke.py`` runs every benchmark at a tiny N.
"""
