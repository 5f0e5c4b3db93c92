"""The masking group of the example PSI: Curve25519's x-only ladder in pure Python."""

from __future__ import annotations

import ecdh  # examples/apps (put on sys.path by examples_runtime)
import examples_runtime  # noqa: F401
import pytest


def test_rfc7748_vector() -> None:
    scalar = int.from_bytes(
        bytes.fromhex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"), "little"
    )
    scalar = (scalar & ~7 & ((1 << 255) - 1)) | (1 << 254)
    u = int.from_bytes(
        bytes.fromhex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"), "little"
    )
    out = ecdh.mask(scalar, [u & ((1 << 255) - 1)])[0]
    assert (
        out.to_bytes(32, "little").hex() == "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"
    )


def test_masking_commutes_and_separates_ids() -> None:
    a, b = ecdh.new_secret(), ecdh.new_secret()
    elems = [ecdh.hash_to_element(f"id-{i}".encode()) for i in range(20)]
    ab = ecdh.mask(a, ecdh.mask(b, elems))
    assert ab == ecdh.mask(b, ecdh.mask(a, elems))
    assert len(set(ab)) == 20
    assert ecdh.mask(a, elems) != ecdh.mask(b, elems)


def test_wire_encoding_is_fixed_width_elements_only() -> None:
    elems = [0, 1, ecdh.P - 1, 12345]
    payload = ecdh.encode(elems)
    assert len(payload) == 4 * ecdh.ELEMENT_SIZE
    assert ecdh.decode(payload) == elems
    with pytest.raises(ValueError):
        ecdh.decode(payload[:-1])
    with pytest.raises(ValueError):
        ecdh.decode((ecdh.P).to_bytes(32, "little"))
    with pytest.raises(ValueError):
        ecdh.encode([ecdh.P])


@pytest.mark.parametrize("u", [0, 1])
def test_low_order_points_are_refused(u: int) -> None:
    with pytest.raises(ValueError, match="low-order"):
        ecdh.mask(ecdh.new_secret(), [5, u])
