"""The NATS client protocol on a raw socket, shared by the probes in the folders beside it: over
TCP, or over a WebSocket framed by hand (RFC 6455, no extensions), so that a probe chooses how
the bytes are cut into frames."""
import base64, os, random, socket, struct


def random_pieces(data, rng):
    """`data` cut at 0-3 points drawn by `rng` (a random.Random): 1-4 pieces in order."""
    cuts = sorted(rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(0, 3)))) if len(data) > 1 else []
    return [data[a:b] for a, b in zip([0] + cuts, cuts + [len(data)])]


def ws_frame(opcode, payload, fin=True, mask=True, rsv1=False):
    """One WebSocket frame; a client's is masked (`mask`), a probe may break the rules on purpose."""
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode])
    m = 0x80 if mask else 0
    if n < 126: head += bytes([m | n])
    elif n < 65536: head += bytes([m | 126]) + struct.pack('>H', n)
    else: head += bytes([m | 127]) + struct.pack('>Q', n)
    if not mask: return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i & 3] for i, b in enumerate(payload))


def parse_frames(buf):
    """The whole frames at the start of `buf` (unmasked, as a server sends them), as (opcode,
    payload) pairs, and the bytes after them."""
    frames = []
    while len(buf) >= 2:
        n, at = buf[1] & 0x7f, 2
        if n == 126:
            if len(buf) < 4: break
            n, at = struct.unpack('>H', buf[2:4])[0], 4
        elif n == 127:
            if len(buf) < 10: break
            n, at = struct.unpack('>Q', buf[2:10])[0], 10
        if len(buf) < at + n: break
        frames.append((buf[0] & 0x0f, buf[at:at + n]))
        buf = buf[at + n:]
    return frames, buf


class WsConn:
    """A client WebSocket on a connected socket. sendall() sends its bytes as one message cut at
    random into 1-4 binary frames (a continuation frame for each piece after the first, masked as
    a client must), now and then with a ping between two pieces (a control frame may come inside
    a fragmented message); recv() returns the payloads of the data frames received, b'' once a
    close frame or the end of the stream comes. A ping from the server is answered."""

    def __init__(self, sock, rest, rng):
        self.sock, self.buf, self.rng, self.closed = sock, rest, rng, False

    def settimeout(self, t):
        self.sock.settimeout(t)

    def close(self):
        self.sock.close()

    def sendall(self, data):
        pieces = random_pieces(data, self.rng)
        out = b''
        for i, piece in enumerate(pieces):
            if i > 0 and self.rng.random() < 0.2: out += ws_frame(0x9, b'fuzz')
            out += ws_frame(0x2 if i == 0 else 0x0, piece, fin=i == len(pieces) - 1)
        self.sock.sendall(out)

    def _need(self, n):
        while len(self.buf) < n:
            d = self.sock.recv(65536)
            if not d: raise EOFError
            self.buf += d

    def recv(self, _size=65536):
        if self.closed: return b''
        got = b''
        try:
            while not got:
                frames, self.buf = parse_frames(self.buf)
                if not frames: self._need(len(self.buf) + 1); continue
                for opcode, payload in frames:
                    if opcode == 0x8: self.closed = True; return got  # b'' on the next call
                    if opcode == 0x9: self.sock.sendall(ws_frame(0xA, payload))
                    elif opcode in (0x0, 0x1, 0x2): got += payload
        except EOFError:
            self.closed = True
        return got


def ws_connect(port, rng):
    """A WebSocket to 127.0.0.1:<port>, upgraded on path /."""
    s = socket.create_connection(('127.0.0.1', port))
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall(f'GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n'
              f'Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n'.encode())
    got = b''
    while b'\r\n\r\n' not in got:
        d = s.recv(65536)
        if not d: raise OSError('closed during the upgrade')
        got += d
    head, rest = got.split(b'\r\n\r\n', 1)
    if b' 101 ' not in head.split(b'\r\n')[0]: raise OSError(f'upgrade refused: {head[:80]!r}')
    return WsConn(s, rest, rng)


def handshake(port, connect, after='', timeout=3, ws=None):
    """Connects to 127.0.0.1:<port> (a WebSocket when `ws` is a random.Random that cuts its frames),
    reads INFO, sends `CONNECT <connect>`, then `after` and a PING; returns the connection and what
    came before that PING's PONG, the PONG included."""
    s = ws_connect(port, ws) if ws is not None else socket.create_connection(('127.0.0.1', port))
    s.settimeout(timeout)
    got = b''
    while b'\r\n' not in got:
        d = s.recv(65536)
        if not d: raise OSError('closed before INFO')
        got += d
    s.sendall(f'CONNECT {connect}\r\n{after}PING\r\n'.encode())
    got = b''
    while b'PONG\r\n' not in got:
        d = s.recv(65536)
        if not d: raise OSError(f'closed before PONG: {got!r}')
        got += d
    return s, got
