"""The Flask-SocketIO node of the message queue suite (tests/js/mq/): the tutorial's chat
(rooms, broadcasts, a private message to a sid) on python-socketio's queue, with the same
event contract as the Sockeye node beside it (tests/fixtures/src/bin/mq_node.rs).

    python flask_chat.py redis://127.0.0.1:6379/0 CHANNEL
    python flask_chat.py amqp://guest:guest@127.0.0.1:5672// CHANNEL

Listens on 127.0.0.1, a port the OS picks, and prints `listening on 127.0.0.1:PORT`.
"""

import sys
import threading

from flask import Flask, request
from flask_socketio import (SocketIO, close_room, disconnect, emit, join_room,
                            leave_room)
from werkzeug.serving import make_server

url, channel = sys.argv[1], sys.argv[2]
app = Flask(__name__)
# Flask-SocketIO picks RedisManager for redis:// and KombuManager for anything else.
socketio = SocketIO(app, message_queue=url, channel=channel, async_mode="threading",
                    cors_allowed_origins="*")


@socketio.on("connect")
def on_connect(auth):
    room = (auth or {}).get("room")
    if room:
        join_room(room)


@socketio.on("join")
def on_join(room):
    join_room(room)
    return True


@socketio.on("leave")
def on_leave(room):
    leave_room(room)
    return True


@socketio.on("to")
def on_to(room, event, payload):
    # A broadcast (room None) or a room's chat message; to a sid, a private message.
    socketio.emit(event, payload, to=room)
    return True


@socketio.on("to-skip")
def on_to_skip(room, skip, event, payload):
    socketio.emit(event, payload, to=room, skip_sid=skip)
    return True


@socketio.on("sockets-join")
def on_sockets_join(sid, room):
    join_room(room, sid=sid, namespace="/")
    return True


@socketio.on("sockets-leave")
def on_sockets_leave(sid, room):
    leave_room(room, sid=sid, namespace="/")
    return True


@socketio.on("close-room")
def on_close_room(room):
    close_room(room, namespace="/")
    return True


@socketio.on("disconnect-sid")
def on_disconnect_sid(sid):
    disconnect(sid=sid, namespace="/")
    return True


@socketio.on("ask")
def on_ask(sid, event, payload):
    # An emit to one sid (on any node) whose answer comes back through the queue.
    answered = threading.Event()
    answers = []

    def callback(*args):
        answers.append(args[0] if args else None)
        answered.set()

    socketio.emit(event, payload, to=sid, callback=callback)
    if answered.wait(10):
        return {"err": None, "responses": answers}
    return {"err": "timeout", "responses": []}


if __name__ == "__main__":
    server = make_server("127.0.0.1", 0, app, threaded=True)
    print(f"listening on 127.0.0.1:{server.server_port}", flush=True)
    server.serve_forever()
