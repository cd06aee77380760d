"""PUT_CRYPT and GET_CRYPT on ``Cache``, each beside a bare AES-GCM loop over the same data.

The bare loops are the floor: ``AESGCM.encrypt``/``decrypt`` from
``cryptography`` on the very plaintexts ``put_crypt`` seals (kind byte and
payload), with the same associated data and the same nonce construction
(a random 64-bit prefix and an ``itertools.count``), and nothing else: no
encoding, no framing, no table. Each pair shares a benchmark group, and the
end of the module prints ours as a ratio of the bare loop measured in the
same run (only ratios are stable on a shared machine).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from godistcache import Cache
from godistcache._core import codec as _codec
from godistcache._core._seal_py import aad as _aad

N = 10_000
ROUNDS = 50
KEY = bytes(range(32))

KEYS = [f"key:{i}" for i in range(N)]
VALUES: dict[str, list[Any]] = {
    "str": [f"value {i:05d} " + "x" * 38 for i in range(N)],  # 50 characters
    "tuple": [("One", i, 3.3) for i in range(N)],
}
# What put_crypt seals for each value: kind byte, then the payload.
PLAINTEXTS = {
    "str": [b"\x01" + v.encode() for v in VALUES["str"]],
    "tuple": [b"\x02" + _codec.encode(v) for v in VALUES["tuple"]],
}
AADS = [_aad(k) for k in KEYS]

_rates: dict[tuple[str, str], dict[str, float]] = {}


def _nonces() -> Iterator[bytes]:
    prefix = int.from_bytes(os.urandom(8), "big") << 32
    for n in itertools.count():
        yield (prefix | n).to_bytes(12, "big")


def bare_seal(aead: AESGCM, plaintexts: list[bytes], aads: list[bytes]) -> None:
    # The nonce inline, as Keyring.seal builds it: no generator in the timed loop.
    prefix = int.from_bytes(os.urandom(8), "big") << 32
    count = itertools.count()
    encrypt = aead.encrypt
    for pt, ad in zip(plaintexts, aads):
        nonce = (prefix | next(count)).to_bytes(12, "big")
        encrypt(nonce, pt, ad)


def bare_open(aead: AESGCM, sealed: list[tuple[bytes, bytes]], aads: list[bytes]) -> None:
    decrypt = aead.decrypt
    for (nonce, ct), ad in zip(sealed, aads):
        decrypt(nonce, ct, ad)


def cache_put_crypt(cache: Any, keys: list[str], values: list[Any]) -> None:
    put_crypt = cache.put_crypt
    for k, v in zip(keys, values):
        put_crypt(k, v)


def cache_get_crypt(cache: Any, keys: list[str]) -> None:
    get_crypt = cache.get_crypt
    for k in keys:
        get_crypt(k)


@pytest.fixture(scope="module", autouse=True)
def ratio_table(request: pytest.FixtureRequest) -> Iterator[None]:
    """At the end of the module, print each of ours as a ratio of its bare loop."""
    yield
    if not _rates:
        return
    tr = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if tr is None or capture is None:
        return
    with capture.global_and_fixture_disabled():  # teardown output is captured otherwise
        tr.write_line("")
        tr.write_line("sealed values, 10K keys (k ops/s, best round); ours as a ratio of the bare AESGCM loop")
        for (op, kind), rates in sorted(_rates.items()):
            bare, ours = rates.get("bare"), rates.get("cache")
            if bare and ours:
                tr.write_line(f"  {op:<10}{kind:<7} bare {bare:8.0f}   Cache {ours:8.0f}   {ours / bare:.2f}x")


def _run(benchmark: Any, op: str, kind: str, who: str, target: Callable[..., None], *args: Any) -> None:
    benchmark.group = f"{op} {kind} 10K"
    benchmark.extra_info["keys"] = N
    benchmark.pedantic(target, args=args, rounds=ROUNDS, warmup_rounds=1)
    if benchmark.stats is not None:  # None under --benchmark-disable: ran once, timed nothing
        rate = N / benchmark.stats.stats.min / 1e3
        benchmark.extra_info["k ops/s"] = round(rate, 1)
        rates = _rates.setdefault((op, kind), {})
        rates[who] = rate
        if "bare" in rates and "cache" in rates:
            benchmark.extra_info["vs bare AESGCM"] = round(rates["cache"] / rates["bare"], 3)


@pytest.mark.parametrize("kind", VALUES)
def test_put_crypt_bare(benchmark: Any, kind: str) -> None:
    _run(benchmark, "PUT_CRYPT", kind, "bare", bare_seal, AESGCM(KEY), PLAINTEXTS[kind], AADS)


@pytest.mark.parametrize("kind", VALUES)
def test_put_crypt(benchmark: Any, kind: str) -> None:
    cache = Cache(cipher_key=KEY)
    _run(benchmark, "PUT_CRYPT", kind, "cache", cache_put_crypt, cache, KEYS, VALUES[kind])
    assert len(cache) == N and cache.get_crypt(KEYS[-1]) == VALUES[kind][-1]


@pytest.mark.parametrize("kind", VALUES)
def test_get_crypt_bare(benchmark: Any, kind: str) -> None:
    aead = AESGCM(KEY)
    sealed = [(nonce, aead.encrypt(nonce, pt, ad)) for nonce, pt, ad in zip(_nonces(), PLAINTEXTS[kind], AADS)]
    _run(benchmark, "GET_CRYPT", kind, "bare", bare_open, aead, sealed, AADS)


@pytest.mark.parametrize("kind", VALUES)
def test_get_crypt(benchmark: Any, kind: str) -> None:
    cache = Cache(cipher_key=KEY)
    cache_put_crypt(cache, KEYS, VALUES[kind])
    assert [cache.get_crypt(k) for k in KEYS[:100]] == VALUES[kind][:100]
    _run(benchmark, "GET_CRYPT", kind, "cache", cache_get_crypt, cache, KEYS)
