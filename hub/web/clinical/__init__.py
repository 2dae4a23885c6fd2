"""Pages of the clinical context (hub.domain.clinical): the doctor's room and the lab/imaging worklist."""
