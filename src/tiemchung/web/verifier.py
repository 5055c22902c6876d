"""Online verification as the web app and the cleaning workflow use it: one small protocol, one real implementation.

The real one is `tiemchung.verification`'s queue (`queue.verify_now(session, subject_id, client)`), which asks the
register at once and falls back to the outbox when the register does not answer. When no register is configured
the app still works: new records wait in the outbox, and the pages say so.
"""

import importlib
import logging
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session

from tiemchung.verification.results import VerificationResult
from tiemchung.web.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VerifyOutcome:
    result: VerificationResult | None
    message: str

    @property
    def answered(self) -> bool:
        return self.result is not None


class Verifier(Protocol):
    def __call__(self, session: Session, subject_id: int) -> VerifyOutcome: ...


class RegisterVerifier:
    """Asks the population register service through the verification package's client and queue."""

    def __init__(self, queue_module: Any, client: Any) -> None:
        self._queue = queue_module
        self._client = client

    def __call__(self, session: Session, subject_id: int) -> VerifyOutcome:
        try:
            result = self._queue.verify_now(session, subject_id, self._client)
        except Exception as error:  # the register is another ministry's service: never fail the user's action
            log.warning("online verification of subject %s failed: %r", subject_id, error)
            return VerifyOutcome(None, "Không kết nối được CSDL dân cư; hồ sơ đã được đưa vào hàng đợi xác minh.")
        if result is None:
            return VerifyOutcome(None, "CSDL dân cư chưa trả lời; hồ sơ đã được đưa vào hàng đợi xác minh.")
        return VerifyOutcome(result, f"Kết quả xác minh: {result.category.label_vi}.")


class NoRegisterVerifier:
    """Used when no register service is configured (or the verification client is not installed)."""

    def __init__(self, why: str) -> None:
        self.why = why

    def __call__(self, session: Session, subject_id: int) -> VerifyOutcome:
        return VerifyOutcome(None, self.why)


def make_verifier(settings: Settings) -> Verifier:
    if not settings.register_url:
        return NoRegisterVerifier("Chưa cấu hình dịch vụ CSDL dân cư (TIEMCHUNG_REGISTER_URL): chưa xác minh được.")
    try:
        queue_module = importlib.import_module("tiemchung.verification.queue")
        client_module = importlib.import_module("tiemchung.verification.client")
    except ModuleNotFoundError as missing:
        log.warning("verification client not available: %s", missing)
        return NoRegisterVerifier("Chức năng xác minh trực tuyến chưa được cài đặt.")
    client = client_module.RegisterClient(settings.register_url, settings.register_api_key or "")
    return RegisterVerifier(queue_module, client)
