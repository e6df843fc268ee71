"""Opens <n> connections in turn to <port>, each CONNECT then PING, and prints for each: ok (PONG)
or the first bytes it got before the broker closed it. Usage: count.py <port> <n>"""
import socket, sys, time
port = int(sys.argv[1]); n = int(sys.argv[2])
socks=[]; res=[]
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(1)
    try:
        d = s.recv(4096)
        s.sendall(b'CONNECT {"verbose":false}\r\nPING\r\n')
        time.sleep(0.05)
        d2 = s.recv(4096)
        res.append('ok' if b'PONG' in d2 else (d+d2)[:60])
    except Exception as e:
        res.append(type(e).__name__)
    socks.append(s)
print(res)
