"""A process with no server that emits to a cluster's clients through the queue, as
Flask-SocketIO's documentation shows for Celery workers (tests/js/mq/):

    python worker.py URL CHANNEL ROOM EVENT JSON
"""

import json
import sys

from flask_socketio import SocketIO

url, channel, room, event, payload = sys.argv[1:6]
# No app: write-only, it only publishes.
socketio = SocketIO(message_queue=url, channel=channel)
socketio.emit(event, json.loads(payload), to=room or None)
print("emitted", flush=True)
