"""A client's own order, on the wire, in two kinds of round, each one write:
  flush: PUB flush a, PUB flush b, PING, with SUB flush held throughout: is the PONG after both?
  unsub: SUB own.<r> <r>, PUB own.<r> a, PUB own.<r> b, UNSUB <r>, PUB own.<r> c, PING: are a and
         b delivered (c, published after the UNSUB, must not be)?
One nats-server answers MSG a, MSG b, PONG every time. After each round a second PING: what of
the round comes at all is in by its PONG. Usage: probe.py <port> [rounds of each kind]"""
import socket, sys

port, rounds = int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 200
s = socket.create_connection(("127.0.0.1", port))
s.settimeout(2)
buf = b""

def until(token):
    global buf
    while token not in buf:
        buf += s.recv(65536)
    at = buf.index(token) + len(token)
    head, buf = buf[:at], buf[at:]
    return head.replace(b"PING\r\n", b"")  # a server PING may come between

def round_trip():
    s.sendall(b"PING\r\n")
    return until(b"PONG\r\n")

until(b"\r\n")  # INFO
s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nSUB flush 0\r\n')
round_trip()
pong_first = lost_unsub = leaked = 0
for r in range(rounds):
    s.sendall(b"PUB flush 1\r\na\r\nPUB flush 1\r\nb\r\nPING\r\n")
    if until(b"PONG\r\n").count(b"MSG flush 0 1\r\n") < 2: pong_first += 1
    round_trip()
for r in range(1, rounds + 1):
    s.sendall(f"SUB own.{r} {r}\r\nPUB own.{r} 1\r\na\r\nPUB own.{r} 1\r\nb\r\nUNSUB {r}\r\nPUB own.{r} 1\r\nc\r\nPING\r\n".encode())
    got = until(b"PONG\r\n") + round_trip()
    lost_unsub += 2 - got.count(f"MSG own.{r} {r} 1\r\na\r\n".encode()) - got.count(f"MSG own.{r} {r} 1\r\nb\r\n".encode())
    leaked += got.count(b"\r\nc\r\n")
print(f"{rounds} flush rounds: PONG before the client's own messages in {pong_first}; "
      f"{rounds} unsub rounds: messages before the UNSUB lost {lost_unsub}, after it delivered {leaked}")
