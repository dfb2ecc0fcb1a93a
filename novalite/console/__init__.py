"""Remote consoles: one-time tokens and the serial console websocket proxy."""
