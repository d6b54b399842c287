"""Everything an operator or a peer hands us from disk, read one safe way.

Every program of the project (``migtd``, ``migtd-tool``, ``migtd-console``)
reads its file inputs, parses its JSON and its integer flags, and opens its
output files through this module, so the promises of the README's "What
MigTD-Py guarantees" hold in one place instead of at each call site:

* a file input is a *regular* file no larger than its limit, checked on the
  open descriptor before a byte is read (a FIFO without a writer cannot hang
  us, ``/dev/zero`` cannot exhaust memory);
* JSON is nested at most :data:`MAX_JSON_DEPTH` levels (serde_json's own
  recursion limit, so we refuse what upstream refuses) and never ends in a
  ``RecursionError``;
* integers follow Rust's unsigned ``from_str``: ASCII digits only, one
  optional ``+``, range-checked, with no cost for thousands of digits;
* an output (log, report, generated file) is never one of the run's inputs:
  it is opened without truncation, compared by device and inode with every
  input (symlinks and hard links included), and only then emptied.

Each failure is an :class:`InputError` (a :class:`~migtd.errors.ConfigError`,
exit 1) whose message is one line naming the file and the problem.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from migtd.errors import ConfigError

#: serde_json's recursion limit: a deeper document is refused by upstream too.
MAX_JSON_DEPTH = 128

#: Default ceiling for a file input when the caller names none (collateral,
#: signed policies and run records are all far below it).
DEFAULT_LIMIT = 16 * 1024 * 1024


class InputError(ConfigError):
    """A file, JSON document or number given to the program is unusable (exit 1)."""


# ---------------------------------------------------------------- files

def read_input(path: str | os.PathLike[str], what: str, *, limit: int = DEFAULT_LIMIT,
               allow_empty: bool = False) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them.

    The file is opened non-blocking (opening a FIFO must not wait for a
    writer), then judged on its descriptor, so a path swapped between a check
    and the read cannot slip past. ``what`` names the input in the error,
    e.g. ``"collateral file"`` gives "collateral file /x is not a regular file".
    """
    name = os.fspath(path)
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InputError(f"{what} {name} {_os_problem(exc)}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"{what} {name} is not a regular file ({_kind(st.st_mode)})")
        if st.st_size > limit:
            raise InputError(f"{what} {name} is {st.st_size} bytes, above the {limit}-byte limit")
        chunks = []
        total = 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise InputError(f"{what} {name} grew past the {limit}-byte limit while being read")
    except OSError as exc:
        raise InputError(f"{what} {name} {_os_problem(exc)}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if not data and not allow_empty:
        raise InputError(f"{what} {name} is empty")
    return data


def read_text_input(path: str | os.PathLike[str], what: str, *, limit: int = DEFAULT_LIMIT) -> str:
    """:func:`read_input` decoded as UTF-8 (an undecodable file is one line, not a traceback)."""
    data = read_input(path, what, limit=limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} {os.fspath(path)} is not UTF-8 text (byte {exc.start})") from None


def _kind(mode: int) -> str:
    for test, word in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return word
    return "not a plain file"


def _os_problem(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "does not exist"
    if isinstance(exc, PermissionError):
        return "cannot be read (permission denied)"
    if isinstance(exc, IsADirectoryError):
        return "is not a regular file (a directory)"
    return f"cannot be read ({exc.strerror or exc})"


# ---------------------------------------------------------------- outputs

def _identity(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def refuse_input_as_output(path: str | os.PathLike[str], inputs: Iterable[tuple[str, str | os.PathLike[str] | None]],
                           what: str) -> None:
    """Raise if ``path`` is (by device and inode) the same file as one of ``inputs``.

    ``inputs`` are ``(label, path)`` pairs; ``None`` paths are skipped. Use it
    before anything is written so the error comes up front, with exit 1.
    """
    target = _identity(path)
    if target is None:
        return
    for label, candidate in inputs:
        if candidate is not None and _identity(candidate) == target:
            raise InputError(f"{what} {os.fspath(path)} is the {label} ({os.fspath(candidate)}); "
                             "refusing to overwrite an input")


def open_output(path: str | os.PathLike[str], what: str,
                inputs: Iterable[tuple[str, str | os.PathLike[str] | None]] = (), *,
                binary: bool = False, append: bool = False) -> IO[Any]:
    """Open ``path`` for writing without ever truncating one of ``inputs``.

    The file is opened (created if needed) *without* ``O_TRUNC``, its device
    and inode compared with every input's, and only then truncated, so no
    race between a check and the open can destroy an input.
    """
    name = os.fspath(path)
    inputs = list(inputs)
    # O_NONBLOCK: a FIFO with no reader fails at once (ENXIO) instead of hanging the open.
    flags = (os.O_WRONLY | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
             | (os.O_APPEND if append else 0))
    try:
        fd = os.open(name, flags, 0o644)
    except OSError as exc:
        raise InputError(f"cannot open {what} {name}: {exc.strerror or exc}") from None
    try:
        os.set_blocking(fd, True)
        st = os.fstat(fd)
        for label, candidate in inputs:
            if candidate is not None and _identity(candidate) == (st.st_dev, st.st_ino):
                raise InputError(f"{what} {name} is the {label} ({os.fspath(candidate)}); "
                                 "refusing to overwrite an input")
        if not stat.S_ISREG(st.st_mode) and not stat.S_ISCHR(st.st_mode) and not stat.S_ISFIFO(st.st_mode):
            raise InputError(f"{what} {name} is not a regular file ({_kind(st.st_mode)})")
        if not append and stat.S_ISREG(st.st_mode):
            os.ftruncate(fd, 0)
        if binary:
            return os.fdopen(fd, "wb")
        return os.fdopen(fd, "a" if append else "w", encoding="utf-8")
    except InputError:
        os.close(fd)
        raise
    except OSError as exc:
        os.close(fd)
        raise InputError(f"cannot open {what} {name}: {exc.strerror or exc}") from None


def refuse_duplicate_outputs(outputs: Iterable[tuple[str, str | os.PathLike[str] | None]]) -> None:
    """Raise if two of ``outputs`` (``(label, path)`` pairs) name the same file.

    Paths are compared after resolving symlinks in their existing parts, and
    by device and inode when the file already exists, so ``--out a`` and
    ``--chain-out ./a`` (or a hard link to it) are caught before either is
    written: the second write would silently replace the first.
    """
    seen: dict[object, tuple[str, str]] = {}
    for label, candidate in outputs:
        if candidate is None:
            continue
        name = os.fspath(candidate)
        keys: list[object] = [os.path.realpath(name)]
        ident = _identity(name)
        if ident is not None:
            keys.append(ident)
        for key in keys:
            if key in seen:
                other_label, other = seen[key]
                raise InputError(f"{label} {name} is the same file as {other_label} {other}; "
                                 "give each output its own file")
        for key in keys:
            seen[key] = (label, name)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike[str], data: bytes, what: str,
                 inputs: Iterable[tuple[str, str | os.PathLike[str] | None]] = (), *,
                 mode: int | None = None, parents: bool = False) -> None:
    """Write ``data`` to ``path`` all at once: a temporary file in the same folder, then a rename.

    A reader, or a crash half-way, sees the old file or the new one, never a
    truncated mix, and no existing inode is ever written: an input that is a
    hard link of ``path`` keeps its content. ``path`` may still not *be* one of
    ``inputs`` (checked first, exit 1). A symlink is followed, so the file it
    names is replaced and the link kept. A path that exists and is not a
    regular file (``/dev/stdout``, a FIFO) is written in place through
    :func:`open_output`, since renaming over it would replace the device node.
    ``mode`` defaults to the replaced file's mode, else ``0o666`` less the
    umask; the temporary file is created ``0o600``, so a key written with
    ``mode=0o600`` is never readable by others, not even for a moment.
    """
    with atomic_output(path, what, inputs, binary=True, mode=mode, parents=parents) as out:
        out.write(data)


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike[str], what: str,
                  inputs: Iterable[tuple[str, str | os.PathLike[str] | None]] = (), *,
                  binary: bool = False, mode: int | None = None, parents: bool = False) -> Iterator[IO[Any]]:
    """:func:`write_atomic` for an output written piece by piece (a large CSV export).

    Yields the temporary file (UTF-8 text unless ``binary``); when the block
    ends normally it is flushed, synced and renamed over ``path``; when the
    block raises, it is removed and ``path`` keeps its old content.
    """
    name = os.fspath(path)
    inputs = list(inputs)
    refuse_input_as_output(name, inputs, what)
    try:
        st: os.stat_result | None = os.stat(name)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise InputError(f"cannot write {what} {name}: {exc.strerror or exc}") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise InputError(f"cannot write {what} {name}: it is a directory")
    if st is not None and not stat.S_ISREG(st.st_mode):
        with open_output(name, what, inputs, binary=binary) as out:
            yield out
        return
    import tempfile  # here, not at module level: ``migtd`` imports this module on every start

    target = os.path.realpath(name)
    folder = os.path.dirname(target) or "."
    try:
        if parents:
            os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(target)}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise InputError(f"cannot write {what} {name}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        if mode is None:
            mode = stat.S_IMODE(st.st_mode) if st is not None else 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise InputError(f"cannot write {what} {name}: {exc.strerror or exc}") from None
        raise


# ---------------------------------------------------------------- JSON

_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
#: Every byte but a quote and the four brackets: deleted to get a document's skeleton.
_NOT_SKELETON = bytes(b for b in range(256) if b not in b'"[]{}')


def check_json_depth(text: str | bytes, what: str, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Refuse ``text`` if its arrays and objects nest deeper than ``max_depth``.

    A linear scan that skips string contents, so it never recurses. Cheap when
    the text holds fewer brackets than the limit (most files): then it returns
    at once. Otherwise the depth is measured on the document's skeleton —
    escaped backslashes and quotes removed, then every byte but quotes and
    brackets — where a string without brackets is an empty pair of quotes
    (dropped) and any other string is a quote-delimited run (skipped), so a
    signed collateral body with hundreds of brackets costs microseconds. A
    document found too deep is scanned token by token to name the offending
    character.
    """
    data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
    if data.count(b"[") + data.count(b"{") <= max_depth:
        return
    if b"\\" in data:
        data = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    skeleton = data.translate(None, _NOT_SKELETON).replace(b'""', b"")
    if b'"' in skeleton:
        skeleton = b"".join(skeleton.split(b'"')[0::2])
    depth = 0
    for ch in skeleton:
        if ch == 0x5B or ch == 0x7B:   # [ {
            depth += 1
            if depth > max_depth:
                break
        else:
            depth -= 1
    else:
        return
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > max_depth:
                raise InputError(f"{what}: JSON nested deeper than {max_depth} levels "
                                 f"(at character {match.start()})")
        elif token in "]}":
            depth -= 1


def load_json(data: str | bytes, what: str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse JSON with the depth limit; any syntax problem is one line naming ``what``."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InputError(f"{what}: not UTF-8 text (byte {exc.start})") from None
    check_json_depth(data, what, max_depth=max_depth)
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise InputError(f"{what}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{what}: invalid JSON: {exc}") from None


def load_json_file(path: str | os.PathLike[str], what: str, *, limit: int = DEFAULT_LIMIT,
                   max_depth: int = MAX_JSON_DEPTH) -> Any:
    """:func:`read_input` then :func:`load_json`; errors name the file."""
    data = read_input(path, what, limit=limit)
    return load_json(data, f"{what} {os.fspath(path)}", max_depth=max_depth)


# ---------------------------------------------------------------- integers

_BITS_DIGITS = {8: 3, 16: 5, 32: 10, 64: 20, 128: 39}


def parse_uint(text: str, bits: int, radix: int = 10) -> int | None:
    """Rust's unsigned ``from_str_radix``: ``None`` where Rust returns ``Err``.

    One optional leading ``+``, then at least one ASCII digit of ``radix``
    (10 or 16), value below ``2**bits``. Leading zeros are accepted, as Rust
    accepts them; a value with thousands of digits costs nothing (its length
    is judged before any conversion). Unicode digits, signs, spaces and
    underscores are refused.
    """
    body = text.removeprefix("+")
    if not body:
        return None
    if radix == 10:
        if not (body.isascii() and body.isdigit()):
            return None
        significant = body.lstrip("0")
        if len(significant) > _BITS_DIGITS.get(bits, bits):
            return None
    elif radix == 16:
        if not body.isascii() or any(c not in "0123456789abcdefABCDEF" for c in body):
            return None
        significant = body.lstrip("0")
        if len(significant) * 4 > bits + 3:
            return None
    else:
        raise ValueError(f"unsupported radix {radix}")
    value = int(significant or "0", radix)
    return value if value < 1 << bits else None


def parse_seconds(text: str, *, maximum: float = 86400.0) -> float | None:
    """A positive duration in seconds (ASCII decimal, at most ``maximum``), else ``None``.

    Python's ``float`` accepts Unicode digits, ``_`` separators, ``nan`` and
    ``inf``; none of these is a duration an operator means, so all are refused.
    """
    body = text.strip()
    if not body or len(body) > 32 or not body.isascii() or not re.fullmatch(r"\+?(\d+\.?\d*|\.\d+)", body):
        return None
    value = float(body)
    return value if 0 < value <= maximum else None


# ---------------------------------------------------------------- argparse

def uint_arg(bits: int, radix: int = 10, *, minimum: int = 0,
             maximum: int | None = None) -> Callable[[str], int]:
    """An argparse ``type=`` for an unsigned integer flag with :func:`parse_uint`'s rules.

    argparse turns the :class:`argparse.ArgumentTypeError` into its own
    error line naming the flag, e.g. "argument --policy-svn: ..." .
    ``minimum``/``maximum`` narrow the range a flag accepts (``--hosts`` from 1).
    """
    top = (1 << bits) - 1 if maximum is None else maximum

    def convert(text: str) -> int:
        value = parse_uint(text, bits, radix)
        if value is None or not minimum <= value <= top:
            import argparse

            shown = text if len(text) <= 24 else text[:21] + "..."
            if minimum == 0 and maximum is None:
                raise argparse.ArgumentTypeError(f"{shown!r} is not an unsigned {bits}-bit integer "
                                                 f"({'ASCII digits' if radix == 10 else 'hex digits'}, "
                                                 f"at most {top})")
            raise argparse.ArgumentTypeError(f"{shown!r} is not a whole number from {minimum} to {top} "
                                             f"({'ASCII digits' if radix == 10 else 'hex digits'})")
        return value
    convert.__name__ = f"u{bits}"
    return convert


def seconds_arg(maximum: float = 86400.0) -> Callable[[str], float]:
    """An argparse ``type=`` for a duration in seconds with :func:`parse_seconds`' rules."""
    def convert(text: str) -> float:
        value = parse_seconds(text, maximum=maximum)
        if value is None:
            import argparse

            shown = text if len(text) <= 24 else text[:21] + "..."
            raise argparse.ArgumentTypeError(f"{shown!r} is not a number of seconds above 0 and at most "
                                             f"{maximum:g}")
        return value
    convert.__name__ = "seconds"
    return convert
