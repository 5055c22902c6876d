"""The public verifier's work, kept off the event loop and bounded: anyone may post to `/verify` without logging in.

Decoding an image and checking a signature are CPU work. Run on the event loop they froze every user's requests
(the probe's 10000 x 10000 PNG: 3 s); run in the shared request threads, a burst of posts would take the threads
that pages need for the database. So they run in their own small set of threads, at most `workers` at once with
at most `waiting` more queued; beyond that the answer is "busy, try again" at once. Each piece of work is itself
bounded (text length, inflated size, image pixels: `tiemchung.health.certificates.hcert`), so none runs for long.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import anyio
import anyio.to_thread

from tiemchung.health.certificates import hcert
from tiemchung.health.certificates.keys import TrustList
from tiemchung.health.certificates.revocation import RevocationList
from tiemchung.health.certificates.verifier import VerificationReport, verify_hc1

MAX_IMAGE_BYTES = 5 * 1024 * 1024
BUSY_VI = "Trang kiểm tra đang có nhiều lượt cùng lúc; xin thử lại sau ít giây."
NOTHING_VI = "Hãy dán chuỗi HC1:... hoặc tải lên ảnh mã QR."
IMAGE_TOO_BIG_VI = "Tệp ảnh lớn quá 5 MB: hãy chụp hoặc cắt ảnh chỉ chứa mã QR rồi tải lên lại."


class VerifierBusy(Exception):
    """More verifications are running and waiting than the pool admits."""


@dataclass(frozen=True)
class VerifyAnswer:
    report: VerificationReport | None
    text: str
    error: str = ""


def verify_submission(
    text: str, image: bytes | None, trust_list: TrustList, revocations: RevocationList
) -> VerifyAnswer:
    """The page's work: the QR of the image (if any) or the pasted text, verified. Blocking: run it in the pool."""
    content = text.strip()
    if image is not None:
        if len(image) > MAX_IMAGE_BYTES:
            return VerifyAnswer(None, content, IMAGE_TOO_BIG_VI)
        reading = hcert.read_qr(image)
        if reading.text is None:
            return VerifyAnswer(None, content, reading.problem_vi)
        content = reading.text
    if not content:
        return VerifyAnswer(None, "", NOTHING_VI)
    report = verify_hc1(content, trust_list, now=datetime.now(UTC), revocations=revocations)
    shown = content if len(content) <= hcert.MAX_HC1_CHARS else ""  # never echo a huge paste back into the page
    return VerifyAnswer(report, shown)


class VerificationPool:
    def __init__(self, workers: int = 2, waiting: int = 8) -> None:
        self.workers, self.waiting = workers, waiting
        self._admitted = 0
        self._limiter: anyio.CapacityLimiter | None = None

    async def run[Result](self, work: Callable[[], Result]) -> Result:
        # Only the event loop's thread touches the counter: no lock needed.
        if self._admitted >= self.workers + self.waiting:
            raise VerifierBusy
        if self._limiter is None:  # created inside the running loop (anyio needs one)
            self._limiter = anyio.CapacityLimiter(self.workers)
        self._admitted += 1
        try:
            return await anyio.to_thread.run_sync(work, limiter=self._limiter)
        finally:
            self._admitted -= 1
