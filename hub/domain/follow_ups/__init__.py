"""Follow-up appointments: series, confirmation and reminders, the patient's signed links, end of
day no-shows, the call-back list and the analysis.

May import: common, patients, queue, booking, clinical, notifications.
"""
