"""Minimal HTTP/1.1 client on raw sockets for bench/run.sh.

Only what the benchmark needs: keep-alive connections, POST with a fixed body, Content-Length
and chunked responses, and the time of the first response-body byte. Timing is taken with
time.perf_counter_ns() around the socket calls, so Python's own cost is in every figure, the
same for every target; the benchmark reports differences between targets measured this way.
"""
import socket
import struct
import time

HOST = "127.0.0.1"


def build_request(port, path, body, headers):
    """Raw request bytes: the same head wrk sends (Host, headers, Content-Length)."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {HOST}:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class ProtocolError(Exception):
    pass


class Response:
    __slots__ = ("status", "head", "body", "t_first_body_ns", "t_end_ns")

    def __init__(self):
        self.status = 0
        self.head = b""
        self.body = b""
        self.t_first_body_ns = 0
        self.t_end_ns = 0


def _chunked_end(buf, pos):
    """Index just past a complete chunked body starting at pos, or None if incomplete."""
    n = len(buf)
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return None
        size_field = bytes(buf[pos:eol]).split(b";", 1)[0].strip()
        try:
            size = int(size_field, 16)
        except ValueError:
            raise ProtocolError(f"bad chunk size {size_field[:20]!r}")
        if size == 0:
            # No trailers expected: the last chunk is "0\r\n\r\n".
            end = buf.find(b"\r\n\r\n", eol)
            if end == eol:
                return eol + 4
            if end < 0:
                return None
            return end + 4
        pos = eol + 2 + size + 2
        if pos > n:
            return None


def _dechunk(raw):
    out = bytearray()
    pos = 0
    while True:
        eol = raw.find(b"\r\n", pos)
        size = int(bytes(raw[pos:eol]).split(b";", 1)[0], 16)
        if size == 0:
            return bytes(out)
        out += raw[eol + 2 : eol + 2 + size]
        pos = eol + 2 + size + 2


class Conn:
    """One keep-alive connection; requests are sent one at a time."""

    def __init__(self, port, timeout=30.0):
        self.port = port
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()

    def close(self, reset=True):
        if self.sock is None:
            return
        if reset:
            # RST instead of FIN: no TIME_WAIT left behind by thousands of client sockets.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()
        self.sock = None

    def send(self, raw):
        self.sock.sendall(raw)

    def _recv(self):
        data = self.sock.recv(262144)
        if not data:
            raise ProtocolError("connection closed by peer")
        self.buf += data

    def read_response(self, keep_body=False):
        """Reads one response; returns a Response with timings (perf_counter_ns)."""
        r = Response()
        buf = self.buf
        while True:
            he = buf.find(b"\r\n\r\n")
            if he >= 0:
                break
            self._recv()
            buf = self.buf
        body_start = he + 4
        if len(buf) > body_start:
            r.t_first_body_ns = time.perf_counter_ns()
        head = bytes(buf[:he])
        r.head = head
        first, _, rest = head.partition(b"\r\n")
        parts = first.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ProtocolError(f"bad status line {first[:60]!r}")
        r.status = int(parts[1])
        length = None
        chunked = False
        for line in rest.split(b"\r\n"):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            while True:
                if len(self.buf) > body_start and not r.t_first_body_ns:
                    r.t_first_body_ns = time.perf_counter_ns()
                end = _chunked_end(self.buf, body_start)
                if end is not None:
                    break
                self._recv()
        elif length is not None:
            end = body_start + length
            while len(self.buf) < end:
                self._recv()
                if len(self.buf) > body_start and not r.t_first_body_ns:
                    r.t_first_body_ns = time.perf_counter_ns()
        else:
            raise ProtocolError("response without Content-Length or chunked encoding")
        r.t_end_ns = time.perf_counter_ns()
        if not r.t_first_body_ns:
            r.t_first_body_ns = r.t_end_ns
        if keep_body:
            raw = self.buf[body_start:end]
            r.body = _dechunk(raw) if chunked else bytes(raw)
        del self.buf[:end]
        return r

    def request(self, raw, keep_body=False):
        """Sends raw and reads the response; returns (response, t_send_ns)."""
        t0 = time.perf_counter_ns()
        self.sock.sendall(raw)
        r = self.read_response(keep_body)
        return r, t0


def open_idle(port, n, raw, batch=200, timeout=30.0):
    """Opens n connections, makes one request on each (all must answer 200) and returns them
    open and idle. Connections are opened in batches: connect, send, then read every answer."""
    conns = []
    try:
        while len(conns) < n:
            group = [Conn(port, timeout) for _ in range(min(batch, n - len(conns)))]
            conns += group
            for c in group:
                c.send(raw)
            for c in group:
                r = c.read_response()
                if r.status != 200:
                    raise ProtocolError(f"status {r.status} on idle-connection setup")
    except BaseException:
        for c in conns:
            c.close()
        raise
    return conns
