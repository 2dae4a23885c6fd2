"""REST for the queue (hub.domain.queue): services with their lines, tickets, counters, kiosk leases."""
