"""Kind 1 of issue #11: no command ever opens one of its inputs for writing.

For every output of every command, aimed at each of that command's inputs
directly, through a symlink and through a hard link, the command exits 1
with one line *before doing any work* and every input keeps its bytes; two
outputs naming one file are refused the same way. Outputs are written
atomically: an output that is a hard link of another file leaves that file
alone, an output that is a symlink keeps the link and replaces its target.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .helpers import assert_one_line, digests, files_for, said
from .registry import COMMANDS, ENTRY_POINTS, USAGE, command

# outputs that are folders are handled by the folder tests below
CASES = [(c.name, out, arg, how) for c in COMMANDS for out, name in c.outputs.items() if "." in name
         for arg in c.inputs for how in ("same", "symlink", "hardlink")]


def _inputs_copied(cmd_name: str, good: dict[str, Path], folder: Path) -> dict[str, Path]:
    """The command's files with every input copied into ``folder`` (links to them must not escape)."""
    cmd = command(cmd_name)
    files = files_for(cmd, good, folder)
    for arg in cmd.inputs:
        copy = folder / f"input_{arg}{files[arg].suffix}"
        shutil.copyfile(files[arg], copy)
        files[arg] = copy
    return files


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name,out,arg,how", CASES, ids=[f"{n}|{o}->{a}|{h}" for n, o, a, h in CASES])
def test_output_aimed_at_an_input_is_refused(name: str, out: str, arg: str, how: str,
                                             good_files: dict[str, Path], tmp_path: Path) -> None:
    cmd = command(name)
    files = _inputs_copied(name, good_files, tmp_path)
    if how == "same":
        files[out] = files[arg]
    elif how == "symlink":
        files[out] = tmp_path / "link_to_input"
        files[out].symlink_to(files[arg])
    else:
        files[out] = tmp_path / "hardlink_to_input"
        os.link(files[arg], files[out])
    before = digests({k: files[k] for k in cmd.inputs})
    entry = ENTRY_POINTS[cmd.entry]
    outcome = entry.run(*cmd.render(files))
    assert outcome.code == USAGE, (outcome.stderr, outcome.stdout[-300:])
    assert_one_line(outcome, entry)
    assert "refusing to overwrite an input" in said(outcome)
    assert digests({k: files[k] for k in cmd.inputs}) == before
    assert not entry.did_work(outcome)   # refused up front: nothing was done


SAME = [(c.name, a, b) for c in COMMANDS for a, b in c.same_outputs]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name,a,b", SAME, ids=[f"{n}|{a}={b}" for n, a, b in SAME])
def test_two_outputs_naming_one_file_are_refused(name: str, a: str, b: str, good_files: dict[str, Path],
                                                 tmp_path: Path) -> None:
    cmd = command(name)
    files = files_for(cmd, good_files, tmp_path)
    (tmp_path / "sub").mkdir()
    files[b] = tmp_path / "sub" / ".." / files[a].name   # the same file, spelt differently
    entry = ENTRY_POINTS[cmd.entry]
    outcome = entry.run(*cmd.render(files))
    assert outcome.code == USAGE and "is the same file as" in outcome.stderr, outcome.stderr
    assert_one_line(outcome, entry)
    assert not files[a].exists() and not entry.did_work(outcome)


def test_policy_sign_onto_its_own_input(good_files: dict[str, Path], tmp_path: Path) -> None:
    """The issue's example, ``policy sign in.json in.json``, as the operator types it."""
    data = tmp_path / "in.json"
    shutil.copyfile(good_files["canonical_json"], data)
    outcome = ENTRY_POINTS["migtd-tool"].run(
        ["policy", "sign", "--key", str(good_files["signing_key"]), "--chain", str(good_files["signing_chain"]),
         str(data), str(data)], {})
    assert outcome.code == USAGE and data.read_bytes() == good_files["canonical_json"].read_bytes()


def test_outputs_are_replaced_atomically_never_written_through(good_files: dict[str, Path], tmp_path: Path) -> None:
    """A hard link at the output path keeps its old bytes; a symlink is kept and its target replaced."""
    other = tmp_path / "someone_elses.json"
    other.write_text("precious")
    out = tmp_path / "generated.json"
    os.link(other, out)
    run = ENTRY_POINTS["migtd-tool"].run
    code = run(["policy", "generate", "--from", str(good_files["report"]), str(out)], {}).code
    assert code == 0 and other.read_text() == "precious" and out.read_text().startswith("{")
    target = tmp_path / "target.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    assert run(["policy", "generate", "--from", str(good_files["report"]), str(link)], {}).code == 0
    assert link.is_symlink() and target.read_text().startswith("{")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_generate_rotation_never_overwrites_its_inputs(good_files: dict[str, Path], tmp_path: Path) -> None:
    """An input that lives where ``--out-dir`` writes (here the quote) is refused before anything is written."""
    out_dir = tmp_path / "rotation"
    out_dir.mkdir()
    quote = out_dir / "policy_v2_signed_a.json"
    shutil.copyfile(good_files["quote"], quote)
    cmd = command("policy generate-rotation")
    files = files_for(cmd, good_files, tmp_path)
    files["quote"] = quote
    outcome = ENTRY_POINTS["migtd-tool"].run(*cmd.render(files))
    assert outcome.code == USAGE and "refusing to overwrite an input" in outcome.stderr
    assert quote.read_bytes() == good_files["quote"].read_bytes()
    assert sorted(p.name for p in out_dir.iterdir()) == ["policy_v2_signed_a.json"]


def test_key_out_is_private(good_files: dict[str, Path], tmp_path: Path) -> None:
    cmd = command("policy generate-v2")
    files = files_for(cmd, good_files, tmp_path)
    assert ENTRY_POINTS["migtd-tool"].run(*cmd.render(files)).code == 0
    assert files["key_out"].stat().st_mode & 0o777 == 0o600
    assert files["out"].stat().st_mode & 0o077 != 0o077 and b"PRIVATE KEY" in files["key_out"].read_bytes()


def test_mock_pki_replaces_links_instead_of_writing_through(tmp_path: Path) -> None:
    out = tmp_path / "pki"
    out.mkdir()
    victim = tmp_path / "victim.der"
    victim.write_bytes(b"not yours")
    (out / "root_ca.der").symlink_to(victim)
    run = ENTRY_POINTS["migtd-tool"].run
    refused = run(["mock-pki", "--out", str(out)], {})
    assert refused.code == USAGE and "--force" in refused.stderr
    assert run(["mock-pki", "--out", str(out), "--force"], {}).code == 0
    assert victim.read_bytes() == b"not yours" and not (out / "root_ca.der").is_symlink()
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    outcome = run(["mock-pki", "--out", str(not_a_dir), "--force"], {})
    assert outcome.code == USAGE and "not a directory" in outcome.stderr and not_a_dir.read_text() == "x"


FILE_OUTPUTS = [(c.name, out) for c in COMMANDS for out, name in c.outputs.items() if "." in name]


@pytest.mark.parametrize("name,out", FILE_OUTPUTS, ids=[f"{n}|{o}" for n, o in FILE_OUTPUTS])
def test_output_that_is_a_directory_is_refused_up_front(name: str, out: str, good_files: dict[str, Path],
                                                        tmp_path: Path) -> None:
    cmd = command(name)
    files = files_for(cmd, good_files, tmp_path)
    files[out].mkdir()
    entry = ENTRY_POINTS[cmd.entry]
    outcome = entry.run(*cmd.render(files))
    assert outcome.code == USAGE and "is a directory" in said(outcome).lower(), (outcome.stderr, outcome.stdout)
    assert_one_line(outcome, entry)
    assert not entry.did_work(outcome)
