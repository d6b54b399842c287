"""HCL report parser and builder: the real Azure vector, small test blobs, every bad header."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from migtd.attest.tdreport import TdReport
from migtd.emu import hcl
from migtd.errors import FormatError

SWTPM_NV_INDEX_MAX = 2048


@pytest.fixture
def vector(vectors: Path) -> bytes:
    return (vectors / "attestation" / "azure" / "hcl-report-tdx.bin").read_bytes()


def test_real_azure_vector_parses(vector: bytes) -> None:
    report = hcl.parse_hcl_report(vector)
    assert len(vector) == 2600
    assert (report.version, report.report_size, report.request_type, report.status) == (2, 2438, 2, 0)
    assert report.hash_type is hcl.HclHashType.SHA256
    assert len(report.runtime_claims) == 1202
    assert report.td_report == vector[32:1056]
    assert report.report_data.hex() == (
        "e8f0796193ba21d6d43d2ea4bb6e4081ce4920729b348f39099cd2f65ecb6170" + "00" * 32)
    assert report.claims_bound()
    assert report.user_data() == bytes(64)
    TdReport.parse(report.td_report).check_integrity()


def test_builder_output_is_layout_valid_and_small(make_td_report: Callable[..., bytes]) -> None:
    td = make_td_report(b"\x11" * 64)
    claims = hcl.runtime_claims(b"\xab" * 64)
    blob = hcl.build_hcl_report(td, claims)
    assert len(blob) == hcl.FIXED_SIZE + len(claims) <= SWTPM_NV_INDEX_MAX
    parsed = hcl.parse_hcl_report(blob)
    assert parsed.runtime_claims == claims
    assert parsed.user_data() == b"\xab" * 64
    # The builder does what the paravisor does to REPORTDATA; nothing else in the report moves.
    assert parsed.report_data == hashlib.sha256(claims).digest() + bytes(32)
    assert parsed.claims_bound()
    assert parsed.td_report[:128] == td[:128] and parsed.td_report[192:] == td[192:]
    TdReport.parse(parsed.td_report).check_integrity()


def test_builder_matches_the_vector_header_layout(vector: bytes) -> None:
    real = hcl.parse_hcl_report(vector)
    rebuilt = hcl.build_hcl_report(real.td_report, real.runtime_claims, pad_to=len(vector))
    assert rebuilt == vector


def test_unbound_and_padded_blob(make_td_report: Callable[..., bytes]) -> None:
    td = make_td_report(b"\x22" * 64)
    blob = hcl.build_hcl_report(td, b"{}", bind_claims=False, pad_to=SWTPM_NV_INDEX_MAX)
    assert len(blob) == SWTPM_NV_INDEX_MAX
    parsed = hcl.parse_hcl_report(blob)
    assert parsed.td_report == td
    assert not parsed.claims_bound()
    assert parsed.user_data() is None
    with pytest.raises(ValueError):
        hcl.build_hcl_report(td, b"{}", pad_to=100)
    with pytest.raises(ValueError):
        hcl.build_hcl_report(td[:1000], b"{}")


def _blob(make_td_report: Callable[..., bytes]) -> bytearray:
    return bytearray(hcl.build_hcl_report(make_td_report(), b'{"user-data":"00"}'))


def _u32(blob: bytearray, offset: int, value: int) -> bytes:
    struct.pack_into("<I", blob, offset, value)
    return bytes(blob)


@pytest.mark.parametrize("mutate, field, words", [
    (lambda b: bytes(b[:1000]), "length", "at least 1236"),
    (lambda b: bytes(b"XCLA" + b[4:]), "signature", "HCLA"),
    (lambda b: _u32(b, 1224, 2), "hcl_data.report_type", "SNP"),
    (lambda b: _u32(b, 1224, 9), "hcl_data.report_type", "unknown"),
    (lambda b: _u32(b, 1228, 7), "hcl_data.report_data_hash_type", "unknown hash type 7"),
    (lambda b: _u32(b, 1232, 5000), "hcl_data.variable_data_size", "do not fit"),
    (lambda b: _u32(b, 1216, 99), "hcl_data.data_size", "!= 20"),
    (lambda b: _u32(b, 8, 1), "report_size", "!= 1216"),
    (lambda b: bytes(b[:32] + b"\x00" + b[33:]), "td_report.report_type", "0x81"),
])
def test_bad_blobs_name_the_field(make_td_report: Callable[..., bytes], mutate: Callable[[bytearray], bytes],
                                  field: str, words: str) -> None:
    with pytest.raises(FormatError) as info:
        hcl.parse_hcl_report(mutate(_blob(make_td_report)))
    assert info.value.field == field
    assert words in str(info.value)
    assert str(info.value).startswith("HCL report: ")


def test_user_data_tolerates_junk_claims(make_td_report: Callable[..., bytes]) -> None:
    for claims in (b"\xff\xfe", b"[1,2]", b'{"user-data": 5}', b'{"user-data": "zz"}', b"not json"):
        parsed = hcl.parse_hcl_report(hcl.build_hcl_report(make_td_report(), claims))
        assert parsed.user_data() is None


def test_user_data_is_case_insensitive(make_td_report: Callable[..., bytes]) -> None:
    lower = b'{"user-data":"' + (b"ab" * 64) + b'"}'
    parsed = hcl.parse_hcl_report(hcl.build_hcl_report(make_td_report(), lower))
    assert parsed.user_data() == b"\xab" * 64


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=1400))
def test_random_bytes_only_raise_format_error(data: bytes) -> None:
    try:
        hcl.parse_hcl_report(data)
    except FormatError:
        pass


_VALID = hcl.build_hcl_report(bytes([0x81]) + bytes(1023), b'{"user-data":"00"}')


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(_VALID) - 1), st.integers(0, 255))
def test_any_single_byte_change_parses_or_is_a_format_error(offset: int, value: int) -> None:
    blob = bytearray(_VALID)
    blob[offset] = value
    try:
        parsed = hcl.parse_hcl_report(bytes(blob))
    except FormatError as exc:
        assert exc.structure == "HCL report"
    else:
        assert len(parsed.td_report) == 1024
