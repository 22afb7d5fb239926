"""MQTT over secure WebSocket for the Rust tests: TLS (Python's ssl, that
is OpenSSL) and WebSocket (the `websockets` package, subprotocol `mqtt`)
in front of a plain-TCP mosquitto, each WebSocket relayed byte for byte to
its own TCP connection. Debian 12's mosquitto cannot open a WebSocket
listener, so the broker is reached this way.

  python mqtt-wss-relay.py <port> <broker-port> <cert.pem> <key.pem> [client-ca.pem]

With a client CA, a client must present a certificate it signed
(CERT_REQUIRED), as mosquitto's `require_certificate true` asks.
"""
import asyncio
import ssl
import sys

from websockets.asyncio.server import serve


async def main():
    port, broker = int(sys.argv[1]), int(sys.argv[2])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[3], sys.argv[4])
    if len(sys.argv) > 5:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(sys.argv[5])

    async def relay(ws):
        reader, writer = await asyncio.open_connection("127.0.0.1", broker)

        async def up():
            async for message in ws:
                writer.write(message if isinstance(message, bytes) else message.encode())
                await writer.drain()

        async def down():
            while data := await reader.read(8192):
                await ws.send(data)

        tasks = [asyncio.create_task(up()), asyncio.create_task(down())]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
            writer.close()

    async with serve(relay, "127.0.0.1", port, ssl=ctx, subprotocols=["mqtt"]):
        print(f"listening {port}", flush=True)
        await asyncio.Future()


asyncio.run(main())
