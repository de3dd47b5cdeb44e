"""The machinery of the Python interop suite: starts and stops the fixture server,
connects official python-socketio clients in each transport configuration, and waits on
events with timeouts. There are no sleeps: every wait ends on an event or its timeout.

Environment:
  SERVER_CMD              shell command that starts the fixture server
                          (tests/js/interop/FIXTURE.md); PORT=0 is set for it
  SERVER_LOG              file that receives the server's stdout and stderr
                          (default: a temporary file, named in the pytest header)
  PY_INTEROP_TIMEOUT      seconds any single wait may take (default 10)
  PY_INTEROP_START_TIMEOUT  seconds to wait for "listening on" (default 60)
"""

import atexit
import os
import signal
import subprocess
import tempfile
import threading
import uuid

import pytest
import socketio

TIMEOUT = float(os.environ.get("PY_INTEROP_TIMEOUT", "10"))
START_TIMEOUT = float(os.environ.get("PY_INTEROP_START_TIMEOUT", "60"))


# ---- transport configurations --------------------------------------------------------

class Mode:
    """A transport configuration: what the client may use and where it must end up."""

    def __init__(self, name, transports, expect):
        self.name = name
        self.transports = transports
        self.expect = expect

    def __repr__(self):
        return self.name


MODES = [
    Mode("websocket", ["websocket"], "websocket"),
    Mode("polling", ["polling"], "polling"),
    # python-socketio starts on the first transport listed and upgrades when the
    # server's handshake offers "websocket"; ending on websocket proves the upgrade.
    Mode("polling+upgrade", ["polling", "websocket"], "websocket"),
]


@pytest.fixture(params=MODES, ids=[m.name for m in MODES])
def mode(request):
    return request.param


def uniq(prefix):
    """A name no other test uses (rooms, markers)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# ---- the server under test -------------------------------------------------------------

class Server:
    def __init__(self, cmd, log_path):
        self.cmd = cmd
        self.log_path = log_path
        self.url = None
        self._log = open(log_path, "w", encoding="utf-8", errors="replace")
        # A session of its own, so that stopping it reaches the shell's children too.
        self.proc = subprocess.Popen(
            cmd, shell=True, env={**os.environ, "PORT": "0"},
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True, text=True, errors="replace")
        self._listening = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        # Should pytest end without its teardown (a crash), the server still stops.
        atexit.register(self._kill)

    def _read(self):
        # Copies every line to the log (so the pipe never fills) and notes the address.
        for line in self.proc.stdout:
            self._log.write(line)
            self._log.flush()
            if self.url is None and line.startswith("listening on "):
                self.url = "http://" + line[len("listening on "):].strip()
                self._listening.set()
        self._listening.set()  # the server exited: stop waiting

    def _kill(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)

    def wait_listening(self):
        self._listening.wait(START_TIMEOUT)
        return self.url

    def stop(self):
        """SIGTERM, then SIGKILL after 10 s; True when SIGTERM was enough."""
        exited = True
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                exited = False
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._reader.join(5)
        self._log.close()
        return exited

    def log_tail(self, n=40):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-n:])


def _server_log_path():
    path = os.environ.get("SERVER_LOG")
    if path:
        return path
    fd, path = tempfile.mkstemp(prefix="python-interop-server-", suffix=".log")
    os.close(fd)
    return path


def pytest_report_header(config):
    return [f"SERVER_CMD: {os.environ.get('SERVER_CMD', '(not set)')}"]


@pytest.fixture(scope="session")
def server():
    cmd = os.environ.get("SERVER_CMD")
    if not cmd:
        pytest.fail("SERVER_CMD is not set: give the shell command that starts the "
                    "interop fixture (see tests/js/interop/FIXTURE.md)", pytrace=False)
    srv = Server(cmd, _server_log_path())
    if srv.wait_listening() is None:
        srv.stop()
        pytest.fail(f"server did not print 'listening on' within {START_TIMEOUT} s: "
                    f"{cmd}\n{srv.log_tail()}", pytrace=False)
    print(f"\nserver {srv.url} (log: {srv.log_path})")
    yield srv
    # A server that died during the run fails the last test's teardown instead of
    # leaving later failures unexplained.
    exited_early = srv.proc.poll()
    stopped_by_sigterm = srv.stop()
    if exited_early is not None:
        pytest.fail(f"the server exited during the run with code {exited_early}\n"
                    f"{srv.log_tail()}", pytrace=False)
    if not stopped_by_sigterm:
        pytest.fail("the server did not exit within 10 s of SIGTERM (FIXTURE.md: "
                    f"it exits on SIGTERM)\n{srv.log_tail()}", pytrace=False)


# ---- clients ---------------------------------------------------------------------------

class EventLog:
    """Every event a client received, per namespace, and a way to wait for one."""

    def __init__(self, owner_state=lambda: "?"):
        self._events = []  # (namespace, event, args)
        self._changed = threading.Condition()
        self.owner_state = owner_state

    def record(self, namespace, event, args):
        with self._changed:
            self._events.append((namespace, event, list(args)))
            self._changed.notify_all()

    def all(self, event, namespace="/"):
        with self._changed:
            return [a for (n, e, a) in self._events if n == namespace and e == event]

    def wait_for(self, event, pred=lambda *args: True, what=None, namespace="/",
                 timeout=TIMEOUT):
        """Returns the args of the first matching event, waiting up to `timeout`."""
        def matches(args):
            try:
                return pred(*args)
            except (TypeError, KeyError, IndexError):  # another shape: not this one
                return False

        def find():
            for n, e, a in self._events:
                if n == namespace and e == event and matches(a):
                    return a
            return None

        with self._changed:
            found = self._changed.wait_for(find, timeout)
        if found is None:
            seen = [(n, e) for (n, e, _) in self._events]
            raise AssertionError(
                f"timed out after {timeout} s waiting for {what or event!r} on "
                f"{namespace}; received: {seen}; client: {self.owner_state()}")
        return found


class Peer:
    """One python-socketio Client with its event log."""

    def __init__(self, namespaces=("/",)):
        # No reconnection: a failed or dropped connection must show, not be retried.
        self.sio = socketio.Client(reconnection=False, handle_sigint=False,
                                   request_timeout=TIMEOUT)
        self.log = EventLog(self.state)
        self.connect_errors = EventLog(self.state)
        self.namespaces = list(namespaces)
        for ns in self.namespaces:
            self.sio.on("*", self._recorder(ns), namespace=ns)
            self.sio.on("connect_error", self._connect_error_recorder(ns), namespace=ns)

    def _recorder(self, ns):
        def handler(event, *args):
            self.log.record(ns, event, args)
        return handler

    def _connect_error_recorder(self, ns):
        def handler(*args):
            self.connect_errors.record(ns, "connect_error", args)
        return handler

    def on(self, event, handler, namespace="/"):
        """A handler of its own (its return value is the ack); the event is logged too."""
        def logged(*args):
            self.log.record(namespace, event, args)
            return handler(*args)
        self.sio.on(event, logged, namespace=namespace)

    def connect(self, url, mode, auth=None):
        self.sio.connect(url, auth=auth, transports=mode.transports,
                         namespaces=self.namespaces, wait_timeout=TIMEOUT)

    def sid(self, namespace="/"):
        return self.sio.get_sid(namespace)

    def transport(self):
        return self.sio.transport()

    def emit(self, event, *args, namespace="/"):
        # python-socketio sends a tuple as several arguments.
        self.sio.emit(event, args, namespace=namespace)

    def emit_ack(self, event, *args, namespace="/"):
        """Emits with an ack callback; returns the ack's arguments as a list."""
        done = threading.Event()
        got = []

        def callback(*ack_args):
            got.append(list(ack_args))
            done.set()

        self.sio.emit(event, args, namespace=namespace, callback=callback)
        if not done.wait(TIMEOUT):
            raise AssertionError(f"timed out after {TIMEOUT} s waiting for the ack of "
                                 f"{event!r}; client: {self.state()}")
        return got[0]

    def state(self):
        """What the client knows of its connection, for failure messages."""
        eio = self.sio.eio
        return (f"sid {self.sid()}, engine sid {eio.sid}, engine state {eio.state}, "
                f"transport {eio.current_transport}, connected {self.sio.connected}")

    def disconnect(self):
        self.sio.disconnect()


@pytest.fixture
def peers(server, mode):
    """peers(auth=None, namespaces=("/",), setup=None) -> a connected Peer, on the
    transport the mode expects; `setup(peer)` runs before connecting (to register
    handlers that must see events sent on connection). peers.new() is a Peer not yet
    connected. Every peer is disconnected when the test ends."""
    made = []

    def new(namespaces=("/",)):
        peer = Peer(namespaces)
        made.append(peer)
        return peer

    def connect(auth=None, namespaces=("/",), setup=None):
        peer = new(namespaces)
        if setup:
            setup(peer)
        peer.connect(server.url, mode, auth=auth)
        assert peer.transport() == mode.expect, (
            f"transport is {peer.transport()}, expected {mode.expect}")
        return peer

    connect.new = new  # a Peer not yet connected (for connections meant to fail)
    yield connect
    for peer in made:
        peer.disconnect()


def marker(sender, clients):
    """`sender` broadcasts a unique marker to the whole namespace and waits until every
    one of `clients` got it. The server handles one socket's events in order and writes
    to each connection in order, so anything wrongly sent to a client before the
    marker has reached it by then."""
    m = uniq("marker")
    sender.emit("broadcast", m)
    for c in clients:
        c.log.wait_for("bcast", lambda x: x == m, what=f"marker {m}")
