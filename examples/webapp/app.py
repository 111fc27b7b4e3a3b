"""A tiny web app for the Colony demo: answers with its colony's name, echoes WebSockets.

Standard library only, so the demo needs no package downloads. Listens on $PORT (default 3000).
"""

import base64
import hashlib
import os
import sqlite3
import struct
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME = os.environ.get("COLONY_NAME", "no colony")
PORT = int(os.environ.get("PORT", "3000"))
BIND = os.environ.get("BIND", "127.0.0.1")
GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def visits() -> int:
    """Count visits in the colony's own SQLite database (COLONY_DB)."""
    db = sqlite3.connect(os.environ.get("COLONY_DB", ":memory:"))
    with db:
        db.execute("CREATE TABLE IF NOT EXISTS visits (n INTEGER)")
        db.execute("INSERT INTO visits VALUES (1)")
        (count,) = db.execute("SELECT COUNT(*) FROM visits").fetchone()
    db.close()
    return count


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # WebSocket clients require a 1.1 status line

    def do_GET(self) -> None:
        if self.headers.get("Upgrade", "").lower() == "websocket":
            self.echo()
            self.close_connection = True
            return
        body = f"hello from colony {NAME} (visit {visits()})\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def echo(self) -> None:
        """A minimal RFC 6455 echo: enough for the demo and the tests."""
        key = self.headers["Sec-WebSocket-Key"]
        accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        while True:
            head = self.rfile.read(2)
            if len(head) < 2:
                return
            opcode, length = head[0] & 0x0F, head[1] & 0x7F
            if length == 126:
                (length,) = struct.unpack(">H", self.rfile.read(2))
            elif length == 127:
                (length,) = struct.unpack(">Q", self.rfile.read(8))
            mask = self.rfile.read(4) if head[1] & 0x80 else b"\0\0\0\0"
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(self.rfile.read(length)))
            if opcode == 8:
                self.wfile.write(b"\x88\x00")
                return
            if opcode in (1, 2):
                reply = f"{NAME}: ".encode() + data
                size = len(reply)
                if size < 126:
                    frame = bytes([0x80 | opcode, size])
                elif size < 65536:
                    frame = bytes([0x80 | opcode, 126]) + struct.pack(">H", size)
                else:
                    frame = bytes([0x80 | opcode, 127]) + struct.pack(">Q", size)
                self.wfile.write(frame + reply)
                self.wfile.flush()

    def log_message(self, format: str, *args: object) -> None:
        print(f"{self.address_string()} {format % args}", flush=True)


if __name__ == "__main__":
    print(f"colony {NAME}: listening on {BIND}:{PORT}", flush=True)
    ThreadingHTTPServer((BIND, PORT), Handler).serve_forever()
