"""Patients: the registry (registration, duplicate detection, search, edits), gap-free patient
codes, identification from the chip ID card (CCCD).

May import: common.
"""
