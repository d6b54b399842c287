"""Inventories: the hosts to collect from, in the formats operators already keep.

Accepted (docs/fleet.md "Inventories" has examples):

* a plain host list — YAML (a list of names or of ``{name, address, user,
  port, groups, vars}`` mappings, optionally under ``hosts:``) or text with one
  name per line (which is also a valid Ansible INI inventory);
* an Ansible inventory. When Ansible's ``ansible-inventory`` is installed it
  reads the file (``ansible-inventory -i FILE --list``: every inventory plugin,
  dynamic scripts and folders included, with Ansible's own variable
  precedence); otherwise the static INI and YAML forms are read here: groups,
  ``:children`` and ``:vars`` sections, host ranges (``web[01:20]``),
  ``host:port``, and group variables applied from the outermost group inwards
  with host variables last, as Ansible does.

Only what collection needs is kept per host: the connection (``ansible_host``,
``ansible_port``, ``ansible_user``, ``ansible_ssh_private_key_file``), the
groups (for the matrix's filters) and the ``migtd_*`` variables that override
the collector's defaults per host (``migtd_tool``, ``migtd_attestation``,
``migtd_policy``, ``migtd_root_ca``, ``migtd_issuer_chain``).

Host names become file names and addresses become ``ssh`` arguments, so both
are checked: a name with a slash or an address starting with ``-`` is refused
with one line naming it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migtd.fleet.evidence import valid_host_name
from migtd.inputs import InputError, load_json, parse_uint, read_input

#: Largest inventory read (and largest ``ansible-inventory`` answer accepted).
MAX_INVENTORY = 8 * 1024 * 1024
#: Deadline for ``ansible-inventory --list``.
ANSIBLE_TIMEOUT = 120.0
#: Most hosts one range pattern may expand to.
MAX_RANGE = 100_000
#: Variables kept per host (connection and per-host collection settings).
KEPT_VARS = ("ansible_ssh_private_key_file", "migtd_tool", "migtd_attestation", "migtd_policy", "migtd_root_ca",
             "migtd_issuer_chain")
_HIDDEN_GROUPS = frozenset({"all", "ungrouped"})
_ADDRESS = re.compile(r"[A-Za-z0-9_.:%\[\]-]+")
_USER = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.@-]*")
_RANGE = re.compile(r"\[([0-9A-Za-z]*):([0-9A-Za-z]*)(?::([0-9]+))?\]")


class InventoryError(InputError):
    """An inventory that cannot be used (exit 1); the message names the file and the problem."""


@dataclass(frozen=True)
class Host:
    """One inventory host: how to reach it and which groups it is in."""

    name: str
    address: str
    user: str = ""
    port: int | None = None
    groups: tuple[str, ...] = ()
    vars: dict[str, str] = field(default_factory=dict, hash=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "address": self.address, "user": self.user or None, "port": self.port,
                "groups": list(self.groups), "vars": dict(self.vars)}


@dataclass
class Inventory:
    """The hosts of an inventory, in name order, and which reader produced them."""

    hosts: list[Host]
    source: str
    reader: str

    def limited(self, pattern: str) -> Inventory:
        """Only hosts named ``pattern`` or in group ``pattern``; an empty result is an error."""
        kept = [h for h in self.hosts if h.name == pattern or pattern in h.groups]
        if not kept:
            raise InventoryError(f"inventory {self.source}: no host or group named {pattern!r}")
        return Inventory(kept, self.source, self.reader)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "reader": self.reader, "hosts": [h.to_dict() for h in self.hosts]}


# --------------------------------------------------------------------------- building hosts


class _Builder:
    """Groups, memberships and variables as an inventory declares them, then resolved per host."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.host_vars: dict[str, dict[str, Any]] = {}
        self.group_vars: dict[str, dict[str, Any]] = {}
        self.members: dict[str, list[str]] = {}      # group -> hosts
        self.children: dict[str, list[str]] = {}     # group -> child groups
        self.order: list[str] = []                   # hosts in first-seen order

    def error(self, problem: str) -> InventoryError:
        return InventoryError(f"inventory {self.source}: {problem}")

    def group(self, name: str) -> None:
        if not name or any(c.isspace() for c in name):
            raise self.error(f"group name {name[:60]!r} is not a name")
        self.members.setdefault(name, [])
        self.children.setdefault(name, [])
        self.group_vars.setdefault(name, {})

    def add_host(self, name: str, group: str, hostvars: dict[str, Any]) -> None:
        if name not in self.host_vars:
            self.host_vars[name] = {}
            self.order.append(name)
        self.host_vars[name].update(hostvars)
        self.group(group)
        if name not in self.members[group]:
            self.members[group].append(name)

    def add_child(self, parent: str, child: str) -> None:
        self.group(parent)
        self.group(child)
        if child not in self.children[parent]:
            self.children[parent].append(child)

    def _depths(self) -> dict[str, int]:
        """Each group's depth below ``all`` (its longest path from it), as Ansible orders group variables.

        Relaxation over the parent → child edges, at most one round per group,
        so a cycle in a hostile inventory ends instead of looping.
        """
        depth = {g: 0 for g in self.members}
        edges = [(p, c) for p, kids in self.children.items() for c in kids if c != "all"]
        for _ in range(len(depth)):
            changed = False
            for parent, child in edges:
                if depth[parent] + 1 > depth[child]:
                    depth[child] = depth[parent] + 1
                    changed = True
            if not changed:
                break
        return depth

    def _ancestors(self, groups: Iterable[str]) -> set[str]:
        parents: dict[str, list[str]] = {}
        for parent, kids in self.children.items():
            for kid in kids:
                parents.setdefault(kid, []).append(parent)
        out: set[str] = set()
        stack = list(groups)
        while stack:
            g = stack.pop()
            if g in out:
                continue
            out.add(g)
            stack.extend(parents.get(g, []))
        return out

    def build(self, reader: str) -> Inventory:
        depth = self._depths()
        hosts: list[Host] = []
        for name in self.order:
            direct = [g for g, members in self.members.items() if name in members]
            groups = self._ancestors(direct) | {"all"}
            merged: dict[str, Any] = {}
            for g in sorted(groups, key=lambda g: (depth.get(g, 0), g)):
                merged.update(self.group_vars.get(g, {}))
            merged.update(self.host_vars[name])
            hosts.append(make_host(name, merged, sorted(groups - _HIDDEN_GROUPS), self.source))
        hosts.sort(key=lambda h: h.name)
        return Inventory(hosts, self.source, reader)


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def make_host(name: str, variables: dict[str, Any], groups: list[str], source: str) -> Host:
    """A :class:`Host` from its merged variables, with name, address, user and port checked."""
    def bad(problem: str) -> InventoryError:
        return InventoryError(f"inventory {source}: host {name[:80]!r}: {problem}")

    if not valid_host_name(name) or "/" in name or name.startswith("."):
        raise bad("the name must be printable ASCII without spaces or '/', not start with '.', "
                  "and be at most 253 characters")
    address = _scalar(variables.get("ansible_host", variables.get("ansible_ssh_host", name))) or name
    if not _ADDRESS.fullmatch(address) or address.startswith("-"):
        raise bad(f"ansible_host {address[:80]!r} is not a host name or address")
    user = _scalar(variables.get("ansible_user", variables.get("ansible_ssh_user", ""))) or ""
    if user and not _USER.fullmatch(user):
        raise bad(f"ansible_user {user[:80]!r} is not a user name")
    port_value = variables.get("ansible_port", variables.get("ansible_ssh_port"))
    port = None
    if port_value is not None and port_value != "":
        port = parse_uint(str(port_value), 16) if not isinstance(port_value, bool) else None
        if port is None or port == 0:
            raise bad(f"ansible_port {str(port_value)[:40]!r} is not a port number")
    kept = {k: s for k in KEPT_VARS if (s := _scalar(variables.get(k))) is not None and s != ""}
    return Host(name, address, user, port, tuple(groups), kept)


# --------------------------------------------------------------------------- host patterns


def expand_pattern(pattern: str, source: str = "inventory") -> list[str]:
    """Ansible host ranges: ``web[01:03]`` → web01, web02, web03; ``[a:c]``; ``[1:9:2]``."""
    m = _RANGE.search(pattern)
    if m is None:
        return [pattern]
    start, end, step_text = m.group(1), m.group(2), m.group(3)
    head, tail = pattern[:m.start()], pattern[m.end():]
    bad = InventoryError(f"{source}: host range {m.group(0)[:40]!r} in {pattern[:80]!r} is not "
                         "[start:end] of numbers or of single letters")
    step = parse_uint(step_text, 32) if step_text else 1
    if start.isdigit() and end.isdigit():
        lo, hi = parse_uint(start, 64), parse_uint(end, 64)
        if lo is None or hi is None:
            raise bad
        width = len(start) if start.startswith("0") and len(start) > 1 else 0
    elif len(start) == 1 and len(end) == 1 and start.isalpha() and end.isalpha():
        lo, hi, width = ord(start), ord(end), -1
    else:
        raise bad
    count = (hi - lo) // step + 1 if step and hi >= lo else 0
    if not 1 <= count <= MAX_RANGE:
        raise InventoryError(f"{source}: host range {m.group(0)[:40]!r} expands to {count} hosts "
                             f"(1 to {MAX_RANGE} allowed)")
    values = [chr(i) if width < 0 else str(i).zfill(width) for i in range(lo, hi + 1, step or 1)]  # count >= 1 says step is set
    out: list[str] = []
    for v in values:
        out.extend(expand_pattern(head + v + tail, source))
        if len(out) > MAX_RANGE:
            raise InventoryError(f"{source}: {pattern[:80]!r} expands to more than {MAX_RANGE} hosts")
    return out


# --------------------------------------------------------------------------- INI


def _ini_value(text: str) -> Any:
    """An INI variable value: quotes removed, like Ansible's literal parsing of simple values."""
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def parse_ini(text: str, source: str) -> Inventory:
    """Ansible's static INI inventory (also a plain list: one host name per line)."""
    b = _Builder(source)
    b.group("all")
    b.group("ungrouped")
    section, kind = "ungrouped", "hosts"
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        where = f"line {number}"
        if line.startswith("["):
            if not line.endswith("]"):
                raise b.error(f"{where}: section header {line[:60]!r} has no closing ']'")
            name = line[1:-1].strip()
            section, _, kind = name.partition(":")
            kind = kind or "hosts"
            if kind not in ("hosts", "vars", "children"):
                raise b.error(f"{where}: section [{name[:60]}] is not [group], [group:vars] or [group:children]")
            b.group(section)
            if section != "all" and kind != "vars":
                b.add_child("all", section)
            continue
        if kind == "vars":
            key, eq, value = line.partition("=")
            if not eq or not key.strip():
                raise b.error(f"{where}: [{section}:vars] expects key=value, got {line[:60]!r}")
            b.group_vars[section][key.strip()] = _ini_value(value.strip())
            continue
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError as exc:
            raise b.error(f"{where}: {exc}") from None
        if not tokens:
            continue
        if kind == "children":
            b.add_child(section, tokens[0])
            continue
        pattern, hostvars = tokens[0], {}
        for token in tokens[1:]:
            key, eq, value = token.partition("=")
            if not eq or not key:
                raise b.error(f"{where}: host variable {token[:60]!r} is not key=value")
            hostvars[key] = value
        port_match = re.fullmatch(r"(.+?):([0-9]+)", pattern)
        if port_match and "[" not in pattern.split(":")[-1]:
            pattern = port_match.group(1)
            hostvars.setdefault("ansible_port", port_match.group(2))
        for name in expand_pattern(pattern, f"inventory {source} {where}"):
            b.add_host(name, section, hostvars)
            if section != "ungrouped":
                b.add_child("all", section)
    # Hosts that only appear in [ungrouped] stay there; a host in any real group leaves it.
    grouped = {h for g, members in b.members.items() if g not in _HIDDEN_GROUPS for h in members}
    b.members["ungrouped"] = [h for h in b.members["ungrouped"] if h not in grouped]
    return b.build("builtin INI")


# --------------------------------------------------------------------------- YAML


def _yaml(text: str, source: str) -> Any:
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML is a dependency; this guards broken installs
        raise InventoryError(f"inventory {source} is YAML, and PyYAML is not installed "
                             "(pip install PyYAML)") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise InventoryError(f"inventory {source}: not valid YAML{where}: {problem}") from None
    except RecursionError:
        raise InventoryError(f"inventory {source}: YAML nested too deeply") from None


def _plain(items: Any, source: str) -> Inventory:
    """The plain list format: names, or mappings with name/address/user/port/groups/vars."""
    if not isinstance(items, list):
        raise InventoryError(f"inventory {source}: hosts must be a list")
    hosts: dict[str, Host] = {}
    for i, item in enumerate(items):
        where = f"hosts[{i}]"
        if isinstance(item, str):
            name, variables, groups = item, {}, []
        elif isinstance(item, dict):
            given = item.get("name")
            if not isinstance(given, str):
                raise InventoryError(f"inventory {source}: {where} has no name (a string)")
            name = given
            raw_vars = item.get("vars") or {}
            if not isinstance(raw_vars, dict):
                raise InventoryError(f"inventory {source}: {where}.vars is not a mapping")
            variables = {str(k): v for k, v in raw_vars.items()}
            for key, var in (("address", "ansible_host"), ("host", "ansible_host"), ("user", "ansible_user"),
                             ("port", "ansible_port")):
                if key in item:
                    variables[var] = item[key]
            variables.update({k: v for k, v in item.items() if isinstance(k, str) and k.startswith("migtd_")})
            raw_groups = item.get("groups") or []
            if isinstance(raw_groups, str):
                raw_groups = [raw_groups]
            if not isinstance(raw_groups, list) or not all(isinstance(g, str) for g in raw_groups):
                raise InventoryError(f"inventory {source}: {where}.groups is not a list of names")
            groups = sorted(set(raw_groups) - _HIDDEN_GROUPS)
        else:
            raise InventoryError(f"inventory {source}: {where} is neither a name nor a mapping")
        if name in hosts:
            raise InventoryError(f"inventory {source}: host {name[:80]!r} is listed twice")
        hosts[name] = make_host(name, variables, groups, source)
    return Inventory(sorted(hosts.values(), key=lambda h: h.name), source, "builtin list")


def is_plain_list(doc: Any) -> bool:
    """True for the plain list format (a list, or a mapping whose only key is ``hosts`` holding a list)."""
    return isinstance(doc, list) or (isinstance(doc, dict) and set(doc) == {"hosts"}
                                     and isinstance(doc["hosts"], list))


def parse_yaml_inventory(doc: Any, source: str) -> Inventory:
    """Ansible's YAML inventory: groups with ``hosts``, ``vars`` and ``children`` (or a plain list)."""
    if is_plain_list(doc):
        return _plain(doc if isinstance(doc, list) else doc["hosts"], source)
    if not isinstance(doc, dict):
        raise InventoryError(f"inventory {source}: the top level is not a mapping of groups or a host list")
    b = _Builder(source)
    b.group("all")
    b.group("ungrouped")
    stack: list[tuple[str, Any, str | None]] = [(str(k), v, None) for k, v in doc.items()]
    visits = 0
    while stack:
        name, body, parent = stack.pop()
        visits += 1
        if visits > 1_000_000:
            raise b.error("too many group entries (is the YAML built from aliases?)")
        b.group(name)
        if parent is not None:
            b.add_child(parent, name)
        elif name != "all":
            b.add_child("all", name)
        if body is None:
            continue
        if not isinstance(body, dict):
            raise b.error(f"group {name[:60]!r} is not a mapping")
        unknown = set(body) - {"hosts", "vars", "children"}
        if unknown:
            raise b.error(f"group {name[:60]!r} has unknown key(s) {', '.join(sorted(map(str, unknown)))[:80]} "
                          "(expected hosts, vars, children)")
        variables = body.get("vars") or {}
        if not isinstance(variables, dict):
            raise b.error(f"group {name[:60]!r}: vars is not a mapping")
        b.group_vars[name].update({str(k): v for k, v in variables.items()})
        hosts = body.get("hosts") or {}
        if not isinstance(hosts, dict):
            raise b.error(f"group {name[:60]!r}: hosts is not a mapping of host names")
        for pattern, hostvars in hosts.items():
            if hostvars is not None and not isinstance(hostvars, dict):
                raise b.error(f"group {name[:60]!r}: host {str(pattern)[:60]!r} has variables that are not "
                              "a mapping")
            for host in expand_pattern(str(pattern), f"inventory {source}"):
                b.add_host(host, name, {str(k): v for k, v in (hostvars or {}).items()})
        children = body.get("children") or {}
        if not isinstance(children, dict):
            raise b.error(f"group {name[:60]!r}: children is not a mapping of groups")
        stack.extend((str(k), v, name) for k, v in children.items())
    grouped = {h for g, members in b.members.items() if g not in _HIDDEN_GROUPS for h in members}
    b.members["all"] = []
    b.members["ungrouped"] = [h for h in b.order if h not in grouped]
    return b.build("builtin YAML")


# --------------------------------------------------------------------------- ansible-inventory --list


def parse_ansible_list(doc: Any, source: str, reader: str = "ansible-inventory") -> Inventory:
    """The JSON ``ansible-inventory --list`` prints (host variables already merged by Ansible)."""
    if not isinstance(doc, dict):
        raise InventoryError(f"inventory {source}: ansible-inventory output is not a JSON object")
    meta = doc.get("_meta") or {}
    hostvars = meta.get("hostvars") if isinstance(meta, dict) else None
    if not isinstance(hostvars, dict):
        hostvars = {}
    b = _Builder(source)
    b.group("all")
    for name, body in doc.items():
        if name == "_meta":
            continue
        if not isinstance(body, dict):
            raise b.error(f"ansible-inventory group {str(name)[:60]!r} is not an object")
        b.group(str(name))
        for host in body.get("hosts") or []:
            if not isinstance(host, str):
                raise b.error(f"ansible-inventory group {str(name)[:60]!r} lists a host that is not a name")
            variables = hostvars.get(host) or {}
            b.add_host(host, str(name), variables if isinstance(variables, dict) else {})
        for child in body.get("children") or []:
            if isinstance(child, str):
                b.add_child(str(name), child)
    for host in hostvars:  # hosts known only through their variables
        if isinstance(host, str) and host not in b.host_vars:
            b.add_host(host, "ungrouped", hostvars[host] if isinstance(hostvars[host], dict) else {})
    return b.build(reader)


def find_ansible_inventory() -> str | None:
    """``ansible-inventory`` on PATH, else beside this Python (a virtual environment's bin)."""
    found = shutil.which("ansible-inventory")
    if found:
        return found
    beside = Path(sys.executable).parent / "ansible-inventory"
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else None


def run_ansible_inventory(program: str, path: Path) -> Any:
    """``ansible-inventory -i PATH --list`` with a deadline; its JSON, or one line saying why not."""
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_INVENTORY_UNPARSED_FAILED": "1"}
    try:
        proc = subprocess.run([program, "-i", str(path), "--list"], stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=ANSIBLE_TIMEOUT, env=env, check=False)
    except subprocess.TimeoutExpired:
        raise InventoryError(f"inventory {path}: ansible-inventory did not answer within {ANSIBLE_TIMEOUT:g} s") \
            from None
    except OSError as exc:
        raise InventoryError(f"inventory {path}: cannot run {program}: {exc.strerror or exc}") from None
    if proc.returncode != 0:
        lines = [ln.strip() for ln in proc.stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
        last = lines[-1] if lines else f"exit status {proc.returncode}"
        raise InventoryError(f"inventory {path}: ansible-inventory failed: {last[:300]}")
    if len(proc.stdout) > MAX_INVENTORY:
        raise InventoryError(f"inventory {path}: ansible-inventory answered more than {MAX_INVENTORY} bytes")
    return load_json(proc.stdout, f"ansible-inventory output for {path}")


# --------------------------------------------------------------------------- entry point


def _looks_yaml(text: str) -> bool:
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("---", "- ", "{")) or line == "-" or line.endswith(":") or ": " in line:
            return True
        if line.startswith(("[", ";")):
            return False
    return False


def load_inventory(path: str | Path, *, reader: str = "auto", ansible_inventory: str | None = None) -> Inventory:
    """Read an inventory (see module doc). ``reader``: ``auto``, ``ansible`` or ``builtin``."""
    path = Path(path)
    source = str(path)
    if reader not in ("auto", "ansible", "builtin"):
        raise InventoryError(f"inventory reader {reader!r} is not auto, ansible or builtin")
    program = ansible_inventory or (find_ansible_inventory() if reader != "builtin" else None)
    if reader == "ansible" and program is None:
        raise InventoryError("ansible-inventory is not installed (pip install ansible-core), or use "
                             "--inventory-reader builtin")
    if path.is_dir():
        if program is None:
            raise InventoryError(f"inventory {source} is a folder: reading it needs ansible-inventory "
                                 "(pip install ansible-core)")
        inventory = parse_ansible_list(run_ansible_inventory(program, path), source)
    else:
        text = _text(path)
        suffix = path.suffix.lower()
        doc: Any = None
        if suffix == ".json" or text.lstrip().startswith("{"):
            doc = load_json(text, f"inventory {source}")
            if isinstance(doc, dict) and "_meta" in doc:
                return _nonempty(parse_ansible_list(doc, source, "ansible-inventory JSON"))
        declared_yaml = doc is not None or suffix in (".yml", ".yaml")
        is_yaml = declared_yaml or (suffix not in (".ini", ".cfg") and _looks_yaml(text))
        if is_yaml and doc is None:
            try:
                doc = _yaml(text, source)
            except InventoryError:
                if declared_yaml:
                    raise
                is_yaml = False  # only looked like YAML: an INI inventory with a colon in a value
            if not declared_yaml and not isinstance(doc, (dict, list)):
                is_yaml = False
        if is_yaml and is_plain_list(doc):
            return _nonempty(parse_yaml_inventory(doc, source))
        if program is not None and reader != "builtin":
            inventory = parse_ansible_list(run_ansible_inventory(program, path), source)
        elif os.access(path, os.X_OK) and text.startswith("#!"):
            raise InventoryError(f"inventory {source} is a script (dynamic inventory): reading it needs "
                                 "ansible-inventory (pip install ansible-core)")
        elif is_yaml:
            inventory = parse_yaml_inventory(doc, source)
        else:
            inventory = parse_ini(text, source)
    return _nonempty(inventory)


def _text(path: Path) -> str:
    try:
        return read_input(path, "inventory", limit=MAX_INVENTORY).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InventoryError(f"inventory {path} is not UTF-8 text (byte {exc.start})") from None
    except InputError as exc:
        raise InventoryError(exc.message) from None


def _nonempty(inventory: Inventory) -> Inventory:
    if not inventory.hosts:
        raise InventoryError(f"inventory {inventory.source} names no hosts")
    return inventory
