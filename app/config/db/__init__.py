"""PostgreSQL database backend of the app (``ENGINE = "config.db"``): Django's own, plus a
fallback password for zero-downtime password rotation. See ``base.py``.
"""
