"""An OTLP/HTTP JSON receiver for tests: what a collector's otlphttp exporter (encoding json) sends, kept.

    with TraceSink() as sink:
        sink.url                  # "http://127.0.0.1:<port>": an otlphttp exporter's endpoint
        sink.spans(trace_id)      # [(service.name, span)] of that trace, in arrival order

It answers every POST with 200 and `{}` (as Tempo's OTLP/HTTP receiver does) and keeps the requests;
a test reads the spans after the collector has handled them. Standard library only.
"""

import gzip
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class TraceSink:
    """Receives the collector's OTLP/HTTP JSON exports on POST /v1/traces and keeps every span."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    data = gzip.decompress(data)
                with sink.lock:
                    sink.requests.append((self.path, self.headers.get("Content-Type"), data))
                answer = b"{}"
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:{0}".format(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def spans(self, trace_id):
        """[(service.name, span)] of the trace, in arrival order."""
        found = []
        with self.lock:
            requests = list(self.requests)
        for path, content_type, data in requests:
            assert path == "/v1/traces", path
            assert content_type == "application/json", content_type  # encoding: json
            for resource_spans in json.loads(data)["resourceSpans"]:
                resource = {a["key"]: a["value"] for a in resource_spans["resource"]["attributes"]}
                service = resource["service.name"]["stringValue"]
                for scope_spans in resource_spans["scopeSpans"]:
                    found.extend((service, s) for s in scope_spans["spans"] if s["traceId"] == trace_id)
        return found

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
