"""A stand-in ``migtd`` for the console's pilot tests (not the engine).

It replays a recorded stream (``data/<name>.<role>.jsonl``) on stderr with a
short pause between lines and exits with the code of the stream's ``exit``
record, or hangs until SIGTERM, or floods N log lines. The scenario comes from
``FAKE_MIGTD_SCENARIO``; the role from ``--role`` like the real command.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

DATA = Path(__file__).resolve().parent / "data"


def main() -> int:
    args = sys.argv[1:]
    role = args[args.index("--role") + 1] if "--role" in args else "source"
    scenario = os.environ.get("FAKE_MIGTD_SCENARIO", "replay:skipra_success")
    kind, _, arg = scenario.partition(":")
    out = sys.stderr
    if os.environ.get("FAKE_MIGTD_ARGS_FILE"):
        with open(f"{os.environ['FAKE_MIGTD_ARGS_FILE']}.{role}", "w", encoding="utf-8") as fh:
            json.dump({"argv": args, "policy": os.environ.get("MIGTD_POLICY_FILE"),
                       "root_ca": os.environ.get("MIGTD_ROOT_CA_FILE")}, fh)
    if kind == "replay":
        code = 0
        for line in (DATA / f"{arg}.{role}.jsonl").read_text(encoding="utf-8").splitlines():
            out.write(line + "\n")
            out.flush()
            try:
                rec = json.loads(line)
                if rec.get("event") == "exit":
                    code = int(rec["code"])
            except (ValueError, KeyError, TypeError):
                pass
            time.sleep(0.005)
        return code
    if kind == "hang":
        def on_term(signum: int, _frame: object) -> None:
            out.write(json.dumps({"ts": time.time(), "level": "error", "role": role, "request_id": 1,
                                  "event": "exit", "msg": "terminated", "code": 10,
                                  "result": "VmmCanceled", "reason": f"signal {signum}"}) + "\n")
            out.flush()
            sys.exit(10)
        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGHUP, on_term)
        out.write(json.dumps({"ts": time.time(), "level": "info", "role": role, "request_id": 1,
                              "event": "listening", "msg": "listening", "ip": "127.0.0.1",
                              "port": 1}) + "\n")
        out.flush()
        time.sleep(60)
        return 5
    if kind == "flood":
        n = int(arg)
        t0 = time.time()
        if role == "destination":
            out.write(json.dumps({"ts": t0, "level": "info", "role": role, "request_id": 1,
                                  "event": "listening", "msg": "listening", "ip": "127.0.0.1",
                                  "port": 1}) + "\n")
        chunk = []
        for i in range(n):
            chunk.append(json.dumps({"ts": t0, "level": "debug", "role": role, "request_id": 1,
                                     "event": "log", "msg": f"flood line {i}"}))
            if len(chunk) == 1000:
                out.write("\n".join(chunk) + "\n")
                chunk = []
        out.write("\n".join(chunk) + "\n" if chunk else "")
        out.write(json.dumps({"ts": t0, "level": "info", "role": role, "request_id": 1,
                              "event": "exit", "msg": "done", "code": 0, "result": "Success",
                              "reason": ""}) + "\n")
        out.flush()
        return 0
    print(f"fake_migtd: unknown scenario {scenario}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
