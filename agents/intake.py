"""One agent over all input topics.

All five topics are co-partitioned by seller_id and one coroutine takes
partition p of each: a seller's events are applied in one place, in arrival
order, and the partition clock (a minimum over the topics) is exact without
locks. The per-standard rules live in `standards/`.
"""
from streams.app import app, input_topic, processor


@app.agent(input_topic, concurrency=1)
async def intake(stream):
    async for event in stream.events():
        message = event.message
        processor.handle(message.topic, message.partition, message.offset, message.key,
                         message.value, message.timestamp)
