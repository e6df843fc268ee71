"""Subscribe permissions with queue rules, differential: <users> users, each with random subscribe
allow and deny lists of plain and queue rules ("<subject> <queue>"), written as one
authorization block for nats-server and for tickfan; then, per user, <subs> random SUBs (with
and without a queue group) in one connection, and which of them each broker refused.
Usage: fuzz.py <tickfan checkout> <users> <subs> [seed] [plain]; prints the differences and a count."""
import json, os, random, re, subprocess, sys, tempfile, time
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..'))
from raw_nats import handshake
checkout, users, subs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
random.seed(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
SUBJECTS = ['jobs.a', 'jobs.b', 'jobs.*', 'jobs.>', 'ev.x.y', 'ev.*.y', 'ev.>', '>', 'ev.x.*']
QUEUES = ['w', 'v1.a', 'v1.b', 'v2.a']
QPATTERNS = QUEUES + ['v1.*', '*', '>', 'v2.>']
PLAIN = 'plain' in sys.argv[5:]  # rules without queues (a checkout from before queue rules takes only these)
def rule():
    s = random.choice(SUBJECTS)
    return s if PLAIN or random.random() < 0.5 else f'{s} {random.choice(QPATTERNS)}'
config = {'users': []}
for u in range(users):
    p = {}
    if random.random() < 0.8: p['allow'] = [rule() for _ in range(random.randint(1, 3))]
    if random.random() < 0.6: p['deny'] = [rule() for _ in range(random.randint(1, 2))]
    config['users'].append({'user': f'u{u}', 'password': 'p', 'permissions': {'subscribe': p}})
tmp = tempfile.mkdtemp()
open(f'{tmp}/auth.json', 'w').write(json.dumps({'authorization': config}))
open(f'{tmp}/nats.conf', 'w').write('listen: 127.0.0.1:-1\nauthorization: ' + json.dumps(config) + '\n')
ns = subprocess.Popen(['nats-server', '-c', f'{tmp}/nats.conf', '-l', f'{tmp}/nats.log'])
tf = subprocess.Popen(['node', '--import', 'tsx', 'broker/main.ts', '--workers', '1', '--host', '127.0.0.1', '--port', '0',
                       '--ws-port', '0', '--http-port', '0', '--auth', f'{tmp}/auth.json'], cwd=checkout,
                      stdout=open(f'{tmp}/tickfan.log', 'w'), stderr=subprocess.STDOUT)
def port_of(path, pattern):
    for _ in range(100):
        m = re.search(pattern, open(path).read()) if os.path.exists(path) else None
        if m: return int(m.group(1))
        time.sleep(0.1)
    raise SystemExit(f'no port in {path}: {open(path).read()[-500:]}')
ports = {'nats-server': port_of(f'{tmp}/nats.log', r'client connections on 127\.0\.0\.1:(\d+)'),
         'tickfan': port_of(f'{tmp}/tickfan.log', r'nats://127\.0\.0\.1:(\d+)')}
def refused(port, user, script):
    s, got = handshake(port, f'{{"verbose":false,"pedantic":false,"user":"{user}","pass":"p"}}', script, timeout=5)
    s.close()
    return re.findall(r"Subscription to \"([^\"]*)\"(?: using queue \"([^\"]*)\")?", got.decode())
differ = 0
kinds = {}
try:
    for u in config['users']:
        script = ''
        for i in range(subs):
            q = f' {random.choice(QUEUES)}' if random.random() < 0.6 else ''
            script += f'SUB {random.choice(SUBJECTS)}{q} {i + 1}\r\n'
        a, b = refused(ports['nats-server'], u['user'], script), refused(ports['tickfan'], u['user'], script)
        if a != b:
            differ += 1
            only_tickfan = sorted(set(b) - set(a))
            only_nats = sorted(set(a) - set(b))
            kinds.setdefault('tickfan refuses more' if not only_nats else 'nats-server refuses more' if not only_tickfan else 'both', []).append(1)
            print(json.dumps(u['permissions']['subscribe']), '\n  refused by tickfan only', only_tickfan, '\n  refused by nats-server only', only_nats)
finally:
    ns.terminate(); tf.terminate()
print(f'{users} users, {subs} SUBs each: {differ} users whose refusals differ', {k: len(v) for k, v in kinds.items()})
