// A Socket.IO server for the Rust tests, on the reference `socket.io`
// package.
//
//   node socketio-server.mjs <port> [token]
//
// Namespaces "/" and "/fleet". On each connection the server emits
// `tick` {seq, cpu} every `everyMs` ms (from the handshake query, default
// 20) up to `count` (query, default endless), and one `hello` "welcome"
// first. With a token, the handshake's auth must carry {token}; otherwise
// the connection is refused with connect_error "invalid token". With the
// query `via=1`, each tick also says which Engine.IO transport carried it.
//
// Environment: SIO_TRANSPORTS (e.g. "polling": the transports allowed,
// default both) and SIO_BLOCK_WS=1 (offer the WebSocket upgrade but refuse
// every WebSocket request, as a proxy that blocks WebSocket does).
import { createServer } from 'node:http';
import { Server } from 'socket.io';

const [port, token] = [Number(process.argv[2]), process.argv[3]];
const http = createServer();
const transports = (process.env.SIO_TRANSPORTS ?? 'polling,websocket').split(',');
const blockWs = process.env.SIO_BLOCK_WS === '1';
const io = new Server(http, { pingInterval: 1000, pingTimeout: 1000, transports });
if (blockWs) {
  // What a proxy that blocks WebSocket does: every upgrade request refused.
  http.removeAllListeners('upgrade');
  http.on('upgrade', (req, socket) => socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n'));
}

for (const ns of [io.of('/'), io.of('/fleet')]) {
  ns.use((socket, next) => {
    if (token && socket.handshake.auth?.token !== token) return next(new Error('invalid token'));
    next();
  });
  ns.on('connection', (socket) => {
    const everyMs = Number(socket.handshake.query.everyMs ?? 20);
    const count = Number(socket.handshake.query.count ?? Infinity);
    socket.emit('hello', 'welcome');
    let seq = 0;
    const timer = setInterval(() => {
      seq += 1;
      const tick = { seq, cpu: seq / 10, ns: ns.name };
      if (socket.handshake.query.via) tick.via = socket.conn.transport.name;
      socket.emit('tick', tick);
      if (seq >= count) clearInterval(timer);
    }, everyMs);
    socket.on('disconnect', () => clearInterval(timer));
  });
}
http.listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
