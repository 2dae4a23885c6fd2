"""The device registry: kiosks, boards, speakers, keypads, LEDs, printers; their secrets (stored as
Mosquitto hashes), health and requests.

May import: common.
"""
