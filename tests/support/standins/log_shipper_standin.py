"""Log-shipper stand-in (the user's log pipeline to Loki): test support, NOT product.

The user's tutorial ships the kafka container's logs to Loki with a log agent that cannot
be installed where this collection is tested. In the lab, this stand-in plays that
pipeline on the broker: the kafka container logs through podman's journald log driver
into vagrant's user unit ``kafka.service``; the stand-in follows those journal entries
with ``journalctl --user-unit=<unit> -o json --follow`` and pushes them to the Loki push API
(the Loki stand-in on monitoring). Python standard library only; never shipped.

Contract
========
- Entries of the unit (``_SYSTEMD_USER_UNIT``/``USER_UNIT`` = ``--unit``, what
  ``journalctl --user -u kafka`` shows: the container's output and systemd's messages about
  the unit) are pushed to ``--loki-url`` (``POST /loki/api/v1/push``, JSON
  ``{"streams": [{"stream": {labels}, "values": [["<ns>", "<line>"]]}]}``).
- Labels: every ``--label k=v`` (the lab passes ``job=kafka``, ``host=broker``,
  ``service_name=kafka``), ``unit=<unit>``, and ``container=<CONTAINER_NAME>`` for lines
  written by the container (podman's journald driver sets that field).
- Line: the entry's ``MESSAGE`` without the trailing newline podman's journald driver keeps
  (binary messages decoded as UTF-8 with replacement); timestamp: ``__REALTIME_TIMESTAMP``.
- Batches of up to ``--batch-size`` lines, sent at the latest ``--batch-wait`` seconds after
  their first line. A failed push is retried with backoff (up to 30 s) and never dropped;
  the cursor of the last pushed entry is saved to ``--state-file`` after each successful
  push, and a restart resumes after it (``--after-cursor``); without a saved cursor it
  starts from the unit's first entry (``--lines=all``).
- If journalctl exits it is restarted (after 1 s).

CLI: ``python3 log_shipper_standin.py --loki-url URL [--unit kafka.service] [--label k=v ...]
[--state-file PATH] [--journalctl journalctl]``; SIGTERM/SIGINT stop it (the current batch
is pushed first).
"""

import argparse
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

STANDIN_NAME = "log-shipper-standin"
USER_AGENT = "log-shipper-standin/1.0 (log pipeline stand-in)"


def log(message):
    sys.stderr.write("{0} {1}: {2}\n".format(time.strftime("%Y-%m-%dT%H:%M:%S"), STANDIN_NAME, message))
    sys.stderr.flush()


def entry_line(entry):
    message = entry.get("MESSAGE")
    if message is None:
        return None
    if isinstance(message, list):  # journalctl -o json writes non-UTF-8 messages as byte arrays
        message = bytes(b & 0xFF for b in message).decode("utf-8", "replace")
    # podman's journald log driver keeps the line's newline in MESSAGE
    return str(message)[:-1] if str(message).endswith("\n") else str(message)


def to_streams(entries, labels, unit):
    """Journal entries (dicts from journalctl -o json) -> Loki push body."""
    streams = {}
    for entry in entries:
        line = entry_line(entry)
        if line is None:
            continue
        stream = dict(labels, unit=unit)
        if entry.get("CONTAINER_NAME"):
            stream["container"] = entry["CONTAINER_NAME"]
        ts_ns = int(entry.get("__REALTIME_TIMESTAMP") or int(time.time() * 1e6)) * 1000
        streams.setdefault(tuple(sorted(stream.items())), []).append([str(ts_ns), line])
    return {"streams": [{"stream": dict(key), "values": values} for key, values in streams.items()]}


class Shipper:
    def __init__(
        self, loki_url, unit, labels, *, state_file=None, journalctl="journalctl", batch_size=100, batch_wait=1.0
    ):
        self.loki_url = loki_url
        self.unit = unit
        self.labels = labels
        self.state_file = state_file
        self.journalctl = journalctl
        self.batch_size = batch_size
        self.batch_wait = batch_wait
        self.stop = threading.Event()
        self.lines = queue.Queue()
        self.process = None
        self.shipped = 0
        self.last_cursor = None

    # -- cursor
    def load_cursor(self):
        try:
            with open(self.state_file, encoding="utf-8") as handle:
                return handle.read().strip() or None
        except (OSError, TypeError):
            return None

    def save_cursor(self, cursor):
        if not self.state_file or not cursor:
            return
        directory = os.path.dirname(self.state_file)
        if directory:
            os.makedirs(directory, exist_ok=True)
        tmp = self.state_file + ".tmp"
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(cursor + "\n")
        os.replace(tmp, self.state_file)

    # -- reading
    def command(self, cursor):
        cmd = [self.journalctl, "--user-unit=" + self.unit, "--output=json", "--follow", "--no-pager"]
        cmd.append("--after-cursor=" + cursor if cursor else "--lines=all")
        return cmd

    def _reader(self):
        while not self.stop.is_set():
            cursor = self.last_cursor
            cmd = self.command(cursor)
            try:
                self.process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            except OSError as exc:
                log("cannot run {0}: {1}".format(cmd[0], exc))
                self.stop.wait(1.0)
                continue
            for raw in self.process.stdout:
                try:
                    self.lines.put(json.loads(raw))
                except ValueError:
                    log("skipping a line journalctl did not write as JSON")
            self.process.wait()
            if not self.stop.is_set():
                log("journalctl exited with {0}; restarting it".format(self.process.returncode))
                self.stop.wait(1.0)

    # -- pushing
    def push(self, entries):
        body = json.dumps(to_streams(entries, self.labels, self.unit)).encode("utf-8")
        delay = 0.5
        while True:
            req = urllib.request.Request(
                self.loki_url,
                data=body,
                method="POST",
                headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
            )
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:
                    resp.read()
                return True
            except (urllib.error.URLError, OSError) as exc:
                log("push to {0} failed ({1}); retrying in {2:.1f} s".format(self.loki_url, exc, delay))
            if self.stop.wait(delay):
                return False
            delay = min(delay * 2, 30.0)

    def run(self):
        self.last_cursor = self.load_cursor()
        reader = threading.Thread(target=self._reader, name="journal-reader", daemon=True)
        reader.start()
        batch = []
        deadline = None
        while not (self.stop.is_set() and self.lines.empty() and not batch):
            if self.stop.is_set() and self.process and self.process.poll() is None:
                self.process.terminate()  # stop reading; what was read is still pushed
            timeout = 0.5 if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                entry = self.lines.get(timeout=timeout)
                batch.append(entry)
                if deadline is None:
                    deadline = time.monotonic() + self.batch_wait
            except queue.Empty:
                pass
            due = deadline is not None and time.monotonic() >= deadline
            if batch and (len(batch) >= self.batch_size or due or self.stop.is_set()):
                if not self.push(batch):
                    break
                self.shipped += len(batch)
                cursor = batch[-1].get("__CURSOR")
                if cursor:
                    self.last_cursor = cursor
                    self.save_cursor(cursor)
                batch = []
                deadline = None
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()


def set_process_title(title):
    """Name the process (comm, seen by ps/top) after the stand-in; best effort."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(15, title.encode("ascii")[:15], 0, 0, 0)  # PR_SET_NAME
    except (ImportError, OSError, AttributeError):
        pass


def main(argv=None):
    parser = argparse.ArgumentParser(description="log pipeline stand-in: a user unit's journal -> Loki push API")
    parser.add_argument("--loki-url", required=True, help="e.g. http://10.231.56.211:3100/loki/api/v1/push")
    parser.add_argument("--unit", default="kafka.service", help="the user unit whose entries are shipped")
    parser.add_argument("--label", action="append", default=[], help="k=v stream label (repeatable)")
    parser.add_argument(
        "--state-file",
        default=os.path.expanduser("~/.local/state/log-shipper-standin/cursor"),
        help="where the cursor of the last pushed entry is kept",
    )
    parser.add_argument("--journalctl", default="journalctl")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--batch-wait", type=float, default=1.0)
    args = parser.parse_args(argv)
    labels = {}
    for item in args.label:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error("--label wants k=v, got {0!r}".format(item))
        labels[key] = value
    unit = args.unit if "." in args.unit else args.unit + ".service"
    set_process_title(STANDIN_NAME)
    shipper = Shipper(
        args.loki_url,
        unit,
        labels,
        state_file=args.state_file,
        journalctl=args.journalctl,
        batch_size=args.batch_size,
        batch_wait=args.batch_wait,
    )
    signal.signal(signal.SIGTERM, lambda *_: shipper.stop.set())
    signal.signal(signal.SIGINT, lambda *_: shipper.stop.set())
    log("shipping {0} to {1} with labels {2}".format(unit, args.loki_url, labels))
    shipper.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
