"""Demo-policy tooling for BAC Studio: episode loading, normaliser and the DP-T training script.

Everything here is specific to the waypoint-then-goal demo task (``src/sim``); the model and the
schedulers come from :mod:`bac_models` so that the trained weights export with ``bac_export.py``.
"""
