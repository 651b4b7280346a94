"""A real upstream for the gateway's tests and examples: an HTTP server that answers every
request with what it received (method, path, query, headers, body size and SHA-256), reading
the body in chunks so that a large upload costs no memory; `X-Echo-Delay: SECONDS` answers
late, `X-Echo-Status: CODE` with that status. A WebSocket upgrade (RFC 6455) is accepted and
every text or binary message echoed. Run: python3 tests/upstream.py PORT"""
import base64
import hashlib
import json
import struct
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def websocket(self):
        self.close_connection = True  # the upgraded connection ends with the WebSocket
        accept = base64.b64encode(hashlib.sha1((self.headers["Sec-WebSocket-Key"] + WS_GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        while True:
            head = self.rfile.read(2)
            if len(head) < 2:
                return
            opcode, n = head[0] & 0x0F, head[1] & 0x7F
            if n == 126:
                n = struct.unpack(">H", self.rfile.read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self.rfile.read(8))[0]
            mask = self.rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(n)))
            if opcode == 0x8:
                self.frame(0x8, data[:2])
                return
            reply = (0xA, data) if opcode == 0x9 else (opcode, data)
            if opcode in (0x1, 0x2, 0x9):
                self.frame(*reply)

    def frame(self, opcode, data):
        n = len(data)
        head = bytes([0x80 | opcode])
        head += bytes([n]) if n < 126 else (bytes([126]) + struct.pack(">H", n) if n < 65536 else bytes([127]) + struct.pack(">Q", n))
        self.wfile.write(head + data)
        self.wfile.flush()

    def answer(self):
        if self.headers.get("Upgrade", "").lower() == "websocket":
            return self.websocket()
        if self.headers.get("X-Echo-Delay"):
            time.sleep(float(self.headers["X-Echo-Delay"]))
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
