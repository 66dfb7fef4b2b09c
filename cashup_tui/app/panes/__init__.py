"""Panes: one module per area of the workstation."""
