"""``python -m reference.oracle check ...``: see :mod:`reference.oracle.cli`."""
from reference.oracle.cli import main

raise SystemExit(main())
