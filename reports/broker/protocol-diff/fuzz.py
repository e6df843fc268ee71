"""Differential fuzz of the client protocol: the same random script of SUB, UNSUB, PUB, HPUB and
PING (valid and not: empty and wildcard tokens, control characters, sizes off by one, repeated
sids) sent in one connection to each broker, then a PING; what each connection received up to
its last PONG, or its close, is compared. -ERR texts are compared without case.
With `options`, each script's CONNECT draws verbose, pedantic, echo, headers and
no_responders at random (no_responders only with headers); else all are false but headers.
With `ws`, the ports are WebSocket ports: the script's bytes are cut at random points into 1-4
messages (a command may span two), each message into 1-4 binary frames with now and then a ping
between two (raw_nats.WsConn), the same cuts for every broker.
Usage: fuzz.py <port,port,...> <trials> [seed] [options] [ws]: the first port is the reference."""
import os, random, re, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from raw_nats import handshake, random_pieces
ports = [int(p) for p in sys.argv[1].split(',')]
trials = int(sys.argv[2]); seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
TOK = ['a', 'b', 'c', '*', '>', '', 'a b', 'é', 'x\x01', '.', 'a..b']
def subject(wild=True):
    n = random.randint(1, 3)
    toks = [random.choice(TOK[:3] + (TOK[3:5] if wild else []) + (TOK[5:] if random.random() < 0.05 else [])) for _ in range(n)]
    return '.'.join(toks)
def script(nconn):
    cmds = []
    for _ in range(random.randint(1, 12)):
        c = random.randrange(nconn)
        r = random.random()
        if r < 0.3:
            q = f' q{random.randint(1,2)}' if random.random() < 0.3 else ''
            cmds.append((c, f'SUB {subject()}{q} {random.randint(1,4)}\r\n'))
        elif r < 0.4:
            mx = f' {random.randint(0,3)}' if random.random() < 0.5 else ''
            cmds.append((c, f'UNSUB {random.randint(1,4)}{mx}\r\n'))
        elif r < 0.8:
            body = 'p' * random.randint(0, 5)
            rep = f' {subject(False)}' if random.random() < 0.2 else ''
            sz = len(body) if random.random() < 0.95 else len(body) + random.choice([-1, 1])
            cmds.append((c, f'PUB {subject(random.random() < 0.1)}{rep} {sz}\r\n{body}\r\n'))
        elif r < 0.9:
            h = 'NATS/1.0\r\nk: v\r\n\r\n'; body = 'hb'
            cmds.append((c, f'HPUB {subject(False)} {len(h)} {len(h)+len(body)}\r\n{h}{body}\r\n'))
        else:
            cmds.append((c, 'PING\r\n'))
    return cmds
CONNECT = '{"verbose":false,"pedantic":false,"headers":true,"no_responders":false}'
WS = 'ws' in sys.argv[4:]
def writes(cmds, rng):
    """What each connection sends, in order: a write per command, or over WebSocket the script cut anywhere."""
    if not WS: return [(c, cmd.encode('utf-8', 'surrogateescape')) for c, cmd in cmds]
    data = ''.join(cmd for _, cmd in cmds).encode('utf-8', 'surrogateescape')
    return [(0, piece) for piece in random_pieces(data, rng)]
def run(port, cmds, nconn, frames_seed):
    rng = random.Random(frames_seed) if WS else None
    socks = []
    for i in range(nconn):
        s, _ = handshake(port, CONNECT, ws=rng)
        socks.append(s)
    for c, data in writes(cmds, rng):
        try: socks[c].sendall(data)
        except OSError: pass
    outs = []
    for s in socks:
        got = b''
        want = sum(1 for c, cmd in cmds if cmd == 'PING\r\n') + 1
        try:
            s.sendall(b'PING\r\n')
            while got.count(b'PONG\r\n') < want:
                d = s.recv(65536)
                if not d: got += b'<closed>'; break
                got += d
        except OSError as e: got += b'<closed>'
        outs.append(got)
    for s in socks: s.close()
    return outs
def norm(b):
    t = b.decode('latin1')
    t = re.sub(r"-ERR '[^']*'", lambda m: m.group(0).lower(), t)
    return t
def lines(t):
    return re.findall(r'[^\n]*\n|<closed>', t)
def category(cmds, a, b):
    """Why two outputs differ, in the broad kinds this fuzz finds."""
    la, lb = lines(a), lines(b)
    if sorted(la) == sorted(lb): return 'same lines, another order'
    anysid = lambda ls: sorted(re.sub(r'^(H?MSG \S+) \S+', r'\1 *', l) for l in ls)
    if any(re.match(r'SUB \S+ q', c) for _, c in cmds) and anysid(la) == anysid(lb):
        return 'another member of a queue group chosen'
    wild = any(re.match(r'H?PUB \S*[*>]', c) for _, c in cmds)
    errs = lambda ls: [l for l in ls if not l.startswith('-err')]
    if errs(la) == errs(lb): return 'only -ERR lines differ'
    if la[-1:] == ['<closed>'] and lb[-1:] == ['<closed>']:
        it = iter(la)
        if all(l in it for l in errs(lb)): return "closed: replies and messages before the close missing"
        it = iter(lb)
        if all(l in it for l in errs(la)): return "closed: the reference's replies before the close missing"
    if wild: return 'a publish to a subject with a wildcard token'
    return 'other'
random.seed(seed)
kinds = {}
connects = {}
for t in range(trials):
    if 'options' in sys.argv[4:]:
        v, p, e, h, n = (random.choice(['true', 'false']) for _ in range(5))
        CONNECT = f'{{"verbose":{v},"pedantic":{p},"echo":{e},"headers":{h},"no_responders":{n if h == "true" else "false"}}}'
    cmds = script(1)
    res = [run(p, cmds, 1, seed * 1_000_003 + t) for p in ports]
    a = norm(res[0][0])
    for other in res[1:]:
        b = norm(other[0])
        if a == b: continue
        kind = category(cmds, a, b)
        if 'options' in sys.argv[4:]: connects[t] = CONNECT
        kinds.setdefault(kind, []).append((t, cmds, a, b))
print(f'trials {trials}, differing {sum(len(v) for v in kinds.values())}')
for kind, found in sorted(kinds.items(), key=lambda kv: -len(kv[1])):
    print(f'  {len(found):4d}  {kind}')
for kind, found in sorted(kinds.items(), key=lambda kv: -len(kv[1])):
    for t, cmds, a, b in found[:2]:
        print(f'--- {kind}: trial {t}' + (f', CONNECT {connects[t]}' if connects else ''))
        for _, c in cmds: print('   ', repr(c))
        print('    reference', repr(a)); print('    this     ', repr(b))
