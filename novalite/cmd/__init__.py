"""One module per binary."""
