"""A gRPC server for the Rust tests, on the reference grpcio libraries.

    python grpc-server.py PORT [--token T] [--cert CERT.pem --key KEY.pem]
                               [--write-descriptor PATH]

Serves on 127.0.0.1:PORT (TLS with --cert/--key) and prints `listening PORT`:
  grpc.health.v1.Health   "" and "fleet.v1.Fleet" SERVING; SIGUSR1 toggles
                          "fleet.v1.Fleet" SERVING <-> NOT_SERVING and prints
                          `fleet SERVING` / `fleet NOT_SERVING`
  fleet.v1.Fleet          (fleet.proto, built here in code, no protoc)
    Watch(WatchRequest)   Sample seq 1, 2, ... every every_ms (default 100)
                          ms; count of them when count > 0, else forever
    Garbage(WatchRequest) one Sample, then bytes that are not protobuf, then
                          30 s of silence
  grpc.reflection.v1alpha.ServerReflection
With --token, every call needs `authorization: Bearer T`, else UNAUTHENTICATED.
--write-descriptor writes a FileDescriptorSet of fleet.proto and exits.
SIGTERM/SIGINT stop the server and exit 0.
"""
import argparse
import signal
import time
import sys
import threading
from concurrent import futures

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

FDP = descriptor_pb2.FieldDescriptorProto
SERVICE = "fleet.v1.Fleet"


def fleet_file():
    """The FileDescriptorProto of fleet.proto (keep the two alike)."""
    f = descriptor_pb2.FileDescriptorProto(
        name="fleet/v1/fleet.proto", package="fleet.v1", syntax="proto3")
    enum = f.enum_type.add(name="State")
    for number, name in enumerate(["STATE_UNKNOWN", "UP", "DOWN"]):
        enum.value.add(name=name, number=number)

    def message(name, *fields):
        m = f.message_type.add(name=name)
        for number, (fname, ftype, type_name, label) in enumerate(fields, 1):
            head, *rest = fname.split("_")
            field = m.field.add(name=fname, number=number, type=ftype, label=label,
                                json_name=head + "".join(w.title() for w in rest))
            if type_name:  # only enum and message fields name a type
                field.type_name = type_name

    one, many = FDP.LABEL_OPTIONAL, FDP.LABEL_REPEATED
    message("WatchRequest", ("host", FDP.TYPE_STRING, "", one),
            ("every_ms", FDP.TYPE_INT32, "", one), ("count", FDP.TYPE_INT32, "", one))
    message("Disk", ("mount", FDP.TYPE_STRING, "", one), ("used", FDP.TYPE_DOUBLE, "", one))
    message("Sample", ("host", FDP.TYPE_STRING, "", one), ("seq", FDP.TYPE_INT64, "", one),
            ("cpu", FDP.TYPE_DOUBLE, "", one), ("state", FDP.TYPE_ENUM, ".fleet.v1.State", one),
            ("disks", FDP.TYPE_MESSAGE, ".fleet.v1.Disk", many))
    service = f.service.add(name="Fleet")
    for rpc in ("Watch", "Garbage"):
        service.method.add(name=rpc, input_type=".fleet.v1.WatchRequest",
                           output_type=".fleet.v1.Sample", server_streaming=True)
    return f


FILE = fleet_file()
descriptor_pool.Default().Add(FILE)
_message = lambda name: message_factory.GetMessageClass(  # noqa: E731
    descriptor_pool.Default().FindMessageTypeByName("fleet.v1." + name))
WatchRequest, Disk, Sample = _message("WatchRequest"), _message("Disk"), _message("Sample")
UP = descriptor_pool.Default().FindEnumTypeByName("fleet.v1.State").values_by_name["UP"].number
GARBAGE = "garbage"  # what Garbage yields for the bytes that are not protobuf


def sample(host, seq):
    return Sample(host=host or "host-1", seq=seq, cpu=seq * 1.5, state=UP,
                  disks=[Disk(mount="/", used=seq * 0.5)])


def ended(context):
    """An Event set when the call ends (cancelled, deadline, server stop)."""
    event = threading.Event()
    context.add_callback(event.set)
    return event


def watch(request, context):
    done, every = ended(context), (request.every_ms or 100) / 1000
    seq = 0
    while context.is_active() and (request.count <= 0 or seq < request.count):
        seq += 1
        yield sample(request.host, seq)
        if (request.count <= 0 or seq < request.count) and done.wait(every):
            return


def garbage(request, context):
    done = ended(context)
    yield sample(request.host, 1)
    yield GARBAGE
    done.wait(30)  # keep the stream open; the client should have given up


def garbage_serializer(msg):
    return b"\xff\xff\xff\xff" if msg == GARBAGE else msg.SerializeToString()


class TokenInterceptor(grpc.ServerInterceptor):
    """Rejects every call whose `authorization` is not `Bearer <token>`."""

    def __init__(self, token):
        self.expected = "Bearer " + token

    def intercept_service(self, continuation, details):
        if dict(details.invocation_metadata).get("authorization") == self.expected:
            return continuation(details)
        handler = continuation(details)
        if handler is None:  # unknown method: let gRPC answer UNIMPLEMENTED
            return None

        def deny(_request, context):
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "bad token")

        # A handler of the same kind as the real one, whose body aborts.
        make = {(False, False): grpc.unary_unary_rpc_method_handler,
                (False, True): grpc.unary_stream_rpc_method_handler,
                (True, False): grpc.stream_unary_rpc_method_handler,
                (True, True): grpc.stream_stream_rpc_method_handler}
        return make[(handler.request_streaming, handler.response_streaming)](
            deny, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)


def main():
    parser = argparse.ArgumentParser(description="gRPC test server")
    parser.add_argument("port", type=int)
    parser.add_argument("--token")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--write-descriptor", metavar="PATH")
    args = parser.parse_args()
    if bool(args.cert) != bool(args.key):
        parser.error("--cert and --key go together")

    if args.write_descriptor:
        with open(args.write_descriptor, "wb") as out:
            out.write(descriptor_pb2.FileDescriptorSet(file=[FILE]).SerializeToString())
        return 0

    interceptors = [TokenInterceptor(args.token)] if args.token else []
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16),
                         interceptors=interceptors)

    # Health: the overall server and the fleet service, both SERVING.
    healthy = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(healthy, server)
    SERVING, NOT_SERVING = (health_pb2.HealthCheckResponse.SERVING,
                            health_pb2.HealthCheckResponse.NOT_SERVING)
    healthy.set("", SERVING)
    healthy.set(SERVICE, SERVING)
    fleet_status = [SERVING]

    # SIGUSR1 only counts; a thread does the toggling. Work in the handler
    # itself could run nested inside a previous toggle's `set` (a handler
    # runs between any two bytecodes) and lose a flip.
    flips = [0]

    def on_usr1(_signum, _frame):
        flips[0] += 1

    def toggler():
        done = 0
        while True:
            if done == flips[0]:
                time.sleep(0.01)
                continue
            done += 1
            fleet_status[0] = NOT_SERVING if fleet_status[0] == SERVING else SERVING
            healthy.set(SERVICE, fleet_status[0])  # pushes to open Watch streams
            print("fleet", health_pb2.HealthCheckResponse.ServingStatus.Name(fleet_status[0]),
                  flush=True)

    threading.Thread(target=toggler, daemon=True).start()

    # The fleet service, without generated stubs.
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(SERVICE, {
        "Watch": grpc.unary_stream_rpc_method_handler(
            watch, request_deserializer=WatchRequest.FromString,
            response_serializer=Sample.SerializeToString),
        "Garbage": grpc.unary_stream_rpc_method_handler(
            garbage, request_deserializer=WatchRequest.FromString,
            response_serializer=garbage_serializer),
    })])

    reflection.enable_server_reflection(
        [SERVICE, health.SERVICE_NAME, reflection.SERVICE_NAME], server)

    address = f"127.0.0.1:{args.port}"
    if args.cert and args.key:
        with open(args.key, "rb") as k, open(args.cert, "rb") as c:
            server.add_secure_port(address, grpc.ssl_server_credentials([(k.read(), c.read())]))
    else:
        server.add_insecure_port(address)

    signal.signal(signal.SIGUSR1, on_usr1)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: server.stop(0))

    server.start()
    print("listening", args.port, flush=True)
    server.wait_for_termination()  # returns once a signal has stopped the server
    return 0


if __name__ == "__main__":
    sys.exit(main())
