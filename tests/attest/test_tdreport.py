"""TDREPORT codec (attestation.md §1) against the real Azure HCL report."""

from __future__ import annotations

import hashlib

import pytest

from migtd.attest.tdreport import TdInfo, TdReport, TeeTcbInfo
from migtd.errors import FormatError


def test_azure_hcl_report_fields_and_integrity(vectors):
    raw = (vectors / "attestation" / "azure" / "hcl-report-tdx.bin").read_bytes()[32:1056]
    r = TdReport.parse(raw)
    assert r.report_type == 0x81 and r.report_version == 0
    assert r.report_data.hex().startswith("e8f0796193ba21d6d43d2ea4bb6e4081ce4920729b348f39099cd2f65ecb6170")
    assert r.report_data[32:] == bytes(32)
    assert r.tee_tcb_info.valid.hex() == "ff01030000000000"
    assert r.tee_tcb_info.tee_tcb_svn.hex().startswith("02010600")
    assert r.tee_tcb_info.tee_tcb_svn2.hex().startswith("02010600")
    assert r.td_info.xfam.hex() == "e718060000000000"
    assert r.td_info.mrtd.hex().startswith("75f3acc2") and r.td_info.mrtd.hex().endswith("6e858886")
    assert all(rt == bytes(48) for rt in r.td_info.rtmrs)
    r.check_integrity()
    assert r.to_bytes() == raw


def test_built_report_round_trips_and_hashes():
    info = TdInfo(mrtd=b"\x11" * 48, rtmrs=(b"\x01" * 48, b"\x02" * 48, b"\x03" * 48, b"\x04" * 48))
    tee = TeeTcbInfo(tee_tcb_svn=bytes.fromhex("07010300000000000000000000000000"))
    built = TdReport.build(report_data=b"\xaa" * 64, tee_tcb_info=tee, td_info=info)
    raw = built.to_bytes()
    assert len(raw) == 1024
    assert raw[80:128] == hashlib.sha384(raw[512:1024]).digest()
    parsed = TdReport.parse(raw)
    assert parsed.td_info == info and parsed.tee_tcb_info == tee
    parsed.check_integrity()


def test_tampered_tdinfo_fails_integrity():
    raw = bytearray(TdReport.build(report_data=bytes(64), tee_tcb_info=TeeTcbInfo(), td_info=TdInfo()).to_bytes())
    raw[600] ^= 1
    with pytest.raises(FormatError) as err:
        TdReport.parse(bytes(raw)).check_integrity()
    assert err.value.field == "TEE_INFO_HASH"


@pytest.mark.parametrize("size", [0, 1023, 1025])
def test_wrong_length_is_a_format_error(size):
    with pytest.raises(FormatError) as err:
        TdReport.parse(bytes(size))
    assert err.value.field == "length"
