"""A long subject across workers: SUB long.> on worker 0; from worker 1 PUB long.<n a's> then
PUB long.short; prints how many the subscriber got (2 expected) and what the publisher saw.
Usage: long-subject.py <port> <n>"""
import sys
from two_workers import drain, on_workers_0_and_1

port = int(sys.argv[1]); n = int(sys.argv[2])
sub, pub = on_workers_0_and_1(port)
subj = 'long.' + 'a'*n
sub.sendall(b'SUB long.> 1\r\nPING\r\n'); drain(sub, 0.5)
pub.sendall(f'PUB {subj} 1\r\nx\r\nPUB long.short 1\r\ny\r\nPING\r\n'.encode()); r = drain(pub, 0.5)
got = drain(sub, 1.0)
print(f"subject of {len(subj)} bytes: subscriber got {got.count(b'MSG ')} of 2; publisher saw {r[:80]!r}")
