"""The compiled part of the build; everything else is declared in pyproject.toml.

`log_metric`'s fast path (`ingest/_hot_path.c`, see `ingest/hot_path.py`) is optional: without a
C compiler the install still succeeds and logs through the pure-Python closure. (setuptools'
`ext-modules` table in pyproject.toml would do the same but is still experimental, and warns.)
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("ingest._hot_path", sources=["ingest/_hot_path.c"], optional=True)])
