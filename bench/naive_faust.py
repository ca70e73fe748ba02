"""The naive baseline: a Faust agent over the five input topics doing one
table update per event (a per-seller count, memory store, changelogged).

Run as `python -m bench.naive_faust worker -l warn` with KAFKA_BOOTSTRAP,
APP_ID, PARTITIONS, DATA_DIR, WEB_PORT (and NAIVE_TABLE=0 for the variant
with no table at all). /ready answers 200 once the table is recovered.
"""
import os

import faust
import orjson

from bench.workload import INPUT_TOPICS

PARTITIONS = int(os.environ.get("PARTITIONS", "8"))
WITH_TABLE = os.environ.get("NAIVE_TABLE", "1") != "0"

app = faust.App(
    os.environ["APP_ID"],
    broker=f"kafka://{os.environ['KAFKA_BOOTSTRAP']}",
    store="memory://",
    datadir=os.environ.get("DATA_DIR", "/tmp/naive-faust"),
    topic_partitions=PARTITIONS,
    table_standby_replicas=0,
    broker_commit_interval=float(os.environ.get("COMMIT_INTERVAL", "2.0")),
    broker_rebalance_timeout=4.0,
    broker_session_timeout=6.0,
    broker_heartbeat_interval=1.0,
    consumer_auto_offset_reset="earliest",
    web_bind="127.0.0.1",
    web_host="127.0.0.1",
    web_port=int(os.environ.get("WEB_PORT", "6067")),
)
topic = app.topic(*INPUT_TOPICS, key_serializer="raw", value_serializer="raw", partitions=PARTITIONS)
counts = app.Table("counts", default=int, partitions=PARTITIONS, key_type=str, value_type=int)
ready = {"ok": False}


@counts.on_recover
async def _recovered() -> None:
    ready["ok"] = True


@app.agent(topic)
async def count(stream):
    async for value in stream:
        try:
            seller = orjson.loads(value).get("seller_id")
        except (orjson.JSONDecodeError, AttributeError):
            continue
        if WITH_TABLE and isinstance(seller, str):
            counts[seller] += 1


@app.page("/ready")
async def _ready(web, request):
    return web.json({"ready": ready["ok"]}, status=200 if ready["ok"] else 503)


if __name__ == "__main__":
    app.main()
