"""Inventories (plain lists, Ansible INI/YAML, ansible-inventory) and the SSH command lines built from them.

The built-in reader of static Ansible inventories is compared with Ansible's
own ``ansible-inventory --list`` on the same files: same hosts, addresses,
users, ports, groups and ``migtd_*`` variables.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from migtd.fleet.inventory import Host, expand_pattern, find_ansible_inventory, load_inventory
from migtd.fleet.ssh import NO_TOOL, READY, RemoteSettings, classify, remote_command, ssh_argv
from migtd.tool.main import main

INI = """\
# a comment
lonely ansible_host=10.0.0.9   # trailing comment

[east]
web[01:03].example.com ansible_user=deploy
db1 ansible_host=10.0.0.5 ansible_port=2222 migtd_tool=/opt/m/bin/migtd-tool
edge.example.com:2201

[west]
w1 ansible_host="10.1.0.1"
w[a:c]

[prod:children]
east
west

[prod:vars]
ansible_user=ops
migtd_attestation=azure

[east:vars]
ansible_user=eastie
migtd_policy=/etc/migtd/policy.json

[all:vars]
migtd_root_ca=/etc/migtd/root_ca.der
"""

YAML = """\
all:
  vars:
    ansible_user: root
  hosts:
    solo:
      ansible_host: 10.9.9.9
  children:
    east:
      hosts:
        e[1:3:2]:
          ansible_port: 2200
      vars:
        migtd_tool: /x/migtd-tool
    prod:
      vars:
        migtd_attestation: mock-report
      children:
        east:
        west:
          hosts:
            w1:
              ansible_user: w
              migtd_issuer_chain: /etc/chain.pem
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_static_ini_groups_children_vars_ranges(tmp_path: Path) -> None:
    inv = load_inventory(_write(tmp_path, "hosts.ini", INI), reader="builtin")
    hosts = {h.name: h for h in inv.hosts}
    assert sorted(hosts) == ["db1", "edge.example.com", "lonely", "w1", "wa", "wb", "wc", "web01.example.com",
                             "web02.example.com", "web03.example.com"]
    assert hosts["db1"] == Host("db1", "10.0.0.5", "eastie", 2222, ("east", "prod"))
    assert hosts["db1"].vars == {"migtd_tool": "/opt/m/bin/migtd-tool", "migtd_attestation": "azure",
                                 "migtd_policy": "/etc/migtd/policy.json", "migtd_root_ca": "/etc/migtd/root_ca.der"}
    assert (hosts["web02.example.com"].user, hosts["w1"].user, hosts["w1"].address) == ("deploy", "ops", "10.1.0.1")
    assert hosts["edge.example.com"].port == 2201 and hosts["lonely"].groups == ()
    assert inv.reader == "builtin INI"
    assert [h.name for h in inv.limited("west").hosts] == ["w1", "wa", "wb", "wc"]


def test_builtin_reader_agrees_with_ansible_inventory(tmp_path: Path) -> None:
    program = find_ansible_inventory()
    assert program is not None, "ansible-core is a [dev] dependency: ansible-inventory must be installed"
    for name, text in (("hosts.ini", INI), ("hosts.yml", YAML)):
        path = _write(tmp_path, name, text)
        ours = load_inventory(path, reader="builtin")
        theirs = load_inventory(path, reader="ansible")
        assert theirs.reader == "ansible-inventory"
        assert [h.to_dict() for h in ours.hosts] == [h.to_dict() for h in theirs.hosts], name


def test_yaml_inventory_and_auto_reader(tmp_path: Path) -> None:
    inv = load_inventory(_write(tmp_path, "hosts.yml", YAML), reader="builtin")
    hosts = {h.name: h for h in inv.hosts}
    assert sorted(hosts) == ["e1", "e3", "solo", "w1"]
    assert hosts["e3"] == Host("e3", "e3", "root", 2200, ("east", "prod"))
    assert hosts["e3"].vars == {"migtd_tool": "/x/migtd-tool", "migtd_attestation": "mock-report"}
    assert hosts["w1"].user == "w" and hosts["w1"].vars["migtd_issuer_chain"] == "/etc/chain.pem"
    assert hosts["solo"].address == "10.9.9.9" and hosts["solo"].groups == ()
    assert load_inventory(tmp_path / "hosts.yml").reader == "ansible-inventory"  # auto: Ansible is installed


def test_plain_lists(tmp_path: Path) -> None:
    text = load_inventory(_write(tmp_path, "hosts", "alpha\nbeta\n\n# gamma\n"), reader="auto")
    assert [h.name for h in text.hosts] == ["alpha", "beta"]
    yaml_list = _write(tmp_path, "list.yaml", "- alpha\n- name: beta\n  address: 10.0.0.2\n  user: ops\n"
                                               "  port: 2022\n  groups: [east, gpu]\n  migtd_tool: /opt/t\n")
    inv = load_inventory(yaml_list)  # a plain list is read here even when Ansible is installed
    assert inv.reader == "builtin list"
    assert inv.hosts[1] == Host("beta", "10.0.0.2", "ops", 2022, ("east", "gpu"))
    assert inv.hosts[1].vars == {"migtd_tool": "/opt/t"}
    under = load_inventory(_write(tmp_path, "under.yml", "hosts:\n  - a\n  - b\n"))
    assert [h.name for h in under.hosts] == ["a", "b"]
    # an INI line with a colon in a value only looks like YAML
    colon = load_inventory(_write(tmp_path, "colon", 'w1 note="a: b" ansible_host=10.0.0.1\nw2\n'), reader="builtin")
    assert [(h.name, h.address) for h in colon.hosts] == [("w1", "10.0.0.1"), ("w2", "w2")]


def test_ansible_list_json(tmp_path: Path) -> None:
    doc = {"_meta": {"hostvars": {"h1": {"ansible_host": "10.0.0.1", "ansible_port": 22, "migtd_tool": "/t"},
                                  "h2": {}}},
           "all": {"children": ["ungrouped", "g"]}, "g": {"hosts": ["h1"], "children": ["sub"]},
           "sub": {"hosts": ["h2"]}, "ungrouped": {"hosts": []}}
    inv = load_inventory(_write(tmp_path, "list.json", json.dumps(doc)))
    assert inv.reader == "ansible-inventory JSON"
    assert [h.to_dict() for h in inv.hosts] == [
        {"name": "h1", "address": "10.0.0.1", "user": None, "port": 22, "groups": ["g"], "vars": {"migtd_tool": "/t"}},
        {"name": "h2", "address": "h2", "user": None, "port": None, "groups": ["g", "sub"], "vars": {}}]


def test_host_ranges() -> None:
    assert expand_pattern("web[01:03]") == ["web01", "web02", "web03"]
    assert expand_pattern("n[8:11]x") == ["n8x", "n9x", "n10x", "n11x"]
    assert expand_pattern("r[0:8:4]") == ["r0", "r4", "r8"]
    assert expand_pattern("[a:b][1:2]") == ["a1", "a2", "b1", "b2"]


def test_fleet_hosts_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "hosts.ini", INI)
    assert main(["fleet", "hosts", "-i", str(path), "--inventory-reader", "builtin", "--limit", "east"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("5 hosts from") and "eastie@10.0.0.5:2222" in out
    assert main(["fleet", "hosts", "-i", str(path), "--json", "--inventory-reader", "builtin"]) == 0
    assert len(json.loads(capsys.readouterr().out)["hosts"]) == 10


# --------------------------------------------------------------------------- ssh command lines


def test_ssh_argv_and_remote_command_quote_everything() -> None:
    host = Host("db 1".replace(" ", ""), "10.0.0.5", "ops", 2222, ("east",),
                {"ansible_ssh_private_key_file": "/keys/k", "migtd_policy": "/etc/my policy's.json"})
    settings = RemoteSettings("/opt/m/bin/migtd-tool", attestation="azure").for_host(host)
    command = remote_command(host, settings)
    argv = ssh_argv(host, command, ssh_config="/cfg", options=["ProxyJump=bastion"], connect_timeout=7.5)
    assert argv[:6] == ["ssh", "-T", "-o", "BatchMode=yes", "-o", "ConnectTimeout=7"]
    assert argv[6:] == ["-F", "/cfg", "-l", "ops", "-p", "2222", "-i", "/keys/k", "-o", "ProxyJump=bastion", "--",
                        "10.0.0.5", command]
    words = shlex.split(command.split("exec ", 1)[1])
    assert words == ["/opt/m/bin/migtd-tool", "evidence", "collect", "--out", "-", "--host-name", "db1",
                     "--attestation", "azure", "--policy", "/etc/my policy's.json"]
    assert command.startswith(f"printf '%s\\n' {READY} >&2; command -v /opt/m/bin/migtd-tool")


@pytest.mark.parametrize(("status", "stderr", "timed_out", "kind"), [
    (255, "ssh: connect to host 127.0.0.1 port 9: Connection refused", False, "unreachable"),
    (255, "ssh: Could not resolve hostname nowhere: Name or service not known", False, "unreachable"),
    (255, "user@127.0.0.1: Permission denied (publickey).", False, "auth_refused"),
    (255, "Host key verification failed.", False, "auth_refused"),
    (255, "garbage we never saw", False, "ssh_error"),
    (127, f"{READY}\n{NO_TOOL}\n", False, "tool_missing"),
    (127, f"{READY}\nsh: 1: exec: migtd-tool: not found\n", False, "tool_missing"),
    (1, f"{READY}\nmigtd-tool: error: policy file /p does not exist\n", False, "collection_failed"),
    (255, f"{READY}\nmigtd-tool: error: something initialisation\n", False, "collection_failed"),
    (None, "", True, "unreachable"),
    (None, f"{READY}\n", True, "timeout"),
])
def test_classify(status: int | None, stderr: str, timed_out: bool, kind: str) -> None:
    failure = classify(status, stderr, timed_out=timed_out, timeout=30, tool="migtd-tool")
    assert failure is not None and failure.kind == kind
    assert "\n" not in failure.message and READY not in failure.message
    assert classify(0, f"{READY}\n", timed_out=False, timeout=30, tool="migtd-tool") is None
