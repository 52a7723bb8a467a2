"""A Beam SDK worker pool on 127.0.0.1 for the portable-runner tests: the shape of a cluster's
workers (own process, own working directory, own view of the file systems). Beam's
``worker_pool_main`` binds every interface; this binds the loopback only. Prints the port."""

from __future__ import annotations

import sys
import time

import grpc
from apache_beam.portability.api import beam_fn_api_pb2_grpc
from apache_beam.runners.worker.worker_pool_main import BeamFnExternalWorkerPoolServicer
from apache_beam.utils import thread_pool_executor


def main() -> None:
    server = grpc.server(thread_pool_executor.shared_unbounded_instance())
    port = server.add_insecure_port("127.0.0.1:0")
    beam_fn_api_pb2_grpc.add_BeamFnExternalWorkerPoolServicer_to_server(
        BeamFnExternalWorkerPoolServicer(data_buffer_time_limit_ms=0), server)
    server.start()
    print(port, flush=True)
    while True:  # until the test kills us
        time.sleep(3600)


if __name__ == "__main__":
    sys.exit(main())
