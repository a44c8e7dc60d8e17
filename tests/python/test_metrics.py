"""The broker's /metrics, /health and /ready, scraped over HTTP and parsed with the official
Prometheus Python client's text parser, while kafka-python produces, consumes and commits."""

import time
import urllib.error
import urllib.request

from kafka import KafkaConsumer, KafkaProducer
from prometheus_client.parser import text_string_to_metric_families

SCRAPE_TIMEOUT_S = 15.0


def http_get(port, path):
    """(status, body) of GET http://127.0.0.1:port/path."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def scrape(port):
    """{(sample name, frozenset of labels): value}; the parser raises on malformed text."""
    status, text = http_get(port, "/metrics")
    assert status == 200, text
    out = {}
    families = list(text_string_to_metric_families(text))
    assert families, "no metric families"
    for fam in families:
        assert fam.name.startswith("runnel_"), fam.name
        assert fam.documentation, f"{fam.name} has no HELP text"
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def total(samples, name, **labels):
    """Sum of the samples called `name` whose labels include `labels`."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def scrape_until(port, what, ok):
    deadline = time.monotonic() + SCRAPE_TIMEOUT_S
    while True:
        s = scrape(port)
        if ok(s):
            return s
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_health_ready_and_unknown_paths(broker, broker_proc):
    port = broker_proc.metrics_port
    assert http_get(port, "/health") == (200, "ok\n")
    assert http_get(port, "/ready") == (200, "ready\n")
    assert http_get(port, "/metrics?name=x")[0] == 200
    assert http_get(port, "/favicon.ico")[0] == 404


def test_metrics_follow_kafka_python_traffic(broker, broker_proc, topic_name):
    port = broker_proc.metrics_port
    before = scrape(port)
    producer = KafkaProducer(bootstrap_servers=broker, acks="all")
    for i in range(30):
        producer.send(topic_name, value=b"x" * 50, partition=0)
    producer.flush(timeout=30)
    producer.close()

    hw = dict(topic=topic_name, partition="0")
    s = scrape_until(
        port,
        "high watermark 30",
        lambda s: total(s, "runnel_partition_high_watermark", **hw) == 30,
    )
    produced = total(s, "runnel_requests_total", api="Produce")
    assert produced > total(before, "runnel_requests_total", api="Produce")
    assert total(s, "runnel_topic_messages_in_total", topic=topic_name) == 30
    assert total(s, "runnel_topic_bytes_in_total", topic=topic_name) >= 30 * 50
    # Histogram samples are consistent: +Inf bucket == count.
    inf = total(s, "runnel_request_duration_seconds_bucket", api="Produce", le="+Inf")
    assert inf == total(s, "runnel_request_duration_seconds_count", api="Produce") > 0

    consumer = KafkaConsumer(
        topic_name,
        bootstrap_servers=broker,
        group_id="metrics-py",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        consumer_timeout_ms=20000,
    )
    got = 0
    for _ in consumer:
        got += 1
        if got == 30:
            break
    assert got == 30
    consumer.commit()
    consumer.close()
    g = dict(group="metrics-py", topic=topic_name, partition="0")
    s = scrape_until(
        port,
        "committed offset 30",
        lambda s: total(s, "runnel_group_committed_offset", **g) == 30,
    )
    assert total(s, "runnel_group_lag", **g) == 0
    assert total(s, "runnel_topic_bytes_out_total", topic=topic_name) >= 30 * 50
    assert total(s, "runnel_requests_total", api="JoinGroup") >= 1
