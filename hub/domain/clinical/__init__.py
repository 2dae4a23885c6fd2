"""Examination records, ICD-10 diagnoses, prescriptions, lab and imaging orders and their
results, the order catalogue as the doctor sees it.

May import: common, patients, queue, booking.
"""
