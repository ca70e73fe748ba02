"""One agent over all input topics.

All five topics are co-partitioned by seller_id and partition p of each is
applied in one place, in arrival order, so the partition clock (a minimum
over the topics) is exact without locks. The per-standard rules live in
`standards/`.

The agent subscribes the worker to the input topics. Their records do not
come through it: the app's consumer (`streams.app.StateFlushingConsumer`)
applies each fetched batch to the processor directly, which costs a
fraction of Faust's path per message. A message that still reaches this
stream (another consumer class) is applied the same way, one at a time.
"""
from streams.app import app, input_topic, processor


@app.agent(input_topic, concurrency=1)
async def intake(stream):
    async for event in stream.events():
        message = event.message
        processor.handle(message.topic, message.partition, message.offset, message.key,
                         message.value, message.timestamp)
