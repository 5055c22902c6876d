"""Tables of the certificates package: issued certificates and the facilities' daily signatures."""

from datetime import date, datetime

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tiemchung.health.certificates.hcert import message_of
from tiemchung.health.certificates.revocation import revocation_hashes
from tiemchung.health.registry.db import Base


class Certificate(Base):
    """One signed EU DCC vaccination certificate (one per dose: a booster gets a new certificate)."""

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uvci: Mapped[str] = mapped_column(String(80), unique=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subjects.id"), index=True)
    dose_id: Mapped[int] = mapped_column(ForeignKey("doses.id"), index=True)
    dose_number: Mapped[int] = mapped_column(Integer)
    total_doses: Mapped[int] = mapped_column(Integer)
    issuer_country: Mapped[str] = mapped_column(String(2), default="VN")
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kid: Mapped[str] = mapped_column(String(16))  # hex of the 8-byte key identifier
    issued_by: Mapped[str] = mapped_column(String(64), default="")
    hc1: Mapped[str] = mapped_column(Text)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revocation_reason: Mapped[str | None] = mapped_column(String(255))
    revoked_by: Mapped[str | None] = mapped_column(String(64))

    def revocation_hashes(self) -> dict[str, str]:
        """The hashes that put this certificate on the published revocation list."""

        message = message_of(self.hc1)
        return revocation_hashes(self.uvci, self.issuer_country, message.signature if message else b"")


class DailySignature(Base):
    """A facility's signature over the doses it entered for one vaccination day ("ký số trong ngày").

    The signature covers a manifest: the sorted record ids with the SHA-256 of each dose's canonical data,
    so that any later change to a signed dose is detectable. A day can have several signatures when doses
    are entered late; each covers the doses that were unsigned at that moment.
    """

    __tablename__ = "daily_signatures"
    __table_args__ = (Index("ix_daily_signatures_facility_day", "facility_code", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    facility_code: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    signer: Mapped[str] = mapped_column(String(64))
    dose_count: Mapped[int] = mapped_column(Integer)
    manifest: Mapped[str] = mapped_column(Text)
    payload_sha256: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)  # base64 DER ECDSA / RSA-PSS signature over the manifest
    public_key_pem: Mapped[str] = mapped_column(Text)
