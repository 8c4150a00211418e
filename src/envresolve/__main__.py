"""`python -m envresolve`."""

from envresolve.cli import console_main

console_main()
