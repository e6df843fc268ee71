"""A long subject across workers: SUB long.> on worker 0; from worker 1 PUB long.<n a's> then
PUB long.short; prints how many the subscriber got (2 expected) and what the publisher saw.
Usage: long-subject.py <port> <n>"""
import socket, sys, time, re
port = int(sys.argv[1]); n = int(sys.argv[2])
def conn():
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(0.3)
    info = s.recv(65536).decode()
    w = re.search(r'"server_id":"[^"]*W(\d+)"', info).group(1)
    s.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\n')
    return s, w
def drain(s, t=1.0):
    buf=b''; end=time.time()+t
    while time.time()<end:
        try:
            d=s.recv(1<<20)
            if not d: buf+=b'<EOF>'; break
            buf+=d
        except socket.timeout: pass
    return buf
by={}
while len(by)<2:
    s,w=conn(); by.setdefault(w,s)
sub, pub = by['0'], by['1']
subj = 'long.' + 'a'*n
sub.sendall(b'SUB long.> 1\r\nPING\r\n'); drain(sub,0.5)
pub.sendall(f'PUB {subj} 1\r\nx\r\nPUB long.short 1\r\ny\r\nPING\r\n'.encode()); r=drain(pub,0.5)
got = drain(sub, 1.0)
print(f"subject of {len(subj)} bytes: subscriber got {got.count(b'MSG ')} of 2; publisher saw {r[:80]!r}")
