"""The local FnApiRunner feeds worker processes without losing bytes (issue 22).

Beam 2.77's runner sends a bundle's input to a worker through a data-channel stream that, by
default, a timer thread flushes once a second. A timed flush hands the buffer to the send queue
and then clears it; when the queue is full the hand-over waits, the bundle thread keeps writing,
and what it wrote meanwhile is cleared unsent. Bundles of a few hundred MB (``codecorpus dedup``
on ~1 GB with ``--direct_running_mode=multi_processing``) lost whole chunks of records that way.
``make_local_runner`` turns the timer off; this test drives the very stream the runner builds
with a send queue that is slow to accept, for longer than the timer's period."""

from __future__ import annotations

import time

from apache_beam.options.pipeline_options import PipelineOptions

from codecorpus.jobs.runner import make_local_runner


def test_a_stream_to_a_worker_loses_nothing_while_the_send_queue_is_full():
    from apache_beam.runners.portability.fn_api_runner import worker_handlers
    from apache_beam.runners.worker import data_plane

    make_local_runner(PipelineOptions([]))
    # What the runner's gRPC server builds for each worker (worker_handlers.GrpcServer).
    channel = data_plane.BeamFnDataServicer(worker_handlers.DATA_BUFFER_TIME_LIMIT_MS).get_conn_by_worker_id("w1")
    sent = []

    def slow_queue(element):  # a full send queue: each hand-over waits
        if element.data:
            sent.append(element.data)
        time.sleep(0.3)

    channel._enqueue_to_send = slow_queue
    stream = channel.output_stream("bundle_1", "read")
    written = []
    deadline = time.monotonic() + 2.6  # two periods of the default timer (1 s)
    while time.monotonic() < deadline:
        chunk = len(written).to_bytes(4, "big") * 256   # element-aligned chunks, as the runner's buffers
        stream.write(chunk)
        written.append(chunk)
        time.sleep(0.002)
    stream.close()
    assert len(written) > 500
    assert b"".join(sent) == b"".join(written)
