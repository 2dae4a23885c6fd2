"""Reports: nightly rollups from the period log, figures by service, counter, doctor and hour,
Decision 1313 targets, the live operations board, CSV/XLSX exports.

May import: every other package (reports read everything; nothing imports reports).
"""
