"""The patient portal's pages (hub.domain.portal): sign-in, bookings, live tickets, results, inbox."""
