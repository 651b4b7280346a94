"""A real upstream for the gateway's tests and examples: an HTTP server that answers every
request with what it received (method, path, query, headers, body size and SHA-256), reading
the body in chunks so that a large upload costs no memory. Run: python3 tests/upstream.py PORT"""
import hashlib
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self):
        digest, size = hashlib.sha256(), 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                line = self.rfile.readline()
                n = int(line.split(b";")[0], 16)
                if n == 0:
                    self.rfile.readline()
                    break
                left = n
                while left:
                    chunk = self.rfile.read(min(left, 1 << 16))
                    digest.update(chunk)
                    size += len(chunk)
                    left -= len(chunk)
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length") or 0)
            while left:
                chunk = self.rfile.read(min(left, 1 << 16))
                if not chunk:
                    break
                digest.update(chunk)
                size += len(chunk)
                left -= len(chunk)
        path, _, query = self.path.partition("?")
        body = json.dumps({
            "method": self.command,
            "path": path,
            "query": query,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body_size": size,
            "body_sha256": digest.hexdigest(),
        }).encode()
        status = int(self.headers.get("X-Echo-Status", "200"))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Upstream", "echo")
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = answer

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()


if __name__ == "__main__":
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Echo)
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()
