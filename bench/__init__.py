"""promptcore benchmark: ``make bench`` or ``python -m bench.run --help``.

Starts what production runs (a fresh PostgreSQL database, ``promptcore db upgrade``,
``promptcore serve`` on gunicorn in the production environment) plus an OpenRouter stand-in
with configurable latency in its own process, drives them from a small asyncio load generator
on loopback (bounded in requests and time), and writes artifacts/bench/results.json and
artifacts/bench/results.png. Targets T1-T4 are those of issue 5.
"""
