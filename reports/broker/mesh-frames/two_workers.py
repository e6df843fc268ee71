"""Raw NATS connections to a broker of two or more workers, for the probes beside this."""
import re, socket, time

def on_workers_0_and_1(port):
    """Connects until worker 0 and worker 1 each hold one connection (CONNECT sent); returns them."""
    by = {}
    while '0' not in by or '1' not in by:
        s = socket.create_connection(("127.0.0.1", port))
        s.settimeout(0.3)
        info = s.recv(65536).decode()
        s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\n')
        by.setdefault(re.search(r'"server_id":"[^"]*W(\d+)"', info).group(1), s)
    return by['0'], by['1']

def drain(s, seconds=1.0):
    """What arrives within `seconds`; <EOF> marks a connection the broker closed."""
    buf = b''
    end = time.time() + seconds
    while time.time() < end:
        try:
            d = s.recv(1 << 20)
            if not d:
                return buf + b'<EOF>'
            buf += d
        except socket.timeout:
            pass
    return buf
