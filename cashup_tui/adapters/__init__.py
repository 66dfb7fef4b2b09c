"""Adapters: the outside world (Gate.io websocket, ccxt REST, simulator, notifications, files)."""
