"""Pages of the follow-up context (hub.domain.follow_ups): staff pages, and the signed links patients open."""
