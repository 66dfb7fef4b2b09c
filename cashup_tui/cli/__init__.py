"""Command-line front end (typer). Headless commands never import textual."""
