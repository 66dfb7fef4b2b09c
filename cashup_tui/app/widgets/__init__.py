"""Widgets of the workstation used by several panes (charts)."""
