"""`python -m cashup_tui` is the same as the `cashup` command."""

from cashup_tui.cli.main import run

run()
