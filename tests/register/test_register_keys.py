"""API keys, rate limits and the query log of the register service (no engine needed)."""

import json
from pathlib import Path

from tiemchung.interchange.results import SubjectQuery
from tiemchung.register.keys import KeyStore
from tiemchung.register.ledger import Ledger, LogEntry
from tiemchung.register.ratelimit import RateLimiter, TokenBucket


def test_key_is_shown_once_and_stored_only_as_a_hash(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    key = store.add("Sở Y tế Hà Nội")
    stored = (tmp_path / "keys.json").read_text(encoding="utf-8")
    assert key not in stored
    assert key.split(".", 1)[1] not in stored
    caller = store.authenticate(key)
    assert caller is not None and caller.name == "Sở Y tế Hà Nội"
    assert (tmp_path / "keys.json").stat().st_mode & 0o077 == 0


def test_wrong_malformed_and_revoked_keys_are_refused(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    key = store.add("A")
    key_id = key.removeprefix("tcr_").split(".")[0]
    assert store.authenticate(key[:-1] + ("x" if key[-1] != "x" else "y")) is None
    assert store.authenticate("not-a-key") is None
    assert store.authenticate("tcr_.abc") is None
    assert store.revoke(key_id)
    assert store.authenticate(key) is None
    assert not store.revoke(key_id)


def test_a_running_store_sees_keys_added_by_another_process(tmp_path: Path) -> None:
    serving = KeyStore(tmp_path / "keys.json")
    assert serving.authenticate("tcr_x.y") is None
    key = KeyStore(tmp_path / "keys.json").add("B", rate_per_second=5, burst=7)
    caller = serving.authenticate(key)
    assert caller is not None and (caller.rate_per_second, caller.burst) == (5, 7)


def test_token_bucket_allows_the_burst_then_says_how_long_to_wait() -> None:
    bucket = TokenBucket(rate_per_second=2.0, burst=3, updated=100.0)
    assert [bucket.take(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(100.0) == 0.5
    assert bucket.take(100.5) == 0.0  # half a second later one token is back
    assert bucket.take(100.5) > 0


def test_rate_limiter_keeps_callers_apart_and_rounds_retry_after_up() -> None:
    limiter = RateLimiter()
    assert limiter.retry_after("a", 0.5, 1) == 0
    assert limiter.retry_after("a", 0.5, 1) == 2
    assert limiter.retry_after("b", 0.5, 1) == 0


def test_query_log_keeps_no_identity_in_clear_and_counts_a_request_once(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "service.sqlite", tmp_path / "secret")
    query = SubjectQuery("S-1", "Nguyễn Văn An", "1985-03-02", "M", "001085012345")
    entry = LogEntry("caller", "req-1", "online", "S-1", ledger.identity_hmac(query), "VERIFIED")
    assert ledger.answer([entry], idempotency=("caller", "k1", "fp"), response={"category": "VERIFIED"}) is None
    replay = ledger.answer([entry], idempotency=("caller", "k1", "fp"), response={"category": "OTHER"})
    assert replay is not None and replay.response == {"category": "VERIFIED"}
    ledger.answer([entry])  # the same request and subject again (a batch chunk re-logged after a crash)
    assert ledger.count_queries(caller="caller") == 1
    ledger.close()
    content = (tmp_path / "service.sqlite").read_bytes() + b"".join(
        path.read_bytes() for path in tmp_path.glob("service.sqlite*")
    )
    for secret in ("Nguyễn Văn An", "001085012345", "1985-03-02"):
        assert secret.encode() not in content


def test_identity_hash_depends_on_the_secret(tmp_path: Path) -> None:
    query = SubjectQuery("S-1", "Nguyễn Văn An", "1985-03-02", "M", "001085012345")
    first = Ledger(tmp_path / "a.sqlite", tmp_path / "secret-a").identity_hmac(query)
    second = Ledger(tmp_path / "b.sqlite", tmp_path / "secret-b").identity_hmac(query)
    again = Ledger(tmp_path / "c.sqlite", tmp_path / "secret-a").identity_hmac(query)
    assert first != second and first == again
    assert json.dumps(first).isascii()
