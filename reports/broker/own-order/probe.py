"""A client's own order, on the wire, in two kinds of round, each one write:
  flush: PUB flush a, PUB flush b, PING, with SUB flush held throughout: is the PONG after both?
  unsub: SUB own.<r> <r>, PUB own.<r> a, PUB own.<r> b, UNSUB <r>, PUB own.<r> c, PING: are a and
         b delivered (c, published after the UNSUB, must not be)?
  sub:   PUB late.<r> a, SUB late.<r> s<r>, PUB late.<r> b, UNSUB s<r>, PING, with SUB late.> held:
         a was published before s<r> existed and must not reach it; b must.
  queue: the same with a queue group (qlate.<r>, group g, SUB qlate.* g held by the same client):
         a must go to the member that existed when it was published.
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
s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nSUB flush 0\r\nSUB late.> w\r\nSUB qlate.* g q0\r\n')
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
sub_early = sub_lost = 0
for r in range(1, rounds + 1):
    s.sendall(f"PUB late.{r} 1\r\na\r\nSUB late.{r} s{r}\r\nPUB late.{r} 1\r\nb\r\nUNSUB s{r}\r\nPING\r\n".encode())
    got = until(b"PONG\r\n") + round_trip()
    sub_early += got.count(f"MSG late.{r} s{r} 1\r\na\r\n".encode())
    sub_lost += 1 - got.count(f"MSG late.{r} s{r} 1\r\nb\r\n".encode())
queue_early = 0
for r in range(1, rounds + 1):
    s.sendall(f"PUB qlate.{r} 1\r\na\r\nSUB qlate.{r} g q{r}\r\nPUB qlate.{r} 1\r\nb\r\nUNSUB q{r}\r\nPING\r\n".encode())
    got = until(b"PONG\r\n") + round_trip()
    queue_early += got.count(f"MSG qlate.{r} q{r} 1\r\na\r\n".encode())
print(f"{rounds} flush rounds: PONG before the client's own messages in {pong_first}; "
      f"{rounds} unsub rounds: messages before the UNSUB lost {lost_unsub}, after it delivered {leaked}; "
      f"{rounds} sub rounds: a message published before the SUB delivered to it {sub_early}, "
      f"one after it lost {sub_lost}; {rounds} queue rounds: one before the SUB delivered to it {queue_early}")
