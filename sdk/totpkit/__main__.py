"""``python -m totpkit`` is the ``totpkit`` command (the server's CLI; see :mod:`totpkit._cli`)."""

from ._cli import main

raise SystemExit(main())
