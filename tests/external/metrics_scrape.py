#!/usr/bin/python3
"""Every node of a real dinx-demo cluster serves /metrics, and what it serves is Prometheus text
that a parser dinx did not write (prometheus_client's, Debian's python3-prometheus-client)
reads: every sample in a typed family, histograms whose buckets add up, and values that move
with the traffic sent (messages and latency by msgID, error frames by code, clients), a live
reload (config version and generation) and a drain.

Usage: metrics_scrape.py PATH/TO/dinx-demo   (exit 0 when every check passed)
"""

import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import re
import signal
import time
import urllib.error
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from cluster import (BOUND, ECHO, ERROR_MSG_ID, Cluster, FrameClient, check, connect,
                     demo_from_argv, read_until_closed, run_checks)

NAMES = {1: "gate-1", 2: "im-1", 3: "im-2"}
UNROUTED = 999
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def fetch(port, path="/metrics", method="GET"):
    """(status, headers, body text) of one request to 127.0.0.1:port."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=BOUND) as answer:
            return answer.status, answer.headers, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


class Scrape:
    """One node's scrape, parsed by prometheus_client: samples by (name, labels)."""

    def __init__(self, port, node):
        status, headers, text = fetch(port)
        check(status == 200, f"GET /metrics of {node} answered {status}")
        check(headers["Content-Type"] == CONTENT_TYPE,
              f"{node}'s Content-Type is {headers['Content-Type']!r}")
        self.text = text
        self.families = {family.name: family for family in text_string_to_metric_families(text)}
        self.node = node

    def value(self, name, **labels):
        """The one sample `name` whose labels include `labels` (0 when the family exists and
        has no such sample, since counters of unseen labels are left out)."""
        found = [s.value for s in self.samples(name) if labels.items() <= s.labels.items()]
        check(len(found) <= 1, f"{len(found)} samples of {name} {labels} in {self.node}'s scrape")
        return found[0] if found else 0

    def samples(self, name):
        return [s for family in self.families.values() for s in family.samples if s.name == name]


def check_well_formed(scrape):
    """What the text format and dinx's naming promise, checked on the parsed families."""
    for family in scrape.families.values():
        # The parser makes a family of its own, untyped, for a sample outside the family that
        # its name says it belongs to.
        check(family.type in ("counter", "gauge", "histogram"),
              f"{scrape.node}: family {family.name} is {family.type}")
        check(family.name.startswith("dinx_"), f"{scrape.node}: family {family.name}")
        check(family.documentation, f"{scrape.node}: {family.name} has no HELP")
        for sample in family.samples:
            check(sample.labels.get("node") == scrape.node,
                  f"{scrape.node}: {sample.name}{sample.labels} has the wrong node label")
            if family.type == "counter":
                check(sample.name.endswith("_total") and sample.value >= 0,
                      f"{scrape.node}: counter sample {sample.name} {sample.value}")
        if family.type == "histogram":
            check_histograms(scrape.node, family)


def check_histograms(node, family):
    """Buckets of each series grow with le, end at +Inf, and +Inf equals _count."""
    series = {}
    for sample in family.samples:
        key = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
        series.setdefault(key, {"buckets": [], "count": None})
        if sample.name.endswith("_bucket"):
            series[key]["buckets"].append((float(sample.labels["le"]), sample.value))
        elif sample.name.endswith("_count"):
            series[key]["count"] = sample.value
    for key, parts in series.items():
        buckets = sorted(parts["buckets"])
        check(buckets and buckets[-1][0] == float("inf"), f"{node}: {key} has no +Inf bucket")
        counts = [count for _, count in buckets]
        check(counts == sorted(counts), f"{node}: {key}'s buckets are not cumulative: {counts}")
        check(counts[-1] == parts["count"], f"{node}: {key}'s +Inf {counts[-1]} != _count "
                                            f"{parts['count']}")


def scrape_all(cluster):
    return {id_: Scrape(port, NAMES[id_]) for id_, port in cluster.metrics_ports.items()}


def make_checks(cluster):
    def every_node_serves_well_formed_text():
        scrapes = scrape_all(cluster)
        versions = set()
        for scrape in scrapes.values():
            check_well_formed(scrape)
            check(scrape.value("dinx_scrape_complete") == 1, f"{scrape.node}: incomplete scrape")
            check(scrape.value("dinx_process_resident_memory_bytes") > 1 << 20,
                  f"{scrape.node}: RSS {scrape.value('dinx_process_resident_memory_bytes')}")
            [version] = [s.labels["version"] for s in scrape.samples("dinx_config_version")]
            check(re.fullmatch("[0-9a-f]{16}", version), f"config version {version!r}")
            versions.add(version)
        check(len(versions) == 1, f"the nodes run different versions: {versions}")
        # The echo of the start went to im-1 or im-2 (the client's sticky choice): a link is up.
        gate = scrapes[1]
        up = sum(gate.value("dinx_link_state", peer=peer, state="up") for peer in ("im-1", "im-2"))
        check(up >= 1, "gate-1 shows no link to an im node up:\n" + gate.text[-2000:])

    def counters_move_with_the_traffic():
        before = scrape_all(cluster)
        client = FrameClient.open(cluster.gate_port)
        try:
            client.login("mia")
            for i in range(10):
                client.send(ECHO, f"echo {i}")
                client.expect(ECHO, f"echo {i}")
            client.send(UNROUTED, b"nobody")
            got = client.next_frame()
            check(got[0] == ERROR_MSG_ID and b"no_route" in got[1], f"got {got}")
            after = scrape_all(cluster)
            gate_before, gate = before[1], after[1]

            def moved(scrape_after, scrape_before, name, **labels):
                return scrape_after.value(name, **labels) - scrape_before.value(name, **labels)

            echo = {"msg_id": str(ECHO), "route": "echo"}
            check(moved(gate, gate_before, "dinx_messages_in_total", **echo) == 10,
                  "gate-1's echo count moved by "
                  f"{moved(gate, gate_before, 'dinx_messages_in_total', **echo)}")
            check(moved(gate, gate_before, "dinx_message_bytes_in_total", **echo) == 60,
                  "gate-1's echo bytes in")
            check(moved(gate, gate_before, "dinx_messages_out_total", **echo) == 10,
                  "gate-1's echo frames out")
            check(moved(gate, gate_before, "dinx_request_latency_seconds_count", **echo) == 10,
                  "gate-1's echo latency count")
            check(moved(gate, gate_before, "dinx_request_latency_seconds_sum", **echo) > 0,
                  "gate-1's echo latency sum")
            check(moved(gate, gate_before, "dinx_messages_in_total", msg_id="1") == 1,
                  "gate-1's login count")
            check(moved(gate, gate_before, "dinx_messages_in_total", msg_id="other") == 1,
                  "gate-1's count of unrouted msgIDs")
            check(moved(gate, gate_before, "dinx_error_frames_total", code="no_route") == 1,
                  "gate-1's no_route error frames")
            check(gate.value("dinx_clients_connected") >= 1, "gate-1 shows no client")
            check(gate.value("dinx_clients_bound") >= 1, "gate-1 shows no bound client")
            handled = sum(moved(after[id_], before[id_], "dinx_messages_in_total", **echo)
                          for id_ in (2, 3))
            check(handled == 10, f"the im nodes handled {handled} echoes, not 10")
        finally:
            client.close()

    def only_metrics_is_served():
        port = cluster.metrics_ports[1]
        status, _, _ = fetch(port, "/")
        check(status == 404, f"GET / answered {status}")
        status, _, _ = fetch(port, "/metrics", "POST")
        check(status == 405, f"POST /metrics answered {status}")
        status, headers, body = fetch(port, "/metrics", "HEAD")
        check(status == 200 and not body and int(headers["Content-Length"]) > 0,
              f"HEAD /metrics answered {status} with {len(body)} body bytes")
        sock = connect(port)
        try:
            sock.sendall(b"\x16\x03\x01 not http\r\n\r\n")
            got, _ = read_until_closed(sock)
            check(got.startswith(b"HTTP/1.1 400 "), f"garbage got {got[:60]!r}")
        finally:
            sock.close()

    def a_reload_shows_its_version():
        before = Scrape(cluster.metrics_ports[1], "gate-1")
        [old] = [s.labels["version"] for s in before.samples("dinx_config_version")]
        cluster.write("client_idle_timeout_ms = 45000", metrics=True)
        cluster.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + BOUND
        while True:
            scrape = Scrape(cluster.metrics_ports[1], "gate-1")
            [new] = [s.labels["version"] for s in scrape.samples("dinx_config_version")]
            if new != old:
                break
            check(time.monotonic() < deadline, f"the version is still {old} after SIGHUP")
            time.sleep(0.05)
        check(scrape.value("dinx_config_generation") == 1,
              f"generation {scrape.value('dinx_config_generation')} after one reload")

    def a_drain_ends_the_endpoints_too():
        cluster.drain()
        cluster.check_drained()
        for port in cluster.metrics_ports.values():
            try:
                fetch(port)
            except OSError:
                continue
            check(False, f"port {port} still answers after the process exited")

    return [
        ("every node serves well-formed text with its own node label",
         every_node_serves_well_formed_text),
        ("counters move with the traffic: messages, bytes, latency, errors, clients",
         counters_move_with_the_traffic),
        ("only GET and HEAD of /metrics are served; garbage gets a 400", only_metrics_is_served),
        ("a live reload shows its config version and generation", a_reload_shows_its_version),
        ("a drain stops the endpoints with the process", a_drain_ends_the_endpoints_too),
    ]


def main():
    cluster = Cluster(demo_from_argv(), "metrics")
    cluster.write(metrics=True)
    try:
        cluster.start(wait_ports=tuple(cluster.metrics_ports.values()))
    except Exception as error:
        print(f"FAIL the cluster did not start: {error}")
        return 1
    try:
        return run_checks("metrics endpoints scraped by prometheus_client's parser",
                          make_checks(cluster), cluster)
    finally:
        cluster.stop()


if __name__ == "__main__":
    sys.exit(main())
