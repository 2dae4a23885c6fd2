"""The speaker: speech engines, clip packs, the player and the MQTT agent behind `clinicq speaker`."""
