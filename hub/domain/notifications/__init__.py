"""The notification outbox (messages as rows, sent later by channels), consent, quiet hours,
the patient inbox, message templates.

May import: common, patients.
"""
