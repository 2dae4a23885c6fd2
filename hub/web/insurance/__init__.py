"""Staff pages of health insurance (BHYT): the claims list with export, rejection and re-export."""
