"""The queue engine as one service: issue, call, serve and move tickets; open, pause and close counters.

`QueueService` is the chain of this package's modules, each adding one job (see `core`): a ticket's
life reads issuing -> calling, with the reads for boards and forecasts beside them.
"""

from __future__ import annotations

from hub.domain.queue.staffing import QueueStaffing


class QueueService(QueueStaffing):
    """Issue, call, serve and move tickets; open, pause and close counters."""
