"""``python -m totpkit_server`` runs the ``totpkit`` command."""

from .cli import main

raise SystemExit(main())
