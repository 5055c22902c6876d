"""Online verification as the web app and the cleaning workflow use it: one small protocol, two implementations.

`RegisterVerifier` asks the population register at once through `tiemchung.health.verification`'s client and queue
(`queue.verify_now`), which stores the answer, or leaves the request in the outbox when the register does not
answer. `QueueOnlyVerifier` is used when no register is configured: the request waits in the outbox for
`tiemchung register drain` (or whoever drains it), and the page says so.
"""

import logging
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.orm import Session

from tiemchung.health.verification import queue
from tiemchung.health.verification.client import RegisterClient
from tiemchung.health.web.settings import Settings
from tiemchung.interchange.results import VerificationResult

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
    def __init__(self, client: RegisterClient) -> None:
        self._client = client

    def __call__(self, session: Session, subject_id: int) -> VerifyOutcome:
        try:
            answer = queue.verify_now(session, subject_id, self._client)
        except Exception as error:  # the register is another ministry's service: never fail the user's action
            log.warning("online verification of subject %s failed: %r", subject_id, error)
            queue.enqueue(session, [subject_id], reason="web-retry")
            return VerifyOutcome(None, "Không xác minh được lúc này; hồ sơ đã được đưa vào hàng đợi xác minh.")
        if isinstance(answer, VerificationResult):
            return VerifyOutcome(answer, f"Kết quả xác minh: {answer.category.label_vi}.")
        return VerifyOutcome(None, answer.message_vi)


class QueueOnlyVerifier:
    def __call__(self, session: Session, subject_id: int) -> VerifyOutcome:
        queue.enqueue(session, [subject_id], reason="web")
        return VerifyOutcome(
            None, "Chưa cấu hình kết nối CSDL dân cư: hồ sơ đã được đưa vào hàng đợi, sẽ xác minh khi có kết nối."
        )


def make_verifier(settings: Settings) -> Verifier:
    if not settings.register_url:
        return QueueOnlyVerifier()
    return RegisterVerifier(RegisterClient(settings.register_url, settings.register_api_key or ""))
