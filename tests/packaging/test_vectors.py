"""tests/vectors: every file listed in its folder's PROVENANCE.md with its size and SHA-256; data only."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

VECTORS = Path(__file__).resolve().parents[1] / "vectors"
_ROW = re.compile(r"^\| `([^`]+)` \| (\d+) \| `([0-9a-f]{64})` \|", re.MULTILINE)
FOLDERS = sorted([VECTORS, *(p for p in VECTORS.rglob("*") if p.is_dir())])


def _rows(folder: Path) -> dict[str, tuple[int, str]]:
    text = (folder / "PROVENANCE.md").read_text(encoding="utf-8")
    return {m.group(1): (int(m.group(2)), m.group(3)) for m in _ROW.finditer(text)}


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: str(p.relative_to(VECTORS)) or ".")
def test_every_file_is_listed_with_its_hash(folder: Path) -> None:
    assert (folder / "PROVENANCE.md").is_file(), f"{folder} has no PROVENANCE.md"
    files = {p.name for p in folder.iterdir() if p.is_file() and p.name != "PROVENANCE.md"}
    rows = _rows(folder)
    assert set(rows) == files, f"listed but absent: {set(rows) - files}; present but unlisted: {files - set(rows)}"
    for name, (size, digest) in rows.items():
        data = (folder / name).read_bytes()
        assert (len(data), hashlib.sha256(data).hexdigest()) == (size, digest), name


def test_data_only() -> None:
    """No upstream prose or code was copied (e.g. upstream's src/policy/test/policy.md)."""
    others = [p for p in VECTORS.rglob("*") if p.is_file() and p.name != "PROVENANCE.md"
              and p.suffix not in (".json", ".bin", ".blob", ".cer", ".pem", ".dat")]
    assert others == []


def test_licences_and_upstream_commit_are_named() -> None:
    top = (VECTORS / "PROVENANCE.md").read_text()
    assert "BSD-2-Clause-Patent" in top and "MIT" in top
    for folder in FOLDERS:
        text = (folder / "PROVENANCE.md").read_text()
        if any(origin.startswith("intel/MigTD") for origin in re.findall(r"\| (intel/MigTD[^|]*)\|", text)):
            assert "9a1fb188dfea42ff3018f32f186f7755f75a93aa" in text, folder
    assert "v0.8.0" in (VECTORS / "attestation" / "azure" / "PROVENANCE.md").read_text()
