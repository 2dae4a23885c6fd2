"""Discrete-event simulation of a clinic day through the real queue engine (`clinicq simulate`)."""
