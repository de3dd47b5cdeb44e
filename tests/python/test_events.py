"""Events with several arguments, acks both ways, and binary both ways (top level,
nested, in acks), in each transport configuration."""

BLOB = bytes(range(256))

SEVERAL = (
    1,
    "two",
    [3, {"four": 4.5}],
    None,
    True,
    {"nested": {"list": [1, 2, 3], "text": "héllo ☃ 𝄞"}},
)


def test_event_with_several_arguments(peers):
    peer = peers()
    peer.emit("echo", *SEVERAL)
    assert peer.log.wait_for("echo") == list(SEVERAL)


def test_send_is_a_message_event(peers):
    peer = peers()
    peer.sio.send(("hello", {"n": 2}))
    assert peer.log.wait_for("message") == ["hello", {"n": 2}]


def test_ack_client_to_server(peers):
    peer = peers()
    assert peer.emit_ack("echo-ack", *SEVERAL) == list(SEVERAL)
    assert peer.emit_ack("echo-ack") == [], "an ack with no arguments"


def test_ack_server_to_client_is_the_handlers_return_value(peers):
    def answer(payload):
        return {"got": payload, "from": "python"}

    peer = peers(setup=lambda p: p.on("question", answer))
    payload = {"q": "what is six times seven", "n": 42}
    assert peer.emit_ack("ask-client", payload) == [
        {"answer": {"got": payload, "from": "python"}}]
    assert peer.log.all("question") == [[payload]]


def test_binary_arguments_both_ways(peers):
    peer = peers()
    args = (
        b"\x00\x01\xfe\xff",
        {"nested": {"blob": BLOB, "list": [b"x", "text", b"\x00", b""]}},
        "plain text",
        [BLOB[:3], {"deeper": [BLOB[-3:]]}],
    )
    peer.emit("echo", *args)
    got = peer.log.wait_for("echo")
    assert got == list(args)
    assert isinstance(got[0], bytes) and isinstance(got[1]["nested"]["blob"], bytes)


def test_binary_acks_both_ways(peers):
    def answer(payload):
        return {"echoed": payload["blob"], "extra": b"\xca\xfe"}

    peer = peers(setup=lambda p: p.on("question", answer))
    # client -> server event with binary, binary ack back
    args = (BLOB, {"deep": [b"\x01\x02", {"deeper": b"\x03"}]})
    assert peer.emit_ack("echo-ack", *args) == list(args)
    # server -> client question, the client's ack carries binary, the server's ack of
    # `ask-client` nests it
    assert peer.emit_ack("ask-client", {"blob": b"\x00\xff"}) == [
        {"answer": {"echoed": b"\x00\xff", "extra": b"\xca\xfe"}}]
    assert peer.log.all("question") == [[{"blob": b"\x00\xff"}]]
