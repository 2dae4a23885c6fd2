"""Sending the outbox's messages: the channels (email over SMTP, SMS over HTTP, in-app, file) and the
dispatcher that gives each claimed row to its channel. Templates and the channel settings belong to
the domain (`hub.domain.notifications`); these are the adapters.
"""
