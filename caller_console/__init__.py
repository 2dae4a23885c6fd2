"""The calling console: the /console page (served by the hub) and the keyboard-only terminal client."""
