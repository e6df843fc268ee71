"""What a conflating connection's held trades cost the broker in memory, against what it counts.
A subscriber to quote.> and trade.> stops reading (its receive buffer 4 KiB); a publisher then
sends <pairs> rounds of one quote and one trade (32-byte payloads) on 100 symbols, in writes of
1,000 rounds, and a PING; or, with --pingpong, one connection that subscribes to its own subject
sends <pairs> rounds of PUB and PING and reads nothing; or, with --reading, the first case with a
subscriber that reads everything (what the same traffic costs without a slow consumer). Prints the broker's resident memory
(its process and every child) before and at its peak, and whether the silent connection was cut.
Usage: probe.py <nats port> <monitoring port> <broker pid> <pairs> [--pingpong | --reading]"""
import json, os, socket, subprocess, sys, threading, time, urllib.request

port, http, pid, pairs = (int(a) for a in sys.argv[1:5])
pingpong = "--pingpong" in sys.argv
reading = "--reading" in sys.argv

def rss_mib():
    total = 0
    for p in [str(pid)] + subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split():
        try:
            total += next(int(l.split()[1]) for l in open(f"/proc/{p}/status") if l.startswith("VmRSS"))
        except (OSError, StopIteration):
            pass
    return total / 1024

def varz():
    return json.load(urllib.request.urlopen(f"http://127.0.0.1:{http}/varz"))

def connect(rcvbuf=None):
    s = socket.socket()
    if rcvbuf: s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    s.recv(65536)
    s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\n')
    return s

def round_trip(s):
    s.sendall(b"PING\r\n")
    got = b""
    while b"PONG\r\n" not in got: got += s.recv(65536)

idle = rss_mib()
peak = [idle]
done = threading.Event()
def watch():
    while not done.is_set():
        peak[0] = max(peak[0], rss_mib()); time.sleep(0.05)
threading.Thread(target=watch, daemon=True).start()
body = b"x" * 32
cut = None
t0 = time.time()
if pingpong:
    s = connect(4096)
    s.sendall(b"SUB own 1\r\n")
    s.settimeout(10)
    try:
        for _ in range(pairs // 1000):
            s.sendall(b"PUB own 32\r\n" + body + b"\r\nPING\r\n" * 1 + (b"PUB own 32\r\n" + body + b"\r\nPING\r\n") * 999)
    except OSError as e:
        cut = repr(e)
else:
    sub = connect(None if reading else 4096)
    sub.sendall(b"SUB quote.> 1\r\nSUB trade.> 2\r\n")
    round_trip(sub)
    if reading and os.fork() == 0:  # a process of its own reads, so that the publisher does not slow it
        try:  # answering the broker's PINGs, as every client does (its flow control asks by them)
            tail = b""
            while True:
                got = sub.recv(1 << 20)
                if not got: break
                pings = (tail + got).count(b"PING\r\n") - tail.count(b"PING\r\n")
                if pings: sub.sendall(b"PONG\r\n" * pings)
                tail = got[-5:]
        except OSError:
            pass
        os._exit(0)
    pub = connect()
    batch = b"".join(b"PUB quote.S%d 32\r\n%s\r\nPUB trade.S%d 32\r\n%s\r\n" % (i % 100, body, i % 100, body) for i in range(1000))
    for _ in range(pairs // 1000): pub.sendall(batch)
    round_trip(pub)
time.sleep(1)
done.set()
v = varz()
print(f"{'pingpong' if pingpong else 'interleaved, read' if reading else 'interleaved'}, {pairs} rounds in {time.time() - t0:.1f} s: broker RSS {idle:.0f} MiB idle, "
      f"{peak[0]:.0f} at peak (+{peak[0] - idle:.0f}); slow consumers cut {v.get('slow_consumers')}"
      + (f"; the connection saw {cut}" if cut else ""))
