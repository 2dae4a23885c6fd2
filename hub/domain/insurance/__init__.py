"""Health insurance (BHYT): cards and coverage periods, the eligibility check behind `InsuranceGateway`,
the co-payment split of every bill line (pure rules from config/insurance.toml) and the visit's coverage.

No Flask, Socket.IO or MQTT here: the REST blueprint (hub/api/insurance.py) and billing call the service.
"""
