"""HTTPS and secure WebSocket for the Rust tests of `[feed.tls]` and the
certificate-expiry metric: Python's ssl (OpenSSL) with the `websockets`
package, on one loopback port.

  python tls-server.py <port> <cert.pem> <key.pem> [client-ca.pem]

GET of any path but /ws answers `{"ok": 1}`; a WebSocket at /ws sends
`{"n": 1}`, `{"n": 2}`, ... every 50 ms. With a client CA, a client must
present a certificate it signed (CERT_REQUIRED), or the handshake fails.
Prints `listening PORT`; SIGTERM stops it.
"""
import asyncio
import json
import ssl
import sys
from http import HTTPStatus

from websockets.asyncio.server import serve


async def main():
    port = int(sys.argv[1])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[2], sys.argv[3])
    if len(sys.argv) > 4:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(sys.argv[4])

    def plain_http(connection, request):
        if request.path == "/ws":
            return None
        response = connection.respond(HTTPStatus.OK, json.dumps({"ok": 1}) + "\n")
        response.headers["Content-Type"] = "application/json"
        return response

    async def stream(ws):
        n = 0
        while True:
            n += 1
            await ws.send(json.dumps({"n": n}))
            await asyncio.sleep(0.05)

    async with serve(stream, "127.0.0.1", port, ssl=ctx, process_request=plain_http) as server:
        print("listening", port, flush=True)
        await server.serve_forever()


asyncio.run(main())
