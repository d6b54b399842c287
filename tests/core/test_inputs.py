"""migtd.inputs: the one way file inputs, JSON, integers and outputs are handled."""

from __future__ import annotations

import os
import threading

import pytest

from migtd.errors import ConfigError
from migtd.inputs import (
    MAX_JSON_DEPTH, InputError, check_json_depth, load_json, load_json_file, open_output, parse_seconds,
    parse_uint, read_input, read_text_input, refuse_input_as_output,
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
