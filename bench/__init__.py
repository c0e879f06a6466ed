"""tokengate's benchmarks: ``python -m bench`` (``make bench``).

A benchmark, not a test: it reports figures against the targets and never fails on a number.
Everything runs on loopback against the embedded AWS emulator (tokengate.emulator); run counts come from
the environment (see :mod:`bench.common`), ``BENCH_QUICK=1`` gives a smoke run in about 4 minutes.
"""
