"""Expectation suite files (``<suite_name>.json``), installed as ``funnel_pipeline.expectations``.

One Great Expectations suite per checked table; every expectation carries
``meta.check_name``, ``meta.severity`` and ``meta.description``. The format is documented
in ``funnel_pipeline/quality/__init__.py``; ``funnel_pipeline.quality.load_suite`` reads
these files. This ``__init__`` exists so ``importlib.resources`` can find the folder.
"""
