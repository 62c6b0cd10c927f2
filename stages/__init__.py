"""One module per DVC stage: a pure function plus a thin main(), run as `python -m stages.<name>`."""
