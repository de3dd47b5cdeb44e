"""Rooms with three clients: join, to-room reaches the members and nobody else, leave.
Non-receipt is asserted after a marker broadcast (see conftest.marker)."""

from conftest import marker, uniq


def join(peer, room):
    assert peer.emit_ack("join", room) == ["joined", room]


def leave(peer, room):
    assert peer.emit_ack("leave", room) == ["left", room]


def room_msgs(peer, room):
    return [args for args in peer.log.all("room-msg") if args and args[0] == room]


def test_to_room_reaches_members_and_not_others(peers):
    a, b, c = peers(auth={"name": "A"}), peers(auth={"name": "B"}), peers(auth={"name": "C"})
    room = uniq("room")
    join(a, room)
    join(b, room)
    assert a.emit_ack("rooms") == [sorted([a.sid(), room])]

    a.emit("to-room", room, {"from": "A, a member", "n": 1})
    a.log.wait_for("room-msg", lambda r, m: r == room and m["n"] == 1)
    b.log.wait_for("room-msg", lambda r, m: r == room and m["n"] == 1)

    # A sender outside the room reaches the members.
    c.emit("to-room", room, {"from": "C, not a member", "n": 2})
    a.log.wait_for("room-msg", lambda r, m: r == room and m["n"] == 2)
    b.log.wait_for("room-msg", lambda r, m: r == room and m["n"] == 2)

    marker(c, [a, b, c])
    # python-socketio runs each received event's handler in a thread of its own, so the
    # order of arrival is not observable here; the set and the counts are.
    for member in (a, b):
        assert sorted(room_msgs(member, room), key=lambda x: x[1]["n"]) == [
            [room, {"from": "A, a member", "n": 1}],
            [room, {"from": "C, not a member", "n": 2}],
        ], "each member got each message once"
    assert c.log.all("room-msg") == [], "a non-member got nothing"


def test_leave_stops_room_messages(peers):
    a, b = peers(auth={"name": "A"}), peers(auth={"name": "B"})
    room = uniq("room")
    join(a, room)
    join(b, room)
    leave(a, room)

    b.emit("to-room", room, "after A left")
    b.log.wait_for("room-msg", lambda r, m: r == room and m == "after A left")
    marker(b, [a, b])
    assert room_msgs(b, room) == [[room, "after A left"]]
    assert a.log.all("room-msg") == [], "a socket that left gets nothing"
    assert a.emit_ack("rooms") == [[a.sid()]], "only its own room is left"
    assert b.emit_ack("rooms") == [sorted([b.sid(), room])]

    # Leaving a room one is not in is acknowledged and changes nothing.
    leave(a, room)
    assert a.emit_ack("rooms") == [[a.sid()]]
