"""The scaling benchmark of totpkit (``python -m bench`` / ``nox -s bench``); see ``bench/__main__.py``."""
