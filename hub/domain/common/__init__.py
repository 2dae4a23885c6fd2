"""Shared pieces of every context: the clock, domain errors, the event bus and its events, the
declarative base and column types, the audit log, gap-free document numbers, scheduler rows.

May import: nothing in hub.domain (every other package may import it).
"""
