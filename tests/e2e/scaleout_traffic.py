#!/usr/bin/python3
# SPDX-License-Identifier: BSD-3-Clause
"""The traffic of the scale-out test (scaleout_test.sh, docs/e2e.md "Scale-out").

  scaleout_traffic.py server NAME PORT
      a TCP server on every address, PORT: it sends "NAME\\n" on accept, then
      answers every read with the count of bytes received so far ("N\\n"),
      and at the client's EOF with "bytes N\\n" before it closes. A
      connection that reaches another node finds no socket there: that
      node's kernel resets it.

  scaleout_traffic.py client VIP PORT SRC STREAMS INTERVAL_S STALL_S SHORT_PER_S LIFE_S WORKDIR
      STREAMS long-lived connections, each sending 64 bytes every INTERVAL_S
      and waiting for the server's count of them (an acknowledgement by the
      application, so a path that drops packets shows as a stall, not as a
      full socket buffer); SHORT_PER_S short connections a second (connect,
      read the name, send 100 bytes, EOF, read "bytes 100"). A broken stream
      (reset, EOF, a count that is not what was sent, no acknowledgement for
      STALL_S) is recorded and replaced by a new one, so the population
      stays STREAMS. With LIFE_S > 0, a stream ends (EOF, the server's total
      checked) after 0.5 to 1.5 x LIFE_S and a new one takes its place: the
      population then always holds streams opened between two changes. WORKDIR/status.json is rewritten every 0.25 s
      ({"t", "open", "oldest_ack": the oldest last acknowledgement of the
      open streams}); when WORKDIR/stop exists, shorts stop and each stream
      ends with an EOF and checks the server's total. Prints one JSON object:
      {"streams": [{"id", "node", "opened", "closed", "acks": [t...],
       "sent", "error", "kind", "t_break"}], "shorts": [{"t", "node", "ok",
       "kind", "error"}]}
      kinds: "reset", "eof", "stall", "count" (the server counted other than
      what was sent: another node), "connect" (no connection within STALL_S).
"""
import asyncio
import json
import os
import random
import sys
import time


# --------------------------------------------------------------------- server

def server_main(name, port):
    async def handle(reader, writer):
        n = 0
        try:
            writer.write((name + "\n").encode())
            await writer.drain()
            while True:
                b = await reader.read(65536)
                if not b:
                    break
                n += len(b)
                writer.write(b"%d\n" % n)
                await writer.drain()
            writer.write(b"bytes %d\n" % n)
            await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    async def run():
        srv = await asyncio.start_server(handle, "0.0.0.0", port, backlog=1024,
                                         reuse_address=True)
        async with srv:
            await srv.serve_forever()

    asyncio.run(run())


# --------------------------------------------------------------------- client

def kind_of(e):
    if isinstance(e, asyncio.TimeoutError):
        return "stall"
    if isinstance(e, (ConnectionResetError, BrokenPipeError)):
        return "reset"
    if isinstance(e, asyncio.IncompleteReadError) or isinstance(e, EOFError):
        return "eof"
    return "error"


class Client:
    def __init__(self, vip, port, src, nstreams, interval, stall, short_rate, life, work):
        self.vip, self.port, self.src = vip, port, src
        self.nstreams, self.interval, self.stall = nstreams, interval, stall
        self.short_rate, self.life, self.work = short_rate, life, work
        self.streams = []      # every stream ever opened, its record
        self.live = {}         # slot -> record of the stream open in it
        self.shorts = []
        self.stopping = False

    def stopped(self):
        return self.stopping or os.path.exists(os.path.join(self.work, "stop"))

    async def connect(self):
        return await asyncio.wait_for(
            asyncio.open_connection(self.vip, self.port, local_addr=(self.src, 0)),
            timeout=self.stall)

    async def stream(self, slot, delay):
        await asyncio.sleep(delay)
        while not self.stopped():
            rec = {"id": len(self.streams), "slot": slot, "node": None, "sport": 0,
                   "opened": time.time(), "closed": None, "acks": [], "sent": 0,
                   "error": None, "kind": None, "t_break": None}
            self.streams.append(rec)
            writer = None
            t_last = rec["opened"]   # the last moment the stream was known to work
            try:
                try:
                    reader, writer = await self.connect()
                except (OSError, asyncio.TimeoutError) as e:
                    rec["kind"], rec["error"] = "connect", "%s: %s" % (type(e).__name__, e)
                    raise _Broken()
                rec["sport"] = writer.get_extra_info("sockname")[1]
                line = await asyncio.wait_for(reader.readline(), self.stall)
                if not line:
                    raise EOFError("no name")
                rec["node"] = line.decode().strip()
                t_last = time.time()
                self.live[slot] = rec
                msg = b"x" * 64
                end = (time.time() + self.life * random.uniform(0.5, 1.5) if self.life > 0
                       else float("inf"))
                while not self.stopped() and time.time() < end:
                    t_send = time.time()
                    writer.write(msg)
                    rec["sent"] += len(msg)
                    await asyncio.wait_for(writer.drain(), self.stall)
                    deadline = t_send + self.stall
                    while True:
                        left = deadline - time.time()
                        if left <= 0:
                            raise asyncio.TimeoutError()
                        line = await asyncio.wait_for(reader.readline(), left)
                        if not line:
                            raise EOFError("EOF")
                        n = int(line)
                        if n == rec["sent"]:
                            break
                        if n > rec["sent"]:
                            rec["kind"] = "count"
                            rec["error"] = "server counted %d of %d" % (n, rec["sent"])
                            raise _Broken()
                    t_last = time.time()
                    rec["acks"].append(round(t_last, 2))
                    await asyncio.sleep(self.interval * random.uniform(0.8, 1.2))
                # stop: EOF, and the server's total must be what was sent
                writer.write_eof()
                line = await asyncio.wait_for(reader.readline(), self.stall)
                while line and not line.startswith(b"bytes"):
                    line = await asyncio.wait_for(reader.readline(), self.stall)
                if not line:
                    raise EOFError("EOF before the total")
                total = int(line.split()[1])
                if total != rec["sent"]:
                    rec["kind"] = "count"
                    rec["error"] = "server counted %d of %d" % (total, rec["sent"])
                    raise _Broken()
                rec["closed"] = time.time()
                self.live.pop(slot, None)
                writer.close()
                continue
            except _Broken:
                pass
            except (OSError, asyncio.TimeoutError, EOFError, asyncio.IncompleteReadError,
                    ValueError) as e:
                rec["kind"] = kind_of(e)
                rec["error"] = "%s: %s" % (type(e).__name__, e)
            # broken: when it stopped working (a stall: the unanswered send)
            rec["t_break"] = round(t_last, 2)
            rec["closed"] = time.time()
            self.live.pop(slot, None)
            if writer is not None:
                writer.transport.abort()
            await asyncio.sleep(0.2)

    async def short(self):
        rec = {"t": round(time.time(), 2), "node": None, "ok": False, "kind": None,
               "error": None}
        self.shorts.append(rec)
        writer = None
        try:
            try:
                reader, writer = await self.connect()
            except (OSError, asyncio.TimeoutError) as e:
                rec["kind"], rec["error"] = "connect", "%s: %s" % (type(e).__name__, e)
                return
            line = await asyncio.wait_for(reader.readline(), self.stall)
            if not line:
                raise EOFError("no name")
            rec["node"] = line.decode().strip()
            writer.write(b"y" * 100)
            writer.write_eof()
            while True:
                line = await asyncio.wait_for(reader.readline(), self.stall)
                if not line:
                    raise EOFError("EOF before the total")
                if line.startswith(b"bytes"):
                    break
            total = int(line.split()[1])
            if total != 100:
                rec["kind"], rec["error"] = "count", "server counted %d of 100" % total
                return
            rec["ok"] = True
        except (OSError, asyncio.TimeoutError, EOFError, asyncio.IncompleteReadError,
                ValueError) as e:
            rec["kind"] = kind_of(e)
            rec["error"] = "%s: %s" % (type(e).__name__, e)
        finally:
            if writer is not None:
                writer.close()

    async def shorts_loop(self):
        tasks = set()
        while not self.stopped():
            t = asyncio.ensure_future(self.short())
            tasks.add(t)
            t.add_done_callback(tasks.discard)
            await asyncio.sleep(1.0 / self.short_rate)
        if tasks:
            await asyncio.wait(tasks)

    def write_status(self):
        now = time.time()
        acks = [r["acks"][-1] if r["acks"] else r["opened"] for r in self.live.values()]
        st = {"t": now, "open": len(self.live), "opened": len(self.streams),
              "acked_open": sum(1 for r in self.live.values() if r["acks"]),
              "oldest_ack": min(acks) if acks else None}
        path = os.path.join(self.work, "status.json")
        with open(path + ".tmp", "w") as f:
            json.dump(st, f)
        os.replace(path + ".tmp", path)

    async def status_loop(self):
        while True:
            self.write_status()
            await asyncio.sleep(0.25)

    async def run(self):
        status = asyncio.ensure_future(self.status_loop())
        # the streams open over the first two seconds, not in one burst
        jobs = [asyncio.ensure_future(self.stream(i, 2.0 * i / self.nstreams))
                for i in range(self.nstreams)]
        if self.short_rate > 0:
            jobs.append(asyncio.ensure_future(self.shorts_loop()))
        while not self.stopped():
            await asyncio.sleep(0.2)
        await asyncio.gather(*jobs)
        status.cancel()
        self.write_status()
        for r in self.streams:
            r.pop("slot", None)
        print(json.dumps({"streams": self.streams, "shorts": self.shorts}))


class _Broken(Exception):
    pass


def main():
    a = sys.argv[1:]
    if len(a) == 3 and a[0] == "server":
        server_main(a[1], int(a[2]))
    elif len(a) == 10 and a[0] == "client":
        c = Client(a[1], int(a[2]), a[3], int(a[4]), float(a[5]), float(a[6]), float(a[7]),
                   float(a[8]), a[9])
        asyncio.run(c.run())
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
