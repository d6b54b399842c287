"""The console survives an SSH connection that drops mid-run, and says so (issue #11).

The destination runs over SSH through a TCP relay in front of a real
``sshd``; once its remote ``migtd`` listens, the relay drops both halves of the
connection, as a network failure would. The console must stay up and usable,
and the side must end failed with a line that says the connection was lost
(not a generic ssh error), while the remote ``migtd`` is hung up and frees its
port.
"""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

from tests.loopback import free_port
from tui.app import ConsoleApp
from tui.history import HistoryStore
from tui.model import RunModel
from tui.params import RunParams
from tui.record import RunRecord
from tui.widgets.panes import ResultBar

from .conftest import Sshd, plain, stream, until
from .test_live import SIZE, migtd_bin


class DroppingRelay:
    """Forwards one TCP port to ``target``; :meth:`drop` closes every connection at once."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.writers: list[asyncio.StreamWriter] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        self.writers += [writer, up_writer]

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while chunk := await src.read(65536):
                    dst.write(chunk)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def drop(self) -> None:
        for writer in self.writers:
            writer.transport.abort()  # no goodbye: buffered bytes are discarded
        self.writers.clear()

    async def close(self) -> None:
        self.drop()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


async def test_ssh_connection_dropped_mid_run(sshd: Sshd, store: HistoryStore, tmp_path: Path) -> None:
    relay = DroppingRelay(sshd.port)
    await relay.start()
    config = tmp_path / "ssh_config"
    config.write_text(sshd.ssh_config.read_text().replace(f"Port {sshd.port}", f"Port {relay.port}"))
    params = RunParams(roles=["destination"], attestation="skip-ra", migtd=migtd_bin(),
                       dest_port=free_port(), timeout=60, dst_host=sshd.host,
                       ssh_config=str(config), remote_migtd=migtd_bin())
    app = ConsoleApp(params, history=store)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: app.model.sides["destination"].listening is not None, timeout=20)
            t0 = time.monotonic()
            relay.drop()
            await until(pilot, lambda: app.model.finished and not app.running, timeout=20)
            elapsed = time.monotonic() - t0
            dst = app.model.sides["destination"]
            assert elapsed < 15, f"the drop took {elapsed:.1f} s to show"
            assert dst.result is not None and (dst.result.code, dst.result.name) == (255, "SSHError"), dst.result
            assert "lost mid-run" in dst.result.meaning and dst.result.reason == dst.last_raw != ""
            assert dst.steps["connected"].state == "failed"
            assert any(line[2] == "console" and line[3].startswith("SSH connection lost mid-run")
                       for line in dst.logs), list(dst.logs)[-3:]
            bar = plain(app.screen.query_one(ResultBar))
            assert "255 SSHError" in bar and "lost mid-run" in bar, bar
            # Still alive and answering keys: the history screen opens and closes.
            assert app.is_running
            await pilot.press("h")
            await until(pilot, lambda: type(app.screen).__name__ == "HistoryScreen", timeout=10)
            await pilot.press("escape")
            await until(pilot, lambda: bool(app.screen.query(ResultBar)), timeout=10)
        assert [r.ok for r in store.list()] == [False]
        # The remote migtd was hung up with its session: its port is free again.
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", params.dest_port))
                break
            except OSError:
                assert time.monotonic() < deadline, "the remote migtd still holds its port"
                await asyncio.sleep(0.1)
    finally:
        await relay.close()


def test_lost_mid_run_in_the_model_and_its_replay() -> None:
    """Records arrived, then ssh exited 255 without an exit record: "lost mid-run", the same after replay.

    Without any record ssh never reached the remote side: the old wording
    (could not connect or authenticate) stays (tests/console/test_model.py).
    """
    model = RunModel({"roles": ["destination"]})
    model.launched("destination", "ssh far")
    model.feed_many("destination", stream("skipra_success", "destination")[:4])
    model.feed_many("destination", ["Connection to far closed by remote host."])
    model.ended("destination", 255, "ssh")
    side = model.sides["destination"]
    assert side.result is not None and "lost mid-run" in side.result.meaning
    assert side.result.reason == "Connection to far closed by remote host."
    assert list(side.logs)[-1][2:] == ("console", "SSH connection lost mid-run: Connection to far closed by remote host.")
    exits = {"destination": {"code": 255, "transport": "ssh", "where": "ssh far"}}
    again = RunRecord.from_model("r1", 0.0, model, exits).replay().sides["destination"]
    assert list(again.logs) == list(side.logs) and again.result == side.result
