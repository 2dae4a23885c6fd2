"""Slips printed by the hub on the printers of rooms and counters (ESC/POS raster, as the kiosk prints)."""
