"""WebSocket edge cases, each on a fresh connection after CONNECT, sent to nats-server and to
tickfan: what frames came back within 1.5 s (opcode and the first 60 bytes; 8 is a close frame,
its first two bytes the code), or how the connection ended.
Usage: ws-probe.py <nats-server ws port> <tickfan ws port>"""
import os, random, socket, struct, sys, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from raw_nats import parse_frames, ws_connect, ws_frame as frame
def raw_frames(c, t=1.5):
    """What came within t s: how the stream ended, if it did ('EOF', 'ERR'), then the frames, as (opcode, payload)."""
    c.sock.settimeout(t); out=[]; buf=c.buf
    end=time.time()+t
    while time.time()<end:
        try:
            d=c.sock.recv(65536)
            if not d: out.append(('EOF',b'')); break
            buf+=d
        except socket.timeout: break
        except OSError as e: out.append(('ERR',str(e).encode())); break
    return out + parse_frames(buf)[0]
def start(port):
    c=ws_connect(port, random.Random(1)); c.sock.settimeout(2)
    while b'\r\n' not in c.buf:
        c.buf+=c.sock.recv(65536)
    c.buf=b''  # INFO frame dropped (assumes one frame)
    c.sock.sendall(frame(2,b'CONNECT {"verbose":false,"pedantic":false}\r\n'))
    return c
cases = {
 'text frame with PING': lambda c: c.sock.sendall(frame(1,b'PING\r\n')),
 'ping control frame': lambda c: c.sock.sendall(frame(9,b'hello')),
 'close frame 1000': lambda c: c.sock.sendall(frame(8,struct.pack('>H',1000)+b'bye')),
 'unmasked frame': lambda c: c.sock.sendall(frame(2,b'PING\r\n',mask=False)),
 'rsv1 without deflate': lambda c: c.sock.sendall(frame(2,b'PING\r\n',rsv1=True)),
 'unknown opcode 3': lambda c: c.sock.sendall(frame(3,b'PING\r\n')),
 'continuation without start': lambda c: c.sock.sendall(frame(0,b'PING\r\n')),
 'fragmented control frame': lambda c: c.sock.sendall(frame(9,b'x',fin=False)),
 'control frame over 125': lambda c: c.sock.sendall(frame(9,b'x'*126)),
 'invalid utf8 text': lambda c: c.sock.sendall(frame(1,b'PUB a 1\r\n\xff\r\nPING\r\n')),
 'new message inside fragmented': lambda c: c.sock.sendall(frame(2,b'PI',fin=False)+frame(2,b'NG\r\n')),
 'close frame 1-byte payload': lambda c: c.sock.sendall(frame(8,b'\x03')),
 'close frame bad code 999': lambda c: c.sock.sendall(frame(8,struct.pack('>H',999))),
 'big frame 2MiB PUB': lambda c: c.sock.sendall(frame(2,b'PUB a 2097152\r\n'+b'x'*2097152+b'\r\nPING\r\n')),
 'two 900KiB PUBs in one frame': lambda c: c.sock.sendall(frame(2,(b'PUB a 921600\r\n'+b'x'*921600+b'\r\n')*2+b'PING\r\n')),
 'ten 100KiB PUBs in one frame': lambda c: c.sock.sendall(frame(2,(b'PUB a 102400\r\n'+b'x'*102400+b'\r\n')*20+b'PING\r\n')),
}
for port,name in ((int(sys.argv[1]),'nats-server'),(int(sys.argv[2]),'tickfan')):
    print('==', name)
    for k,f in cases.items():
        try:
            c=start(port); f(c); fr=raw_frames(c)
            print(f'  {k:32s}', [(op, p[:60]) for op,p in fr])
        except Exception as e: print(f'  {k:32s} EXC {e}')
