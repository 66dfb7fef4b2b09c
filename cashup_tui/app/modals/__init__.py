"""Modal screens: order ticket, confirmations, kill switch, symbol search, help."""
