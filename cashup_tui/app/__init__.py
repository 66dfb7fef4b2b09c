"""The Textual workstation. Imported only when the TUI opens (never on headless paths)."""
