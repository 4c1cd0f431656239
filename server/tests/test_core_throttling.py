"""The rate-limit policy and the caller's address (``core/throttling.py``), framework-free."""

from __future__ import annotations

import pytest

from totpkit_server.core.throttling import Bucket, RateLimitPolicy, address_key, client_address

WINDOW_START_MS = 1_700_000_040_000
"""A multiple of 60 s: the start of a one-minute window."""


class TestWindows:
    def test_window_start_and_retry_after(self) -> None:
        """Windows are aligned to the epoch; Retry-After is the rest of the window, rounded up, at least 1."""
        policy = RateLimitPolicy(window_seconds=60, per_client=5, per_ip=5)
        assert policy.window_start(WINDOW_START_MS) == WINDOW_START_MS
        assert policy.window_start(WINDOW_START_MS + 59_999) == WINDOW_START_MS
        assert policy.window_start(WINDOW_START_MS + 60_000) == WINDOW_START_MS + 60_000
        assert policy.retry_after(WINDOW_START_MS) == 60
        assert policy.retry_after(WINDOW_START_MS + 25_500) == 35
        assert policy.retry_after(WINDOW_START_MS + 59_999) == 1

    def test_buckets_and_verdict(self) -> None:
        """An address bucket always, a client bucket only with a client; over the limit means refused."""
        policy = RateLimitPolicy(window_seconds=10, per_client=2, per_ip=3)
        with_client = policy.buckets(address="203.0.113.9", client_id="client_1")
        assert with_client == (Bucket("ip:203.0.113.9", 3), Bucket("client:client_1", 2))
        assert policy.buckets(address="203.0.113.9", client_id=None) == (Bucket("ip:203.0.113.9", 3),)
        assert not policy.exceeded(with_client, [3, 2])
        assert policy.exceeded(with_client, [4, 1])
        assert policy.exceeded(with_client, [1, 3])

    def test_zero_turns_a_limit_off(self) -> None:
        """``per_ip=0`` / ``per_client=0`` leave that bucket out."""
        assert RateLimitPolicy(window_seconds=10, per_client=0, per_ip=4).buckets(address="a", client_id="c") == (
            Bucket("ip:a", 4),
        )
        assert RateLimitPolicy(window_seconds=10, per_client=4, per_ip=0).buckets(address="a", client_id="c") == (
            Bucket("client:c", 4),
        )

    @pytest.mark.parametrize(
        ("window", "per_client", "per_ip"), [(0, 1, 1), (10, -1, 1), (10, 1, -1)], ids=["window", "client", "ip"]
    )
    def test_invalid_policies(self, window: int, per_client: int, per_ip: int) -> None:
        with pytest.raises(ValueError, match="rate"):
            RateLimitPolicy(window_seconds=window, per_client=per_client, per_ip=per_ip)


class TestClientAddress:
    def test_no_trusted_header_means_the_peer(self) -> None:
        """Without a configured header every proxy header is ignored; no peer at all is ``unknown``."""
        assert client_address("198.51.100.4", ["203.0.113.1"], header=None) == "198.51.100.4"
        assert client_address(None, [], header=None) == "unknown"
        assert client_address("testclient", [], header=None) == "testclient"

    def test_forwarded_for_hops(self) -> None:
        """The caller is the entry ``hops`` places from the right; entries further left are the client's."""
        chain = ["spoofed, 203.0.113.7", "10.0.0.2"]
        assert client_address("10.0.0.3", chain, header="x-forwarded-for", hops=1) == "10.0.0.2"
        assert client_address("10.0.0.3", chain, header="x-forwarded-for", hops=2) == "203.0.113.7"
        assert client_address("10.0.0.3", chain, header="x-forwarded-for", hops=5) == "spoofed"
        assert client_address("10.0.0.3", [" , "], header="x-forwarded-for") == "10.0.0.3"
        assert client_address("10.0.0.3", [], header="x-forwarded-for") == "10.0.0.3"

    def test_single_address_header(self) -> None:
        """Any other header holds one address; the last value (the nearest proxy's) wins."""
        assert client_address("10.0.0.3", ["203.0.113.8"], header="x-real-ip") == "203.0.113.8"
        assert client_address("10.0.0.3", ["1.1.1.1", "203.0.113.8"], header="x-real-ip") == "203.0.113.8"
        assert client_address("10.0.0.3", ["  "], header="x-real-ip") == "10.0.0.3"


class TestAddressKey:
    @pytest.mark.parametrize(
        ("address", "key"),
        [
            ("203.0.113.7", "203.0.113.7"),
            ("203.0.113.7:51000", "203.0.113.7"),
            ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
            ("2001:db8:1:2:ffff::9", "2001:db8:1:2::/64"),
            ("[2001:db8:1:2::1]:443", "2001:db8:1:2::/64"),
            ("fe80::1%eth0", "fe80::/64"),
            ("::ffff:203.0.113.7", "203.0.113.7"),
            ("TestClient", "testclient"),
            ("x" * 500, "x" * 64),
            ("   ", "unknown"),
        ],
    )
    def test_normalisation(self, address: str, key: str) -> None:
        """IPv4 as is (port dropped), IPv6 per /64, IPv4-mapped as IPv4, other text lower-cased and bounded."""
        assert address_key(address) == key
