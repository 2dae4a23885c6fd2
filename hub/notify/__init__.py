"""Sending the outbox's messages: channels (email, SMS, in-app, file), templates, the dispatcher.

Kept light on purpose: hub/config.py imports `hub.notify.settings`, so nothing here may import the hub.
"""
