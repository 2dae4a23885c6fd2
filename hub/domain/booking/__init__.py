"""Doctors' schedules and slots, appointments (FHIR R4 states), check-in into the exam queues,
the visit's intake.

May import: common, patients, queue, notifications.
"""
