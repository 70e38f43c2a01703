"""Command-line scripts: training, comparison, benchmarks, data.

Each ``scripts/<name>.py`` is a thin entry point (``python -m scripts.<name>``)
over the library in :mod:`scripts.lib`; no entry point imports another, and
importing this package changes nothing in the process (the entry points call
:func:`scripts.lib.process.tune_process` themselves).
"""
