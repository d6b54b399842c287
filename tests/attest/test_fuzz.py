"""Hypothesis: arbitrary or mutated input never escapes as anything but the project's errors."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from migtd.attest.collateral import Collateral
from migtd.attest.quote import parse_quote, td_report_from_quote
from migtd.attest.sgx_ext import parse_sgx_extension
from migtd.attest.tdreport import TdReport
from migtd.attest.verify import QuoteVerificationError, VerifiedQuote, verify_quote
from migtd.errors import FormatError

SETTINGS = settings(max_examples=int(__import__("os").environ.get("ATTEST_FUZZ_EXAMPLES", "150")), deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@SETTINGS
@given(st.binary(max_size=2048))
def test_parsers_on_arbitrary_bytes(data):
    for fn in (parse_quote, td_report_from_quote, parse_sgx_extension, TdReport.parse, Collateral.from_json):
        try:
            fn(data)
        except FormatError:
            pass


def _assert_signed_parts_unchanged(data: bytes, original: bytes) -> None:
    """A mutated quote may verify only if every signed or hashed part is intact.

    Unsigned slack exists: bytes after the quote (the Azure vector's 70 zero
    bytes) and PEM text outside the certificates' base64 (e.g. the final
    newline), which no DCAP verifier authenticates either.
    """
    a, b = parse_quote(data), parse_quote(original)
    assert a.signed_region == b.signed_region and a.signature == b.signature
    assert a.attestation_key == b.attestation_key
    assert a.cert_data.qe_report_raw == b.cert_data.qe_report_raw
    assert a.cert_data.qe_report_signature == b.cert_data.qe_report_signature
    assert a.cert_data.qe_auth_data == b.cert_data.qe_auth_data


def _mutations():
    return st.lists(st.tuples(st.integers(min_value=0, max_value=10_000), st.integers(min_value=1, max_value=255)),
                    min_size=1, max_size=4)


def _apply(data: bytes, muts: list[tuple[int, int]], cut: int | None) -> bytes:
    out = bytearray(data)
    for off, x in muts:
        out[off % len(out)] ^= x
    return bytes(out[:cut] if cut is not None else out)


@SETTINGS
@given(_mutations(), st.one_of(st.none(), st.integers(min_value=0, max_value=5000)))
def test_mutated_azure_quote(azure, muts, cut):
    data = _apply(azure.quote, muts, cut)
    try:
        v = verify_quote(data, azure.prod, azure.root_ca)
    except QuoteVerificationError as exc:
        assert exc.step
        return
    assert isinstance(v, VerifiedQuote)
    _assert_signed_parts_unchanged(data, azure.quote)


@SETTINGS
@given(_mutations(), st.one_of(st.none(), st.integers(min_value=0, max_value=4300)))
def test_mutated_mock_quote(pki, mock_quote, muts, cut):
    data = _apply(mock_quote, muts, cut)
    try:
        verify_quote(data, pki.collateral, pki.root_ca_der)
    except QuoteVerificationError as exc:
        assert exc.step
        return
    _assert_signed_parts_unchanged(data, mock_quote)


@SETTINGS
@given(st.binary(min_size=0, max_size=64), st.integers(min_value=0, max_value=5005))
def test_spliced_quote(azure, junk, off):
    data = azure.quote[:off] + junk + azure.quote[off + len(junk):]
    try:
        parse_quote(data)
        verify_quote(data, azure.prod, azure.root_ca)
    except (FormatError, QuoteVerificationError):
        pass


@SETTINGS
@given(_mutations())
def test_mutated_collateral(pki, mock_quote, muts):
    """Corrupt collateral JSON: only format or verification errors, never a crash."""
    data = _apply(pki.collateral.to_json(), muts, None)
    try:
        collateral = Collateral.from_json(data)
        verify_quote(mock_quote, collateral, pki.root_ca_der)
    except (FormatError, QuoteVerificationError):
        pass


@SETTINGS
@given(st.binary(max_size=800))
def test_arbitrary_root_ca(pki, mock_quote, root):
    try:
        verify_quote(mock_quote, pki.collateral, root)
    except QuoteVerificationError as exc:
        assert exc.step in ("root_ca", "crl")


@SETTINGS
@given(_mutations(), st.one_of(st.none(), st.integers(min_value=0, max_value=5000)))
def test_inspect_mutated_quote(azure, muts, cut):
    """``quote inspect`` decodes what it can and never crashes on a damaged quote."""
    from migtd.tool.quote_cmd import describe_quote

    try:
        info = describe_quote(_apply(azure.quote, muts, cut))
    except FormatError:
        return
    assert info["header"]["version"] in (4, 5)
