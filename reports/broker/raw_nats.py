"""The NATS client protocol on a raw socket, shared by the probes in the folders beside it."""
import socket


def handshake(port, connect, after='', timeout=3):
    """Connects to 127.0.0.1:<port>, reads INFO, sends `CONNECT <connect>`, then `after` and a
    PING; returns the socket and what came before that PING's PONG, the PONG included."""
    s = socket.create_connection(('127.0.0.1', port))
    s.settimeout(timeout)
    got = b''
    while b'\r\n' not in got: got += s.recv(65536)
    s.sendall(f'CONNECT {connect}\r\n{after}PING\r\n'.encode())
    got = b''
    while b'PONG\r\n' not in got: got += s.recv(65536)
    return s, got
