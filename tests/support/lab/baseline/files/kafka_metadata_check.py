"""Lab baseline check (test support): a Kafka broker answers and advertises the expected address.

    kafka_metadata_check.py HOST:PORT [--expect HOST:PORT] [--timeout 60]

Sends Kafka Metadata requests (v0, the oldest version: any broker answers it) until the broker
answers with a broker list containing ``--expect`` (default: HOST:PORT), or the deadline
passes. Prints the broker list as JSON; exit status 0 on success, 1 at the deadline.
Python standard library only (it runs on the lab's guests).
"""

import argparse
import json
import socket
import struct
import sys
import time


def _recv(sock, size):
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("connection closed by the broker")
        data += chunk
    return data


def metadata_brokers(host, port, timeout=5.0):
    """One Metadata v0 round trip: [{"node_id", "host", "port"}]."""
    client_id = b"lab-baseline"
    request = struct.pack(">hhih", 3, 0, 1, len(client_id)) + client_id + struct.pack(">i", 0)
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(request)) + request)
        (size,) = struct.unpack(">i", _recv(sock, 4))
        data = _recv(sock, size)
    correlation, count = struct.unpack(">ii", data[:8])
    if correlation != 1:
        raise ValueError("unexpected correlation id {0}".format(correlation))
    pos = 8
    brokers = []
    for _broker in range(count):
        node_id, length = struct.unpack(">ih", data[pos : pos + 6])
        pos += 6
        name = data[pos : pos + length].decode("utf-8")
        pos += length
        (broker_port,) = struct.unpack(">i", data[pos : pos + 4])
        pos += 4
        brokers.append({"node_id": node_id, "host": name, "port": broker_port})
    return brokers


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bootstrap", help="HOST:PORT")
    parser.add_argument("--expect", help="HOST:PORT the broker must advertise (default: bootstrap)")
    parser.add_argument("--timeout", type=float, default=60.0)
    args = parser.parse_args(argv)
    host, _sep, port = args.bootstrap.rpartition(":")
    expect = args.expect or args.bootstrap
    deadline = time.monotonic() + args.timeout
    last = None
    while True:
        try:
            brokers = metadata_brokers(host, int(port))
            if "{0}:{1}".format(brokers[0]["host"], brokers[0]["port"]) == expect or any(
                "{0}:{1}".format(b["host"], b["port"]) == expect for b in brokers
            ):
                print(json.dumps({"brokers": brokers}))
                return 0
            last = "advertised {0}, expected {1}".format(brokers, expect)
        except (OSError, ValueError, struct.error, IndexError) as exc:
            last = "{0}: {1}".format(type(exc).__name__, exc)
        if time.monotonic() >= deadline:
            print(json.dumps({"error": last, "bootstrap": args.bootstrap, "expect": expect}))
            return 1
        time.sleep(0.5)  # poll interval under the deadline


if __name__ == "__main__":
    sys.exit(main())
