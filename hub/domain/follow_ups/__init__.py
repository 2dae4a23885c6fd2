"""Follow-up appointments: series, confirmation and reminders, the patient's signed links, end of
day no-shows, the call-back list and the analysis; and the messages of ordinary visit bookings and
results (`patient_messages`), which need the same reminders planner.

May import: common, patients, queue, booking, clinical, notifications.
"""
