"""Health insurance (BHYT): cards and coverage periods, the eligibility check behind `InsuranceGateway`
(simulated cards file, national-portal HTTP adapter), the co-payment split of every bill line (pure rules
from config/insurance.toml), each visit's insurance decision (check, re-check, override) and the
claims file (XML 130/QĐ-BYT).

Billing does not import this package: build_hub hands `InsuranceService.split_bill_items` to billing as
its splitter.

It listens to billing's payment events (a voided payment takes the visit's claim back to draft) and
reads booking's doctors table (the claims' MA_BAC_SI).

May import: common, patients, queue, clinical, billing, booking.
"""
