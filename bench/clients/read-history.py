"""The trade history read by the official Python client (nats-py), for `npm run
check:python-history`: publishes 10 trades and a repeated one, then stream info, a pull
consumer with ack policy none, fetch, and the last message of a subject. Prints what it saw."""
import asyncio, json, sys
import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

async def main(url: str) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    for i in range(1, 11):
        await nc.publish(f"trade.py.{'X' if i % 2 else 'Y'}", f"t{i}".encode(), headers={"Nats-Msg-Id": f"py.{i}"})
    ack = await js.publish("trade.py.X", b"t3", headers={"Nats-Msg-Id": "py.3"})
    await nc.flush()
    info = await js.stream_info("trades")
    sub = await js.pull_subscribe("trade.py.>", stream="trades",
                                  config=ConsumerConfig(ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL))
    got = []
    while len(got) < 10:
        msgs = await sub.fetch(10, timeout=2)
        got += [(m.subject, m.data.decode(), m.metadata.sequence.stream) for m in msgs]
    last = await js.get_last_msg("trades", "trade.py.Y")
    print(json.dumps({
        "duplicate_ack": {"seq": ack.seq, "duplicate": ack.duplicate},
        "stream": {"name": info.config.name, "messages": info.state.messages, "last_seq": info.state.last_seq},
        "fetched": got,
        "last_on_trade.py.Y": [last.subject, last.data.decode(), last.seq],
    }))
    await nc.close()

asyncio.run(main(sys.argv[1]))
