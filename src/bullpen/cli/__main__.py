"""`python -m bullpen.cli`."""

from bullpen.cli import app

app()
