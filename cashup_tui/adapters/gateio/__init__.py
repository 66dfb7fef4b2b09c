"""Gate.io USDT-settled futures v4: signing, frames, parsing, book sync, websocket connection."""
