"""Side-by-side benchmark of taskora (native API and Celery front) against Celery 5.x.

Run it with ``python -m bench`` (see bench/README.md). Nothing in the ``taskora`` package imports
this package; Celery is installed only for it (bench/requirements.txt).
"""
