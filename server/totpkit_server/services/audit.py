"""Writing the audit log: one entry per security event, stamped with who asked and when.

Services call :meth:`Instance.audit <totpkit_server.services.Instance.audit>` (which calls
:func:`record_audit_event`) at the point where an operation's outcome is known, *before* raising
its error, so a refused code is recorded even though the request answers 422. Each entry also goes
to the ``totpkit.audit`` logger at INFO, with the request's ``clerk_trace_id`` on the record.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..core.audit import AuditDetail, AuditEvent, AuditOutcome, check_detail
from ..core.request_context import current_request
from ..storage.records import AuditEventRecord

if TYPE_CHECKING:
    from .instance import Instance

__all__ = ("AUDIT_LOGGER", "record_audit_event")

AUDIT_LOGGER = "totpkit.audit"
"""Name of the logger that gets one INFO record per audit event."""

logger = logging.getLogger(AUDIT_LOGGER)


async def record_audit_event(
    instance: Instance,
    event: AuditEvent,
    outcome: AuditOutcome,
    *,
    user_id: str | None,
    client_id: str | None = None,
    session_id: str | None = None,
    detail: AuditDetail | None = None,
) -> AuditEventRecord:
    """Append one event to the store and log it; returns the stored entry (with ``seq``).

    ``client_id`` / ``session_id`` default to what the current request knows; the IP address and
    trace id always come from the current request (``None`` outside one). ``detail`` goes through
    :func:`~totpkit_server.core.audit.check_detail` (ValueError for anything that could be a secret).
    """
    context = current_request()
    record = AuditEventRecord(
        id=instance.new_id("audit"),
        at=instance.now_ms(),
        event=AuditEvent(event).value,
        outcome=AuditOutcome(outcome).value,
        user_id=user_id,
        client_id=client_id or (context.client_id if context else None),
        session_id=session_id or (context.session_id if context else None),
        ip=context.ip if context else None,
        trace_id=context.trace_id if context else None,
        detail=check_detail(detail),
    )
    record.seq = await instance.store.append_audit_event(record)
    logger.info(
        "audit %s %s user=%s client=%s",
        record.event,
        record.outcome,
        record.user_id,
        record.client_id,
        extra={
            "audit_event": record.event,
            "audit_outcome": record.outcome,
            "audit_user_id": record.user_id,
            "audit_client_id": record.client_id,
            "audit_session_id": record.session_id,
            "audit_ip": record.ip,
            "audit_detail": record.detail,
        },
    )
    return record
