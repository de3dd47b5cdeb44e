#!/usr/bin/env python3
"""The benchmark command: every scenario against Sockeye and its peers, interleaved.

Builds the load generator and the peer servers in release, then for each repetition,
each scenario and each server: starts a fresh server pinned to core 1, runs the load
generator pinned to core 0 with the server's pid (so both sides' CPU shares are
measured), and stops the server. Writes bench/results/latest.{json,md,svg}.

Every run also reports the server's CPU time per message (µs per ack, echo, delivery
or connect cycle): the load generator reads utime + stime of the server process (all
its threads) from /proc/<pid>/stat at both ends of the measured window and divides by
the messages counted in that window. It does not depend on the load generator keeping
the server saturated.

Python 3.11 standard library only. Run it through `bash bench/run.sh`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
# The results file as committed: the baseline of the "no regression" targets.
COMMITTED_RESULTS = "bench/results/latest.json"
BENCH = ROOT / "target" / "release" / "sockeye-bench"
PEERS = ROOT / "bench" / "peers"
SERVER_CORE = "1"
BENCH_CORE = "0"
# How long a server may take to print its `listening on` line.
START_TIMEOUT = 30.0
# A run that takes this much longer than its measured window has hung.
RUN_SLACK = 90.0
# The paced fanout's rate (issue 14: p99 under 20 ms at 1000 broadcasts/s).
PACED_RATE = 1000
# Flood control (issue 17): every socket's limit (events/s, bursts of twice that) and
# the paced flooder's rate; the other flooder writes as fast as it can.
RATE_LIMIT = 200
FLOOD_RATE = 100_000
# "No regression" allows this much run-to-run noise (the previous min–max ranges of
# connect cycles/s spread wider than that; idle memory far less).
REGRESSION_TOLERANCE = 0.05
# Every server key, in table order.
SERVER_KEYS = ["sockeye", "socketioxide", "node", "raw", "sockeye-msgpack"]


@dataclass
class Server:
    """A server under test: how to start it, or why it cannot be."""

    key: str
    label: str
    command: list[str]
    unavailable: str | None = None
    # Extra arguments for the load generator whenever this server is measured.
    bench_args: list[str] = field(default_factory=list)


@dataclass
class Scenario:
    """One row group of the table: the load generator's arguments and what to report."""

    key: str
    title: str
    args: list[str]
    servers: list[str]
    metric: str
    unit: str
    higher_is_better: bool = True
    # Extra arguments for the raw WebSocket echo server, which speaks no Socket.IO.
    raw_args: list[str] = field(default_factory=list)
    p99: bool = True
    # What one message of the server's CPU per message is; None: no such figure.
    per: str | None = None
    # The server the per-scenario table compares every other one with.
    reference: str = "socketioxide"
    # Broadcasts per second when paced.
    rate: float | None = None
    # A server this scenario is about: without it the scenario is skipped.
    requires: str | None = None
    # Extra arguments for the server in this scenario.
    server_args: list[str] = field(default_factory=list)


def scenarios(seconds: float) -> list[Scenario]:
    """The issue's table, plus polling echo (50 connections x 4 in flight), fanout paced
    at 1000 broadcasts/s, and Sockeye's JSON and msgpack parsers side by side."""
    d = ["-d", f"{seconds:g}"]
    socketio = ["sockeye", "socketioxide", "node"]
    parsers = ["sockeye", "sockeye-msgpack"]
    return [
        Scenario("echo16", "echo with ack, 100 connections x 16 in flight",
                 ["echo", "-c", "100", "-w", "16", *d], socketio + ["raw"],
                 "acks_per_sec", "acks/s", raw_args=["--transport", "raw"], per="ack"),
        Scenario("echo1", "echo with ack, 100 connections x 1 in flight",
                 ["echo", "-c", "100", "-w", "1", *d], socketio + ["raw"],
                 "acks_per_sec", "acks/s", raw_args=["--transport", "raw"], per="ack"),
        Scenario("fanout", "broadcast to 1000 receivers, 16 broadcasts in flight",
                 ["fanout", "-c", "1000", "-w", "16", *d], socketio,
                 "deliveries_per_sec", "deliveries/s", per="delivery"),
        Scenario("fanout-paced",
                 f"broadcast to 1000 receivers, paced at {PACED_RATE} broadcasts/s "
                 "(at most 1000 in flight)",
                 ["fanout", "-c", "1000", "-w", "1000", "--rate", str(PACED_RATE), *d],
                 socketio, "deliveries_per_sec", "deliveries/s", per="delivery",
                 rate=PACED_RATE),
        Scenario("idle", "idle memory, 5000 sockets",
                 ["idle", "-c", "5000", "--settle", "2"], socketio + ["raw"],
                 "bytes_per_socket", "bytes/socket", higher_is_better=False,
                 raw_args=["--raw"], p99=False),
        Scenario("connect", "connect + join / + disconnect cycles, 50 workers",
                 ["connect", "-w", "50", *d], socketio,
                 "cycles_per_sec", "cycles/s", p99=False, per="cycle"),
        Scenario("polling", "long-polling echo, 50 connections x 4 in flight",
                 ["echo", "--transport", "polling", "-c", "50", "-w", "4", *d], socketio,
                 "acks_per_sec", "acks/s", per="ack"),
        Scenario("echo16-msgpack",
                 "Sockeye, JSON vs msgpack parser: echo with ack, 100 connections x 16 in flight",
                 ["echo", "-c", "100", "-w", "16", *d], parsers,
                 "acks_per_sec", "acks/s", per="ack", reference="sockeye",
                 requires="sockeye-msgpack"),
        Scenario("ratelimit-paced",
                 f"flood control: 20 clients' echo p99 beside a flooder at {FLOOD_RATE} "
                 f"packets/s (limit {RATE_LIMIT}/s), over the p99 without it",
                 ["ratelimit", "-c", "20", "-d", f"{seconds:g}", "--flood-rate",
                  str(FLOOD_RATE)], ["sockeye"], "p99_ratio", "x unloaded p99",
                 higher_is_better=False, p99=False, reference="sockeye",
                 server_args=["--rate-limit", str(RATE_LIMIT)]),
        Scenario("ratelimit",
                 "flood control: 20 clients' echo p99 beside a flooder writing as fast as "
                 f"it can (limit {RATE_LIMIT}/s), over the p99 without it",
                 ["ratelimit", "-c", "20", "-d", f"{seconds:g}"], ["sockeye"], "p99_ratio",
                 "x unloaded p99", higher_is_better=False, p99=False, reference="sockeye",
                 server_args=["--rate-limit", str(RATE_LIMIT)]),
        Scenario("fanout-msgpack",
                 "Sockeye, JSON vs msgpack parser: broadcast to 1000 receivers, "
                 "16 broadcasts in flight",
                 ["fanout", "-c", "1000", "-w", "16", *d], parsers,
                 "deliveries_per_sec", "deliveries/s", per="delivery", reference="sockeye",
                 requires="sockeye-msgpack"),
    ]


# --- building ---------------------------------------------------------------------


def run_logged(command: list[str], log: Path, cwd: Path = ROOT) -> bool:
    """Runs a build step, its output to `log`; whether it succeeded."""
    print(f"$ {' '.join(command)}", flush=True)
    with log.open("w") as out:
        try:
            done = subprocess.run(command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        except OSError as e:
            out.write(f"{e}\n")
            return False
    if done.returncode != 0:
        print(f"  failed (exit {done.returncode}), see {log}", flush=True)
    return done.returncode == 0


def build(logs: Path, skip: bool) -> dict[str, Server]:
    """Builds every server it can; a server that cannot be built is kept, marked."""
    release = ROOT / "target" / "release"
    servers = {
        "sockeye": Server("sockeye", "Sockeye", [str(release / "sockeye-bench-server")]),
        "socketioxide": Server(
            "socketioxide", "socketioxide",
            [str(PEERS / "socketioxide" / "target" / "release" / "socketioxide-bench-server")]),
        "node": Server("node", "Node socket.io", ["node", str(PEERS / "node" / "server.mjs")]),
        "raw": Server("raw", "raw WebSocket echo", [str(release / "raw-ws-echo")]),
        # The same binary with socket.io-msgpack-parser's format, measured with the load
        # generator's --parser msgpack.
        "sockeye-msgpack": Server(
            "sockeye-msgpack", "Sockeye (msgpack)",
            [str(release / "sockeye-bench-server"), "--parser", "msgpack"],
            bench_args=["--parser", "msgpack"]),
    }
    if not skip:
        if not run_logged(["cargo", "build", "--release", "-p", "sockeye-bench"],
                          logs / "build-bench.log"):
            sys.exit("the load generator does not build: see " + str(logs / "build-bench.log"))
        if (PEERS / "socketioxide" / "Cargo.toml").is_file():
            if not run_logged(["cargo", "build", "--release", "--manifest-path",
                               str(PEERS / "socketioxide" / "Cargo.toml")],
                              logs / "build-socketioxide.log"):
                servers["socketioxide"].unavailable = "build failed"
        if (PEERS / "node" / "package.json").is_file():
            if not run_logged(["npm", "ci", "--no-audit", "--no-fund", "--prefix",
                               str(PEERS / "node")], logs / "build-node.log"):
                servers["node"].unavailable = "npm ci failed"
    for server in servers.values():
        program = Path(server.command[-1] if server.key == "node" else server.command[0])
        if server.unavailable is None and not program.is_file():
            server.unavailable = f"missing {program.relative_to(ROOT)}"
    if not BENCH.is_file():
        sys.exit(f"missing {BENCH}")
    return servers


# --- running ----------------------------------------------------------------------


def start(server: Server, log: Path,
          extra: list[str] | None = None) -> tuple[subprocess.Popen | None, str]:
    """Starts a server on core 1 (with `extra` arguments); the process and its address,
    or None and why not."""
    # Output goes to a file, never a pipe: a pipe nobody reads could block the server.
    with log.open("w") as out:
        try:
            process = subprocess.Popen(
                ["taskset", "-c", SERVER_CORE, *server.command, *(extra or []),
                 "--port", "0"],
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        except OSError as e:
            return None, str(e)
    # taskset execs the server, so the pid is the server's own.
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        match = re.search(r"listening on (\S+)", log.read_text(errors="replace"))
        if match:
            return process, match.group(1)
        if process.poll() is not None:
            return None, f"exited with {process.returncode} before listening (see {log})"
        time.sleep(0.02)
    stop(process)
    return None, f"no 'listening on' line within {START_TIMEOUT:g} s (see {log})"


def probe(server: Server, logs: Path) -> None:
    """Starts `server` once to see that it takes its arguments (the bench server's
    --parser flag); marks it unavailable if it does not listen."""
    if server.unavailable:
        return
    log = logs / f"probe-{server.key}.log"
    process, why = start(server, log)
    if process is None:
        flags = " ".join(server.command[1:])
        server.unavailable = f"{Path(server.command[0]).name} rejects {flags}: {why}"
    else:
        stop(process)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM, then SIGKILL if the server lingers; always reaped."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_one(scenario: Scenario, server: Server, rep: int, seconds: float,
            logs: Path) -> dict:
    """One measured run: a fresh server, the load generator, the JSON line it printed."""
    record = {"scenario_key": scenario.key, "server": server.key, "rep": rep}
    if server.unavailable:
        return record | {"error": server.unavailable}
    log = logs / f"{scenario.key}-{server.key}-{rep}.log"
    process, address = start(server, log, scenario.server_args)
    if process is None:
        return record | {"error": f"server failed to start: {address}"}
    args = [*scenario.args, *(scenario.raw_args if server.key == "raw" else []),
            *server.bench_args]
    command = ["taskset", "-c", BENCH_CORE, str(BENCH), *args,
               "--url", f"http://{address}", "--pid", str(process.pid)]
    try:
        done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                              timeout=seconds + RUN_SLACK)
        server_alive = process.poll() is None
    except subprocess.TimeoutExpired:
        stop(process)
        return record | {"error": f"load generator timed out after {seconds + RUN_SLACK:g} s"}
    finally:
        stop(process)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        why = (done.stderr.strip().splitlines() or ["no output"])[-1]
        if not server_alive:
            why += f" (the server exited with {process.returncode})"
        return record | {"error": why[:300]}
    return record | json.loads(lines[-1])


# --- reporting --------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def summary(rows: list[dict], scenario: Scenario, server: str) -> dict | None:
    """Median and range of a scenario's figures for one server; None without a run."""
    runs = [r for r in rows if r["scenario_key"] == scenario.key and r["server"] == server]
    if not runs:
        return None
    ok = [r for r in runs if "error" not in r]
    errors = sorted({r["error"] for r in runs if "error" in r})
    if not ok:
        return {"runs": len(runs), "ok": 0, "errors": errors}
    pick = lambda key: [float(r[key]) for r in ok if r.get(key) is not None]  # noqa: E731
    main = pick(scenario.metric)
    us = pick("server_us_per_msg")
    return {
        "runs": len(runs),
        "ok": len(ok),
        "errors": errors,
        "median": median(main),
        "min": min(main),
        "max": max(main),
        "p99_ms": median(pick("p99_ms")),
        "fairness": median(pick("fairness")),
        "lost": max(pick("lost"), default=0.0),
        "sent_per_sec": median(pick("sent_per_sec")),
        "server_cpu": median(pick("server_cpu")),
        "bench_cpu": median(pick("bench_cpu")),
        # The server's CPU per message, in µs: median and range over the runs.
        "us_per_msg": median(us),
        "us_min": min(us, default=float("nan")),
        "us_max": max(us, default=float("nan")),
    }


def fmt(value: float) -> str:
    if value != value:  # NaN
        return "–"
    if abs(value) >= 1e6:
        return f"{value / 1e6:.2f}M"
    if abs(value) >= 1e4:
        return f"{value / 1e3:.0f}k"
    if abs(value) >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.0f}"


def fmt_us(value: float) -> str:
    """Microseconds of CPU per message: three significant digits, at least two decimals
    below 10 µs."""
    if value != value:  # NaN
        return "–"
    if value < 10:
        return f"{value:.2f}" if value >= 0.1 else f"{value:.3f}"
    return f"{value:.3g}" if value < 100 else f"{value:.0f}"


def ratio(a: dict | None, b: dict | None, higher_is_better: bool) -> float | None:
    """How many times better `a` is than `b` (above 1 means better)."""
    if not a or not b or not a.get("ok") or not b.get("ok") or not b["median"] or not a["median"]:
        return None
    return a["median"] / b["median"] if higher_is_better else b["median"] / a["median"]


def has_us(s: dict | None) -> bool:
    return bool(s and s.get("ok") and s["us_per_msg"] == s["us_per_msg"])


def previous_results() -> dict:
    """Sockeye's idle and connect medians in bench/results/latest.json as committed (at
    HEAD), the baseline of the "no regression" targets; the file as it is on disk when
    git cannot say. Read before this run writes its own."""
    source = f"{COMMITTED_RESULTS} at HEAD"
    try:
        text = subprocess.run(["git", "show", f"HEAD:{COMMITTED_RESULTS}"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        path = ROOT / COMMITTED_RESULTS
        if not path.is_file():
            return {"source": None, "figures": {}}
        source, text = f"{COMMITTED_RESULTS} (uncommitted)", path.read_text()
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return {"source": None, "figures": {}}
    figures = {}
    for key, metric in (("idle", "bytes_per_socket"), ("connect", "cycles_per_sec")):
        values = [float(r[metric]) for r in data.get("runs", [])
                  if r.get("scenario_key") == key and r.get("server") == "sockeye"
                  and "error" not in r and r.get(metric) is not None]
        if values:
            figures[key] = {"median": median(values), "min": min(values),
                            "max": max(values), "runs": len(values)}
    meta = data.get("meta", {})
    return {"source": source, "date": meta.get("date"), "commit": meta.get("commit"),
            "figures": figures}


def regression(scenario: Scenario, me: dict | None,
               baseline: dict) -> tuple[str, str, bool | None] | None:
    """The "no regression" target of idle memory and connect rate: Sockeye's median
    against the committed results' median (REGRESSION_TOLERANCE allowed for noise)."""
    before = baseline["figures"].get(scenario.key)
    label = (f"no regression against the previous results ({baseline.get('date') or '?'}, "
             f"{baseline.get('commit') or '?'}): ")
    label += (f"at most {REGRESSION_TOLERANCE:.0%} more {scenario.unit}"
              if not scenario.higher_is_better
              else f"at most {REGRESSION_TOLERANCE:.0%} fewer {scenario.unit}")
    if before is None:
        return (label, "no previous figure", None)
    if not me or not me.get("ok"):
        return None
    now, then = me["median"], before["median"]
    change = now / then - 1
    measured = f"{fmt(now)} now, {fmt(then)} before ({change:+.1%})"
    met = (change <= REGRESSION_TOLERANCE if not scenario.higher_is_better
           else change >= -REGRESSION_TOLERANCE)
    return (label, measured, met)


def targets(scenario: Scenario, s: dict[str, dict | None],
            baseline: dict) -> list[tuple[str, str, bool | None]]:
    """Issue 14's targets for Sockeye: (target, measured, met; None when unmeasurable)."""
    me, raw, sio, node = s.get("sockeye"), s.get("raw"), s.get("socketioxide"), s.get("node")
    ok = lambda x: bool(x and x.get("ok"))  # noqa: E731
    out: list[tuple[str, str, bool | None]] = []

    def cpu_per_delivery() -> None:
        if has_us(me):
            out.append(("server CPU per delivery at most 0.5 µs",
                        f"{fmt_us(me['us_per_msg'])} µs", me["us_per_msg"] <= 0.5))
        elif ok(me):
            out.append(("server CPU per delivery at most 0.5 µs", "no CPU figure", None))

    if scenario.key == "echo16":
        label = "server CPU per ack at most 1.25x the raw WebSocket echo's per echo"
        if has_us(me) and has_us(raw):
            r = me["us_per_msg"] / raw["us_per_msg"]
            out.append((label, f"{fmt_us(me['us_per_msg'])} µs vs "
                               f"{fmt_us(raw['us_per_msg'])} µs: {r:.2f}x", r <= 1.25))
        else:
            out.append((label, "–", None))
        if ok(me):
            out.append(("p99 under 5 ms", f"{me['p99_ms']:.2f} ms", me["p99_ms"] < 5))
    elif scenario.key == "echo1":
        r = ratio(me, raw, True)
        out.append(("acks/s at least 0.97x the raw WebSocket echo's echoes/s",
                    "–" if r is None else f"{r:.2f}x", None if r is None else r >= 0.97))
    elif scenario.key == "fanout":
        cpu_per_delivery()
        if ok(me):
            out.append(("nothing lost", f"{me['lost']:.0f} lost (worst run)", me["lost"] == 0))
    elif scenario.key == "fanout-paced":
        if ok(me):
            rate = scenario.rate or PACED_RATE
            kept = me["sent_per_sec"] >= 0.99 * rate
            out.append((f"p99 under 20 ms at {rate:g} broadcasts/s",
                        f"{me['p99_ms']:.2f} ms, {me['sent_per_sec']:.0f} broadcasts/s sent"
                        + ("" if kept else " (the pace was not kept)"),
                        me["p99_ms"] < 20 and kept))
            out.append(("nothing lost", f"{me['lost']:.0f} lost (worst run)", me["lost"] == 0))
        cpu_per_delivery()
    elif scenario.key in ("idle", "connect"):
        target = regression(scenario, me, baseline)
        if target:
            out.append(target)
    elif scenario.key.startswith("ratelimit"):
        if ok(me):
            out.append(("the flooded p99 within 2x the unloaded p99 (same run)",
                        f"{me['median']:.2f}x (runs {me['min']:.2f}x–{me['max']:.2f}x)",
                        me["median"] <= 2))
    elif scenario.key == "polling":
        for peer, name in ((sio, "socketioxide"), (node, "Node socket.io")):
            r = ratio(me, peer, True)
            out.append((f"ahead of {name}", "–" if r is None else f"{r:.2f}x",
                        None if r is None else r > 1))
    if not ok(me):
        out = [(t, "Sockeye did not run", False) for t, _, _ in out] or [
            ("(any)", "Sockeye did not run", False)]
    return out


def markdown(rows: list[dict], plan: list[Scenario], servers: dict[str, Server],
             meta: dict, baseline: dict) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"`bash bench/run.sh` on {meta['date']}: {meta['reps']} repetition{'s' if meta['reps'] != 1 else ''}, interleaved, "
        f"{meta['seconds']:g} s measured per run; servers pinned to core {SERVER_CORE}, the "
        f"load generator to core {BENCH_CORE} (`taskset`); {meta['cpus']} cores; whole run "
        f"{meta['wall_seconds']:.0f} s. Figures are the median of the repetitions, with "
        "min–max; p99 and CPU shares are medians. CPU % is of one core: a load generator near "
        "100 % while the server is well below it marks a run bound by the load generator (⚠).",
        "",
        "µs/msg is the server's CPU time per message, whether or not the load generator "
        "kept it saturated: utime + stime of the server process (all its threads) from "
        "`/proc/<pid>/stat` at both ends of the measured window, over the acks (echo, "
        "polling; echoes for the raw WebSocket echo), deliveries (fanout) or connect cycles "
        "counted in that window. The kernel counts in 10 ms ticks: ±0.3 % of a 3 s window "
        "at full load.",
        "",
        f"Commit {meta['commit']}; "
        + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".",
        "",
    ]
    for key, why in meta.get("skipped", {}).items():
        lines += [f"Skipped {key}: {why}.", ""]
    lines += headline(rows, plan, servers, baseline)
    for scenario in plan:
        stats = {k: summary(rows, scenario, k) for k in scenario.servers}
        reference = servers[scenario.reference].label
        lines += [f"## {scenario.title}", ""]
        head = f"| server | {scenario.unit} (median) | min–max |"
        rule = "|---|---:|---:|"
        if scenario.p99:
            head += " p99 ms |"
            rule += "---:|"
        if scenario.key in ("echo16", "echo1", "polling", "echo16-msgpack"):
            head += " fairness |"
            rule += "---:|"
        if scenario.key.startswith("fanout"):
            head += " lost (worst) |"
            rule += "---:|"
        if scenario.rate:
            head += " broadcasts/s sent |"
            rule += "---:|"
        if scenario.per:
            head += f" server µs/msg (per {scenario.per}) | µs min–max |"
            rule += "---:|---:|"
        head += f" server CPU % | bench CPU % | vs {reference} | runs |"
        rule += "---:|---:|---:|---|"
        lines += [head, rule]
        for key in scenario.servers:
            s = stats[key]
            label = servers[key].label
            if s is None:
                continue
            if not s["ok"]:
                blanks = " | ".join(["–"] * (head.count("|") - 4))
                lines.append(f"| {label} | **failed** | {blanks} | "
                             f"0/{s['runs']}: {'; '.join(s['errors'])} |")
                continue
            row = f"| {label} | {fmt(s['median'])} | {fmt(s['min'])}–{fmt(s['max'])} |"
            if scenario.p99:
                row += f" {s['p99_ms']:.2f} |"
            if scenario.key in ("echo16", "echo1", "polling", "echo16-msgpack"):
                row += f" {s['fairness']:.3f} |"
            if scenario.key.startswith("fanout"):
                row += f" {s['lost']:.0f} |"
            if scenario.rate:
                row += f" {s['sent_per_sec']:.0f} |"
            if scenario.per:
                row += f" {fmt_us(s['us_per_msg'])} | {fmt_us(s['us_min'])}–{fmt_us(s['us_max'])} |"
            bound = s["bench_cpu"] >= 90 and s["server_cpu"] < 85
            r = ratio(s, stats.get(scenario.reference), scenario.higher_is_better)
            runs = f"{s['ok']}/{s['runs']}"
            if s["errors"]:
                runs += ": " + "; ".join(s["errors"])
            row += (f" {fmt(s['server_cpu'])} | {fmt(s['bench_cpu'])}{' ⚠' if bound else ''} |"
                    f" {'–' if r is None else f'{r:.2f}x'} | {runs} |")
            lines.append(row)
        if scenario.key.startswith("ratelimit"):
            lines += ["", "Lower is better: the flooded phase's p99 over the unloaded phase's, "
                      "both in the same run (bench/results/ratelimit.txt has the p50s and "
                      "what the flooder sent and the server read)."]
        elif not scenario.higher_is_better:
            lines += ["", f"Lower is better; the ratio is {reference}'s bytes over the server's."]
        if scenario.rate:
            lines += ["", "The sender emits on a schedule; a broadcast due while "
                      "1000 are unacked waits, so a server that falls behind shows as fewer "
                      "broadcasts/s sent. Latency runs from each emit to its delivery."]
        found = targets(scenario, stats, baseline)
        if found:
            lines += ["", "| Sockeye target | measured | |", "|---|---|---|"]
            for target, measured, met in found:
                verdict = "met" if met else ("not measured" if met is None else "**not met**")
                lines.append(f"| {target} | {measured} | {verdict} |")
        lines.append("")
    lines += ["Raw lines and the medians above: `latest.json`; chart: `latest.svg`.", ""]
    return "\n".join(lines)


def table_keys(plan: list[Scenario]) -> list[str]:
    """The servers of the plan's scenarios, in table order."""
    return [k for k in SERVER_KEYS if any(k in s.servers for s in plan)]


def headline(rows: list[dict], plan: list[Scenario], servers: dict[str, Server],
             baseline: dict) -> list[str]:
    """One line per scenario: every server's median and CPU per message, Sockeye's
    ratio, the targets."""
    keys = table_keys(plan)
    lines = ["| scenario | " + " | ".join(f"{servers[k].label} | µs/msg" for k in keys)
             + " | Sockeye / socketioxide | Sockeye's targets |",
             "|---|" + "---:|---:|" * len(keys) + "---:|---|"]
    for scenario in plan:
        stats = {k: summary(rows, scenario, k) for k in scenario.servers}
        cells = []
        for key in keys:
            s = stats.get(key)
            if key not in scenario.servers or s is None:
                cells += ["", ""]
            elif not s["ok"]:
                cells += ["**failed**", ""]
            else:
                cells += [fmt(s["median"]), fmt_us(s["us_per_msg"]) if scenario.per else ""]
        r = ratio(stats.get("sockeye"), stats.get("socketioxide"), scenario.higher_is_better)
        verdicts = [met for _, _, met in targets(scenario, stats, baseline)]
        met = sum(1 for v in verdicts if v)
        unknown = sum(1 for v in verdicts if v is None)
        verdict = (f"{met}/{len(verdicts)} met" + (f" ({unknown} not measured)" if unknown else "")
                   if verdicts else "–")
        lines.append(f"| {scenario.title} ({scenario.unit}) | " + " | ".join(cells)
                     + f" | {'–' if r is None else f'{r:.2f}x'} | {verdict} |")
    return lines + [
        "",
        "Ratios say how many times better: for idle memory, socketioxide's bytes per socket "
        "over Sockeye's. µs/msg: the server's CPU per ack, echo, delivery or connect cycle "
        "(lower is better). The raw WebSocket echo counts plain echoes, no Socket.IO framing: "
        "the limit of the machine, not a peer.",
        "",
    ]


def comparison(rows: list[dict], plan: list[Scenario], baseline: dict) -> list[str]:
    """Idle memory and connect rate against the committed results, one line each."""
    lines = []
    for scenario in plan:
        if scenario.key not in ("idle", "connect"):
            continue
        me = summary(rows, scenario, "sockeye")
        target = regression(scenario, me, baseline)
        if target:
            _, measured, met = target
            verdict = "no regression" if met else ("?" if met is None else "REGRESSION")
            lines.append(f"{scenario.key}: Sockeye {measured} [{verdict}] "
                         f"(previous: {baseline.get('source') or 'none'})")
    return lines


def clean(value):
    """NaN (no figure) as JSON null."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [clean(v) for v in value]
    return value


def summaries(rows: list[dict], plan: list[Scenario]) -> dict:
    """latest.json's summary: per scenario and server, the medians of the tables."""
    return clean({scenario.key: {k: summary(rows, scenario, k) for k in scenario.servers}
                  for scenario in plan})


COLOURS = {"sockeye": "#1f77b4", "socketioxide": "#ff7f0e", "node": "#2ca02c", "raw": "#7f7f7f"}


def svg(rows: list[dict], plan: list[Scenario], servers: dict[str, Server]) -> str:
    """A grouped bar chart: per scenario, each server's median over socketioxide's."""
    keys = ["sockeye", "socketioxide", "node", "raw"]
    # Scenarios without socketioxide (JSON vs msgpack) have nothing to stand against.
    plan = [s for s in plan if "socketioxide" in s.servers]
    bar, gap, group_gap = 22, 4, 36
    left, top, height = 60, 50, 260
    groups = []
    top_ratio = 1.0
    for scenario in plan:
        stats = {k: summary(rows, scenario, k) for k in scenario.servers}
        bars = []
        for key in keys:
            if key not in scenario.servers:
                continue
            r = ratio(stats[key], stats.get("socketioxide"), scenario.higher_is_better)
            bars.append((key, r))
            if r is not None:
                top_ratio = max(top_ratio, r)
        groups.append((scenario, bars))
    # Ratios far above the rest (raw echo) are clipped so the others stay readable.
    scale_max = min(max(2.0, top_ratio * 1.1), 6.0)
    y = lambda v: top + height - min(v, scale_max) / scale_max * height  # noqa: E731
    width = left + sum(len(b) * (bar + gap) + group_gap for _, b in groups) + 150
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{top + height + 45}"'
           ' font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{top + height + 45}" fill="white"/>',
           f'<text x="{left}" y="22" font-size="14">Each server over socketioxide (= 1), '
           'median of the runs; higher is better (idle: socketioxide bytes / server bytes)</text>']
    tick = 0.0
    while tick <= scale_max + 1e-9:
        out.append(f'<line x1="{left}" x2="{width - 150}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
                   f'stroke="{"#000" if tick in (0.0, 1.0) else "#ddd"}"/>')
        out.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:g}</text>')
        tick += 0.5 if scale_max <= 3 else 1.0
    x = left + group_gap / 2
    for scenario, bars in groups:
        start = x
        for key, r in bars:
            if r is None:
                out.append(f'<text x="{x + bar / 2:.1f}" y="{y(0) - 4:.1f}" font-size="9" '
                           f'text-anchor="end" transform="rotate(-90 {x + bar / 2:.1f} '
                           f'{y(0) - 4:.1f})" fill="#c00">failed</text>')
            else:
                out.append(f'<rect x="{x:.1f}" y="{y(r):.1f}" width="{bar}" '
                           f'height="{y(0) - y(r):.1f}" fill="{COLOURS[key]}"/>')
                label = f"{r:.2f}" + ("+" if r > scale_max else "")
                out.append(f'<text x="{x + bar / 2:.1f}" y="{y(r) - 3:.1f}" font-size="9" '
                           f'text-anchor="middle">{label}</text>')
            x += bar + gap
        out.append(f'<text x="{(start + x) / 2:.1f}" y="{top + height + 16}" '
                   f'text-anchor="middle">{scenario.key}</text>')
        out.append(f'<text x="{(start + x) / 2:.1f}" y="{top + height + 30}" font-size="9" '
                   f'text-anchor="middle" fill="#555">{scenario.unit}</text>')
        x += group_gap
    for i, key in enumerate(keys):
        ly = top + 10 + i * 18
        out.append(f'<rect x="{width - 140}" y="{ly}" width="12" height="12" '
                   f'fill="{COLOURS[key]}"/>')
        out.append(f'<text x="{width - 122}" y="{ly + 10}">{servers[key].label}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def git_commit() -> str:
    """The commit measured, marked when the working tree differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError:
        return "unknown"
    return head + (" (with uncommitted changes)" if dirty else "")


def versions() -> dict[str, str]:
    """The peers' library versions, from their lock files."""
    found = {}
    lock = PEERS / "socketioxide" / "Cargo.lock"
    if lock.is_file():
        match = re.search(r'name = "socketioxide"\nversion = "([^"]+)"', lock.read_text())
        if match:
            found["socketioxide"] = match.group(1)
    lock = PEERS / "node" / "package-lock.json"
    if lock.is_file():
        packages = json.loads(lock.read_text()).get("packages", {})
        found["socket.io"] = packages.get("node_modules/socket.io", {}).get("version", "?")
    try:
        found["node"] = subprocess.run(["node", "--version"], capture_output=True,
                                       text=True).stdout.strip()
    except OSError:
        pass
    return found


def run_browser(options: argparse.Namespace, logs: Path) -> int:
    """bench/browser/run.mjs (Sockeye's wasm client against socket.io-client in Chromium:
    connect time, events/s and acks/s over WebSocket and polling, main-thread time per
    event, JS heap, download size; about 5 minutes); its exit code. It writes
    bench/results/browser.{md,json} itself."""
    browser = ROOT / "bench" / "browser"
    if not options.no_build:
        for name, command in (("build-client", ["bash", "scripts/build-client.sh", "web"]),
                              ("build-browser", ["npm", "ci", "--no-audit", "--no-fund",
                                                 "--prefix", str(browser)])):
            if not run_logged(command, logs / f"{name}.log"):
                return 1
    command = ["node", str(browser / "run.mjs"), "--reps", str(options.reps),
               "--seconds", f"{options.seconds:g}"]
    print(f"$ {' '.join(command)}", flush=True)
    # The report records this command line too.
    invoked_by = " ".join(["python3", "bench/run.py", *sys.argv[1:]])
    process = subprocess.Popen(command, cwd=ROOT,
                               env={**os.environ, "SOCKEYE_BENCH_INVOKED_BY": invoked_by})
    try:
        return process.wait(timeout=900)
    except subprocess.TimeoutExpired:
        # SIGTERM first: run.mjs then stops its browser and servers.
        print("the browser benchmark took more than 900 s", flush=True)
        # run.mjs needs up to ~20 s to close Chromium and stop its servers (stop()'s 5 s
        # grace could orphan them); SIGKILL only after that.
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        return 1


def run_script(label: str, command: list[str], out: Path, timeout: float) -> int:
    """Runs a long-form check (the soak, the fuzzers), its output shown and saved to
    `out`; its exit code."""
    print(f"$ {' '.join(command)}", flush=True)
    with out.open("w") as saved:
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)
        assert process.stdout is not None
        deadline = time.monotonic() + timeout
        for line in process.stdout:
            print(line, end="", flush=True)
            saved.write(line)
            if time.monotonic() > deadline:
                print(f"{label} took more than {timeout:g} s", flush=True)
                stop(process)
                return 1
        return process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="measured seconds per run (default 3)")
    parser.add_argument("--only", nargs="*", default=None,
                        help="scenario keys to run (default all: "
                        + " ".join(s.key for s in scenarios(3)) + "; also browser)")
    parser.add_argument("--servers", nargs="*", default=None,
                        help="server keys to run (default all: " + ", ".join(SERVER_KEYS)
                        + "; sockeye also selects sockeye-msgpack)")
    parser.add_argument("--out", type=Path, default=RESULTS,
                        help="where latest.{md,json,svg} go (default bench/results; a "
                        "smoke run can write elsewhere)")
    parser.add_argument("--no-build", action="store_true", help="use the existing builds")
    parser.add_argument("--browser", action="store_true",
                        help="then the browser client benchmark (also: --only ... browser)")
    parser.add_argument("--soak", action="store_true",
                        help="then the chaos soak's long form (bench/soak.sh), ~4 minutes")
    parser.add_argument("--fuzz", type=int, default=0, metavar="RUNS",
                        help="then every fuzz target for RUNS executions (scripts/fuzz.sh)")
    options = parser.parse_args()
    browser = options.browser or "browser" in (options.only or [])

    began = time.monotonic()
    out = options.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    logs = ROOT / "target" / "bench-logs"
    logs.mkdir(parents=True, exist_ok=True)
    # Read before this run writes its own results.
    baseline = previous_results()
    servers = build(logs, options.no_build)
    if browser and options.only == ["browser"]:
        for server in servers.values():
            if server.unavailable:
                print(f"! {server.label}: {server.unavailable}", flush=True)
        sys.exit(run_browser(options, logs))
    plan = [s for s in scenarios(options.seconds) if not options.only or s.key in options.only]
    if options.servers:
        for s in plan:
            s.servers = [k for k in s.servers
                         if k in options.servers or k.split("-")[0] in options.servers]
    # A server variant (the msgpack parser) the bench server may not offer yet: tried
    # once; its scenarios are skipped, with a note, if it does not start.
    skipped: dict[str, str] = {}
    for key in sorted({s.requires for s in plan if s.requires}):
        probe(servers[key], logs)
        if servers[key].unavailable:
            for s in plan:
                if s.requires == key:
                    skipped[s.key] = servers[key].unavailable
    plan = [s for s in plan if s.key not in skipped]
    for server in servers.values():
        if server.unavailable and any(server.key in s.servers for s in plan):
            print(f"! {server.label}: {server.unavailable}", flush=True)
    for key, why in skipped.items():
        print(f"! skipped {key}: {why}", flush=True)
    rows: list[dict] = []
    for rep in range(1, options.reps + 1):
        for scenario in plan:
            for key in scenario.servers:
                record = run_one(scenario, servers[key], rep, options.seconds, logs)
                rows.append(record)
                shown = record.get("error") or f"{scenario.metric}={record.get(scenario.metric)}"
                print(f"[rep {rep}] {scenario.key:8} {key:13} {shown}", flush=True)
    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": git_commit(),
        "versions": versions(),
        "reps": options.reps,
        "seconds": options.seconds,
        "cpus": os.cpu_count(),
        "wall_seconds": time.monotonic() - began,
        "skipped": skipped,
        "baseline": baseline,
    }
    results = {"meta": meta, "summary": summaries(rows, plan), "runs": rows}
    (out / "latest.json").write_text(json.dumps(clean(results), indent=1) + "\n")
    report = markdown(rows, plan, servers, meta, baseline)
    (out / "latest.md").write_text(report)
    (out / "latest.svg").write_text(svg(rows, plan, servers))
    print(report)
    for line in comparison(rows, plan, baseline):
        print(line)
    shown = out.relative_to(ROOT) if out.is_relative_to(ROOT) else out
    print(f"wrote {shown}/latest.{{md,json,svg}} in {meta['wall_seconds']:.0f} s")
    status = 0
    if browser:
        status |= run_browser(options, logs)
    if options.soak:
        status |= run_script("the soak", ["bash", "bench/soak.sh"], RESULTS / "soak.txt", 1200)
    if options.fuzz:
        status |= run_script("the fuzzers", ["bash", "scripts/fuzz.sh", str(options.fuzz)],
                             RESULTS / "fuzz.txt", 3600)
    sys.exit(status)


if __name__ == "__main__":
    main()
