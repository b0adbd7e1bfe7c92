"""A pytest plugin loaded with `-p` before pytest-django imports the settings.

Tests run over plain HTTP on loopback, and get a throw-away key: set them here, where
they take effect before Django reads its settings.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-only-" + "k" * 50)
os.environ.setdefault("HTTPS", "0")
