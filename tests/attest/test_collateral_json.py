"""Collateral JSON: files through migtd.inputs, PCS bodies decoded once, typed views as Intel parses them."""

from __future__ import annotations

import json
import os

import pytest

from migtd.attest.collateral import (
    Collateral,
    QeIdentity,
    TcbInfo,
    _tcb_info_fast,
    load_collateral,
    parse_signed_body,
    split_signed_body,
)
from migtd.errors import ConfigError, FormatError
from migtd.mock.pki import tcb_info_document

SIG = "ab" * 64


def test_files_are_read_through_inputs(tmp_path, azure):
    with pytest.raises(ConfigError, match="not a regular file"):
        load_collateral(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        load_collateral(fifo)                       # no writer: must not hang
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 5000)
    with pytest.raises(FormatError, match="nested deeper than 128"):
        load_collateral(deep)
    good = tmp_path / "c.json"
    good.write_bytes(azure.prod.to_json())
    assert load_collateral(good) == azure.prod


@pytest.mark.parametrize("body", [
    f'{{"tcbInfo":{{"a":1}},"signature":"{SIG}"}}',
    f'{{ "signature" : "{SIG}" ,\n "tcbInfo" : {{"a":1}} }}',            # any member order, whitespace
    f'{{"tcbInfo":{{"a":0}},"tcbInfo":{{"a":1}},"signature":"{SIG}"}}',    # a repeated member: the last one
])
def test_signed_body_span_is_exact(body):
    signed = parse_signed_body(body, "tcbInfo")
    assert signed.text == b'{"a":1}' and signed.document == {"a": 1} and signed.signature == bytes.fromhex(SIG)
    assert body[body.rindex('{"a":1}'):].startswith(signed.text.decode())
    assert split_signed_body(body, "tcbInfo") == (signed.text, signed.signature)


@pytest.mark.parametrize("body", [
    f'{{"tcbInfo":{{"a":1}},"signature":"{SIG}"}} trailing',
    f'{{"tcbInfo":[1],"signature":"{SIG}"}}',
    '{"tcbInfo":{"a":1},"signature":"abc"}',
    '{"tcbInfo":{"a":1}}',
    '["tcbInfo"]',
    f'{{"tcbInfo":{{"a":1}} "signature":"{SIG}"}}',
    f'{{"tcbInfo":{{"a":{"9" * 5000}}},"signature":"{SIG}"}}',      # past Python's integer digit limit
    f'{{"tcbInfo":{"[" * 200}{{}}{"]" * 200},"signature":"{SIG}"}}',
    '',
])
def test_malformed_signed_bodies_are_format_errors(body):
    with pytest.raises(FormatError):
        parse_signed_body(body, "tcbInfo")


def test_fast_tcb_info_reader_builds_what_the_checked_reader_builds(azure):
    count = 0
    for collateral in (azure.prod, azure.thim, azure.preprod, azure.hardcoded):
        for platform in collateral.platforms:
            doc = parse_signed_body(platform.tcb_info, "tcbInfo").document
            fast = _tcb_info_fast(doc)
            assert fast is not None and fast == TcbInfo._from_document_checked(doc)
            count += 1
    assert count >= 40


@pytest.mark.parametrize(("edit", "field"), [
    (lambda d: d["tcbLevels"][0].__setitem__("tcbStatus", "Fine"), "tcbStatus"),
    (lambda d: d["tcbLevels"][0]["tcb"]["sgxtcbcomponents"][3].__setitem__("svn", 256), "svn"),
    (lambda d: d["tcbLevels"][0]["tcb"].__setitem__("pcesvn", 70000), "pcesvn"),
    (lambda d: d["tcbLevels"][0]["tcb"]["tdxtcbcomponents"].pop(), "tdxtcbcomponents"),
    (lambda d: d["tcbLevels"][0].__setitem__("advisoryIDs", "INTEL-SA-1"), "advisoryIDs"),
    (lambda d: d["tdxModuleIdentities"][0]["tcbLevels"][0]["tcb"].__setitem__("isvsvn", -1), "isvsvn"),
    (lambda d: d["tdxModuleIdentities"].__setitem__(0, {"tcbLevels": []}), "id"),
    (lambda d: d["tdxModuleIdentities"][0].__setitem__("tcbLevels", ""), "tcbLevels"),
    (lambda d: d.__setitem__("tcbType", None), "tcbType"),
    (lambda d: d.__setitem__("issueDate", "yesterday"), "issueDate"),
])
def test_tcb_info_values_are_checked_as_intel_parses_them(edit, field):
    doc = tcb_info_document()
    edit(doc)
    assert _tcb_info_fast(doc) is None                      # the fast reader leaves it to the checked one
    with pytest.raises(FormatError) as err:
        TcbInfo.from_document(doc)
    assert field in err.value.field


def test_module_level_statuses_are_judged_when_used():
    """Intel validates a module level's status only when that level is the one matched."""
    doc = tcb_info_document()
    doc["tdxModuleIdentities"][0]["tcbLevels"][0]["tcbStatus"] = "SWHardeningNeeded"
    assert TcbInfo.from_document(doc).module_identities[0].levels[0].status == "SWHardeningNeeded"


def test_qe_identity_level_statuses(azure):
    text, _ = split_signed_body(azure.prod.qe_identity, "enclaveIdentity")
    doc = json.loads(text)
    doc["tcbLevels"][0]["tcbStatus"] = "SWHardeningNeeded"          # not a QE identity status for Intel
    with pytest.raises(FormatError):
        QeIdentity.from_document(doc)


def test_collateral_documents_are_depth_limited():
    with pytest.raises(FormatError, match="nested deeper"):
        Collateral.from_json(b'{"platforms":' + b"[" * 300 + b"]" * 300 + b"}")
    with pytest.raises(FormatError):
        TcbInfo.from_signed_text(b"[" * 300)
