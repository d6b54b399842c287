"""The supplemental-data codec: one layout for the verifier that writes it and the policies that read it."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from migtd.attest import suppl
from migtd.attest.suppl import FIELDS, SupplementalData
from migtd.errors import FormatError


def _distinct() -> SupplementalData:
    """Every field a different, recognisable value."""
    return SupplementalData(
        td10_body=bytes(range(256)) * 2 + bytes(range(72)), fmspc=b"\x90\xc0\x6f\x00\x00\x01",
        tdx_tcb_components=bytes(range(16, 32)), pce_svn=0x0D0C, sgx_tcb_components=bytes(range(32, 48)),
        tdx_module_major_ver=1, tdx_module_svn=6, qe_miscselect=b"\x01\x02\x03\x04",
        qe_miscselect_mask=b"\xff\xfe\xfd\xfc", qe_attributes=bytes(range(48, 64)),
        qe_attributes_mask=bytes(range(64, 80)), qe_mrenclave=b"\xee" * 32, qe_mrsigner=b"\x55" * 32,
        qe_isvprodid=2, qe_isvsvn=0x0405, tcb_date=1731456000, tcb_status="OutOfDate",
        platform_tcb_date=1731456001, qe_tcb_date=1731456002, qe_tcb_status="UpToDate")


def test_encoder_follows_the_field_table():
    value = _distinct()
    report = value.encode()
    assert len(report) == suppl.SIZE == 822
    expected = {
        "reserved0": value.td10_body[:16], "MRTD": value.td10_body[136:184], "REPORTDATA": value.td10_body[520:584],
        "FMSPC": value.fmspc, "TDX_TCB_COMPONENTS": value.tdx_tcb_components, "PCE_SVN": b"\x0c\x0d",
        "SGX_TCB_COMPONENTS": value.sgx_tcb_components, "TDX_MODULE_MAJOR_VER": b"\x01", "TDX_MODULE_SVN": b"\x06",
        "QE_MISCSELECT": value.qe_miscselect, "reserved2": value.qe_miscselect_mask,
        "QE_ATTRIBUTES": value.qe_attributes, "reserved3": value.qe_attributes_mask,
        "QE_MRENCLAVE": value.qe_mrenclave, "QE_MRSIGNER": value.qe_mrsigner, "QE_ISVPRODID": b"\x02\x00",
        "QE_ISVSVN": b"\x05\x04", "TCB_DATE": (1731456000).to_bytes(8, "little"),
        "TCB_STATUS": b"OutOfDate".ljust(32, b"\0"), "PLATFORM_TCB_DATE": (1731456001).to_bytes(8, "little"),
        "QE_TCB_DATE": (1731456002).to_bytes(8, "little"), "QE_TCB_STATUS": b"UpToDate".ljust(32, b"\0"),
    }
    for name, raw in expected.items():
        assert suppl.field(report, name) == raw, name
    # the table covers the 822 bytes exactly once, in order
    offsets = sorted(FIELDS.values())
    assert offsets[0][0] == 0 and sum(size for _, size in offsets) == 822
    assert all(a + n == b for (a, n), (b, _) in itertools.pairwise(offsets))


def test_decode_is_the_inverse_of_encode(azure):
    value = _distinct()
    assert SupplementalData.decode(value.encode()) == value
    for report in (azure.expected_thim, azure.expected_prod):
        decoded = SupplementalData.decode(report)
        assert decoded.encode() == report and decoded.tcb_status == "UpToDate"
        assert decoded.fmspc == bytes.fromhex("90c06f000000")


def test_statuses_fill_their_32_bytes():
    long = dataclasses.replace(_distinct(), tcb_status="TDRelaunchAdvisedConfigurationNeeded")
    report = long.encode()
    assert suppl.field(report, "TCB_STATUS") == b"TDRelaunchAdvisedConfigurationNe"
    assert suppl.tcb_status(report) == "TDRelaunchAdvisedConfigurationNe"


@pytest.mark.parametrize("change", [{"fmspc": b"\x00" * 5}, {"td10_body": bytes(585)}, {"pce_svn": 1 << 16},
                                    {"tdx_module_svn": -1}, {"tcb_status": "Größe"}, {"tcb_date": 1 << 64}])
def test_a_value_that_does_not_fit_is_refused(change):
    with pytest.raises(ValueError):
        dataclasses.replace(_distinct(), **change).encode()


def test_decode_and_readers_refuse_with_the_codec_error():
    report = _distinct().encode()
    with pytest.raises(FormatError):
        SupplementalData.decode(report[:821])
    bad = suppl.with_field(report, "TCB_STATUS", b"\xff" * 32)
    with pytest.raises(FormatError) as err:
        SupplementalData.decode(bad)
    assert err.value.field == "TCB_STATUS"
    with pytest.raises(FormatError):
        suppl.tcb_status(bad)
    with pytest.raises(FormatError) as err:
        suppl.iso8601(1 << 60)
    assert err.value.field == "TCB_DATE"
    assert suppl.iso8601(1731456000) == "2024-11-13T00:00:00Z"
    # the lenient readers: a short report gives short slices (policy v1 judges truncation itself)
    assert suppl.field(report[:600], "PCE_SVN") == b""


def test_the_codec_has_one_home():
    """policy/report.py was the codec's old home; every reader now imports migtd.attest.suppl."""
    import importlib.util

    assert importlib.util.find_spec("migtd.policy.report") is None
