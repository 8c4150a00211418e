"""`python -m envresolve`."""

from envresolve.cli import main

raise SystemExit(main())
