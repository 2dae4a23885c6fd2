"""The queue engine: issuing and numbering tickets, the calling policy, calls and transitions,
transfers, wait estimates and learned service times, kiosk number leases, reads for boards,
consoles and forecasts, ticket reprints.

May import: common, patients, devices.
"""
