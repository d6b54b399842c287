"""migtd.inputs: the one way file inputs, JSON, integers and outputs are handled."""

from __future__ import annotations

import os
import threading

import pytest

from migtd.errors import ConfigError
from migtd.inputs import (
    MAX_JSON_DEPTH,
    InputError,
    check_json_depth,
    load_json,
    load_json_file,
    open_output,
    parse_seconds,
    parse_uint,
    read_input,
    read_text_input,
    refuse_input_as_output,
)
from migtd.result import MigrationResult


def test_input_error_is_a_config_error_with_exit_1():
    err = InputError("x")
    assert isinstance(err, ConfigError) and err.result == MigrationResult.InvalidParameter


def test_read_input_regular_file(tmp_path):
    f = tmp_path / "a.bin"
    f.write_bytes(b"abc")
    assert read_input(f, "thing", limit=3) == b"abc"


def test_read_input_over_limit(tmp_path):
    f = tmp_path / "a.bin"
    f.write_bytes(b"abcd")
    with pytest.raises(InputError, match=r"thing .*a.bin is 4 bytes, above the 3-byte limit"):
        read_input(f, "thing", limit=3)


def test_read_input_empty_refused_unless_allowed(tmp_path):
    f = tmp_path / "e"
    f.write_bytes(b"")
    with pytest.raises(InputError, match="is empty"):
        read_input(f, "thing")
    assert read_input(f, "thing", allow_empty=True) == b""


def test_read_input_missing_and_directory(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_input(tmp_path / "nope", "policy file")
    with pytest.raises(InputError, match="not a regular file"):
        read_input(tmp_path, "policy file")


def test_read_input_fifo_without_writer_does_not_hang(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    result: list[BaseException] = []

    def target() -> None:
        try:
            read_input(fifo, "collateral file")
        except InputError as exc:
            result.append(exc)

    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(5)
    assert not t.is_alive(), "reading a FIFO hung"
    assert result and "a FIFO" in str(result[0])


def test_read_input_dev_zero_is_refused():
    with pytest.raises(InputError, match="character device"):
        read_input("/dev/zero", "mock quote file")


def test_read_text_input_rejects_non_utf8(tmp_path):
    f = tmp_path / "t"
    f.write_bytes(b"ok\xff")
    with pytest.raises(InputError, match="not UTF-8"):
        read_text_input(f, "policy")


@pytest.mark.parametrize("depth", [1, MAX_JSON_DEPTH])
def test_json_depth_within_limit(depth):
    assert load_json("[" * depth + "]" * depth, "doc") is not None


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"a":' * 200_000 + "1" + "}" * 200_000,
                                  "[" * 100_000])
def test_json_depth_over_limit_is_one_line(text):
    with pytest.raises(InputError, match=f"deeper than {MAX_JSON_DEPTH} levels") as info:
        load_json(text, "policy file p.json")
    assert "\n" not in str(info.value)


def test_json_brackets_inside_strings_do_not_count():
    text = '{"a": "' + "[" * 1000 + '"}'
    check_json_depth(text, "doc")
    assert load_json(text, "doc") == {"a": "[" * 1000}


def test_json_syntax_error_is_one_line(tmp_path):
    f = tmp_path / "c.json"
    f.write_text('{"a": }')
    with pytest.raises(InputError, match=r"collateral file .*c.json: invalid JSON at line 1 column 7"):
        load_json_file(f, "collateral file")


@pytest.mark.parametrize("text,bits,radix,value", [
    ("0", 16, 10, 0), ("+65535", 16, 10, 65535), ("65536", 16, 10, None), ("0" * 5000 + "7", 16, 10, 7),
    ("9" * 5000, 64, 10, None), ("", 64, 10, None), ("+", 64, 10, None), ("-1", 64, 10, None),
    (" 1", 64, 10, None), ("1_000", 64, 10, None), ("١٢", 64, 10, None), ("²", 64, 10, None),
    ("ff", 64, 16, 255), ("FFFFFFFFFFFFFFFF", 64, 16, 2**64 - 1), ("1" + "0" * 16, 64, 16, None),
    ("0x10", 64, 16, None), ("f" * 10000, 64, 16, None), ("18446744073709551615", 64, 10, 2**64 - 1),
    ("18446744073709551616", 64, 10, None),
])
def test_parse_uint_follows_rust(text, bits, radix, value):
    assert parse_uint(text, bits, radix) == value


@pytest.mark.parametrize("text,value", [("60", 60.0), ("0.5", 0.5), ("+2", 2.0), (".5", 0.5), ("86400", 86400.0),
                                        ("0", None), ("86401", None), ("nan", None), ("inf", None),
                                        ("١", None), ("1_0", None), ("1" * 5000, None), ("-1", None), ("", None)])
def test_parse_seconds(text, value):
    assert parse_seconds(text) == value


def test_open_output_refuses_an_input_by_inode(tmp_path):
    policy = tmp_path / "policy.json"
    policy.write_text("{}")
    link = tmp_path / "link.log"
    link.symlink_to(policy)
    hard = tmp_path / "hard.log"
    os.link(policy, hard)
    for out in (policy, link, hard):
        with pytest.raises(InputError, match="refusing to overwrite an input"):
            open_output(out, "log file", [("policy file", str(policy))])
        with pytest.raises(InputError, match="refusing to overwrite an input"):
            refuse_input_as_output(out, [("policy file", str(policy))], "log file")
    assert policy.read_text() == "{}"


def test_open_output_truncates_a_non_input(tmp_path):
    out = tmp_path / "run.log"
    out.write_text("old content")
    with open_output(out, "log file", [("policy file", str(tmp_path / "missing"))]) as f:
        f.write("new")
    assert out.read_text() == "new"


def test_open_output_fifo_without_reader_fails_fast(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="cannot open log file"):
        open_output(fifo, "log file")


# ---------------------------------------------------------------- write_atomic, outputs, argparse types

def test_write_atomic_refuses_an_input_and_leaves_it(tmp_path):
    from migtd.inputs import write_atomic

    src = tmp_path / "in.json"
    src.write_text("keep")
    link = tmp_path / "link.json"
    link.symlink_to(src)
    for target in (src, link):
        with pytest.raises(InputError, match="refusing to overwrite an input"):
            write_atomic(target, b"new", "output", [("input", src)])
    assert src.read_text() == "keep"


def test_write_atomic_never_writes_an_existing_inode(tmp_path):
    from migtd.inputs import write_atomic

    other = tmp_path / "other"
    other.write_text("theirs")
    out = tmp_path / "out"
    os.link(other, out)
    write_atomic(out, b"mine", "output")
    assert other.read_text() == "theirs" and out.read_bytes() == b"mine"


def test_write_atomic_failure_keeps_the_old_file_and_no_temp(tmp_path, monkeypatch):
    from migtd.inputs import write_atomic

    out = tmp_path / "out.json"
    out.write_text("old")

    def broken_replace(a, b):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(InputError, match="No space left on device"):
        write_atomic(out, b"new" * 1000, "output")
    assert out.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_write_atomic_modes_symlinks_devices_and_folders(tmp_path):
    from migtd.inputs import write_atomic

    key = tmp_path / "key.pem"
    write_atomic(key, b"secret", "key", mode=0o600)
    assert key.stat().st_mode & 0o777 == 0o600
    existing = tmp_path / "existing"
    existing.write_text("x")
    existing.chmod(0o640)
    write_atomic(existing, b"y", "output")
    assert existing.stat().st_mode & 0o777 == 0o640          # a replaced file keeps its mode
    target = tmp_path / "target"
    target.write_text("old")
    link = tmp_path / "link"
    link.symlink_to(target)
    write_atomic(link, b"new", "output")
    assert link.is_symlink() and target.read_text() == "new"
    write_atomic("/dev/null", b"discarded", "output")        # a device is written in place, not renamed over
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")
    with pytest.raises(InputError, match="directory"):
        write_atomic(tmp_path, b"x", "output")
    write_atomic(tmp_path / "a" / "b" / "c.txt", b"deep", "output", parents=True)
    assert (tmp_path / "a" / "b" / "c.txt").read_bytes() == b"deep"


def test_atomic_output_streams_into_a_rename_and_cleans_up_on_failure(tmp_path):
    """The streamed form (a large CSV export): the old file stays until the block ends, and a
    failure inside the block removes the temporary file and keeps the old one."""
    from migtd.inputs import atomic_output

    out = tmp_path / "rows.csv"
    out.write_text("old\n")
    source = tmp_path / "input.json"
    source.write_text("{}")
    with atomic_output(out, "CSV output", [("input", source)]) as fh:
        fh.write("a,b\n")
        assert out.read_text() == "old\n"          # nothing visible before the rename
        fh.write("1,2\n")
    assert out.read_text() == "a,b\n1,2\n"
    with pytest.raises(RuntimeError, match="half-way"), atomic_output(out, "CSV output") as fh:
        fh.write("partial")
        raise RuntimeError("half-way")
    assert out.read_text() == "a,b\n1,2\n" and sorted(p.name for p in tmp_path.iterdir()) == ["input.json",
                                                                                              "rows.csv"]
    with pytest.raises(InputError, match="refusing to overwrite an input"), \
            atomic_output(source, "CSV output", [("input", source)]):
        pytest.fail("the block must not run for an output that is an input")
    assert source.read_text() == "{}"


def test_refuse_duplicate_outputs(tmp_path):
    from migtd.inputs import refuse_duplicate_outputs

    (tmp_path / "sub").mkdir()
    refuse_duplicate_outputs([("--out", tmp_path / "a"), ("--chain-out", tmp_path / "b"), ("--key-out", None)])
    with pytest.raises(InputError, match="--chain-out .* is the same file as --out"):
        refuse_duplicate_outputs([("--out", tmp_path / "a"), ("--chain-out", tmp_path / "sub" / ".." / "a")])
    (tmp_path / "x").write_text("1")
    os.link(tmp_path / "x", tmp_path / "y")
    with pytest.raises(InputError):
        refuse_duplicate_outputs([("one", tmp_path / "x"), ("two", tmp_path / "y")])


@pytest.mark.parametrize("text", ["-1", "", "1_0", "١", "0x1", " 1", "9" * 10_000, "4294967296"])
def test_uint_arg_refuses_in_one_argparse_line(text):
    import argparse

    from migtd.inputs import uint_arg

    with pytest.raises(argparse.ArgumentTypeError) as exc:
        uint_arg(32)(text)
    assert "\n" not in str(exc.value) and len(str(exc.value)) < 120


def test_seconds_arg():
    import argparse

    from migtd.inputs import seconds_arg

    assert seconds_arg(60)("1.5") == 1.5
    for bad in ("0", "61", "nan", "inf", "1e3", "１"):
        with pytest.raises(argparse.ArgumentTypeError):
            seconds_arg(60)(bad)


def test_uint_arg_range():
    """``minimum``/``maximum`` narrow a flag (``fleet synth --hosts`` from 1); the message says the range."""
    import argparse

    from migtd.inputs import uint_arg

    hosts = uint_arg(32, minimum=1, maximum=100_000)
    assert hosts("1") == 1 and hosts("+100000") == 100_000
    for bad in ("0", "100001", "4294967296", "-1", "x"):
        with pytest.raises(argparse.ArgumentTypeError, match="from 1 to 100000"):
            hosts(bad)
