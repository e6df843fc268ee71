"""Queue groups across workers: <groups> queue subscriptions (one connection, on worker 0) to q.x, one
PUB q.x from worker 1; prints how many of the groups got it (each should, once).
Usage: groups.py <port> <groups>"""
import sys, time
from two_workers import drain, on_workers_0_and_1

port = int(sys.argv[1]); groups = int(sys.argv[2])
sub, pub = on_workers_0_and_1(port)
sub.sendall(b''.join(f'SUB q.x g{i} {i}\r\n'.encode() for i in range(groups)) + b'PING\r\n')
drain(sub, 0.5); time.sleep(0.5)
pub.sendall(b'PUB q.x 1\r\nx\r\nPING\r\n'); drain(pub, 0.5)
got = drain(sub, 1.0).count(b'MSG q.x ')
print(f"{groups} queue groups on the other worker: {got} delivered")
