"""Allow ``python -m rnnrepro``."""

from rnnrepro.cli import main

raise SystemExit(main())
