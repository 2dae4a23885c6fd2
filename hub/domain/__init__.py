"""The domain: one package per bounded context, each with its models, services and reads.

No module here imports Flask, Socket.IO, MQTT or the hub's adapters (api, web, realtime,
notify channels, scheduler); services publish events after their transactions commit and the
adapters carry them. Packages import each other only downwards, as each package's docstring
says; tests/test_architecture.py checks both rules. docs/architecture.md has the map.
"""
