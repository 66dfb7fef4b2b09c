"""The simulated Gate venue: matching, fees, margin, liquidation; market generator; loopback server."""
