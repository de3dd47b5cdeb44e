"""Publishes raw bodies on a queue's channel, as any process on it could (tests/js/mq/'s
garbage test): with redis-py's PUBLISH, or with kombu's Producer on the channel's fanout
exchange, each body as it is (no serializer).

    python publish_raw.py URL CHANNEL BODY...
"""

import sys

url, channel, bodies = sys.argv[1], sys.argv[2], sys.argv[3:]
if url.startswith("redis://"):
    import redis

    conn = redis.Redis.from_url(url)
    for body in bodies:
        conn.publish(channel, body.encode())
else:
    import kombu

    with kombu.Connection(url) as conn:
        exchange = kombu.Exchange(channel, type="fanout", durable=False)
        producer = conn.Producer(exchange=exchange)
        for body in bodies:
            producer.publish(body.encode(), content_type="application/data",
                             content_encoding="binary")
print("published", flush=True)
