"""Queue groups across workers: <groups> queue subscriptions (one connection, on worker 0) to q.x, one
PUB q.x from worker 1; prints how many of the groups got it (each should, once).
Usage: groups.py <port> <groups>"""
import socket, sys, time, re
port = int(sys.argv[1]); groups = int(sys.argv[2])
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
            if not d: break
            buf+=d
        except socket.timeout: pass
    return buf
by={}
while len(by)<2:
    s,w=conn()
    by.setdefault(w,s)
sub, pub = by['0'], by['1']
sub.sendall(b''.join(f'SUB q.x g{i} {i}\r\n'.encode() for i in range(groups)) + b'PING\r\n')
drain(sub, 0.5); time.sleep(0.5)
pub.sendall(b'PUB q.x 1\r\nx\r\nPING\r\n'); drain(pub, 0.5)
got = drain(sub, 1.0).count(b'MSG q.x ')
print(f"{groups} queue groups on the other worker: {got} delivered")
