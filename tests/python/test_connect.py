"""Connecting: the handshake with auth, a refused auth, namespaces that do and do not
exist, in each transport configuration."""

import pytest
import socketio


def test_connect_with_auth_welcome_echoes_auth(peers, mode):
    auth = {"token": "let-me-in", "name": "python", "n": 7, "nested": {"ok": True}}
    peer = peers(auth=auth)
    welcome = peer.log.wait_for("welcome")
    assert welcome == [{"id": peer.sid(), "auth": auth, "namespace": "/"}]
    assert peer.transport() == mode.expect


def test_refused_auth_is_a_connection_error_with_message_and_data(peers, server, mode):
    peer = peers.new()
    with pytest.raises(socketio.exceptions.ConnectionError) as refused:
        peer.connect(server.url, mode, auth={"token": "reject"})
    # python-socketio names the namespace in the exception and hands the server's
    # CONNECT_ERROR payload to the connect_error handler.
    assert "/" in str(refused.value)
    [error] = peer.connect_errors.all("connect_error")
    assert error == [{"message": "not authorized", "data": {"code": 42, "reason": "bad token"}}]
    assert not peer.sio.connected
    assert peer.log.all("welcome") == []


def test_namespace_that_does_not_exist_is_refused(peers, server, mode):
    peer = peers.new(namespaces=["/does-not-exist"])
    with pytest.raises(socketio.exceptions.ConnectionError) as refused:
        peer.connect(server.url, mode)
    assert "/does-not-exist" in str(refused.value)
    [error] = peer.connect_errors.all("connect_error", namespace="/does-not-exist")
    assert error == [{"message": "Invalid namespace"}]
    assert not peer.sio.connected


def test_two_namespaces_on_one_connection(peers, mode):
    auth = {"name": "multiplexed"}
    peer = peers(auth=auth, namespaces=("/", "/custom"))
    main = peer.log.wait_for("welcome", namespace="/")
    custom = peer.log.wait_for("welcome", namespace="/custom")
    assert main == [{"id": peer.sid("/"), "auth": auth, "namespace": "/"}]
    assert custom == [{"id": peer.sid("/custom"), "auth": auth, "namespace": "/custom"}]
    assert peer.sid("/") != peer.sid("/custom"), "each namespace has a socket id of its own"
    assert peer.emit_ack("echo-ack", 1, "x", namespace="/custom") == ["custom", 1, "x"]
    assert peer.emit_ack("echo-ack", 1, "x", namespace="/") == [1, "x"]
