// A GraphQL subscription server for the Rust tests, on the reference
// libraries: `graphql-ws` (protocol graphql-transport-ws) or
// `subscriptions-transport-ws` (the legacy protocol graphql-ws).
//
//   node graphql-server.mjs <port> <modern|legacy> [token]
//
// Subscriptions:
//   ticks(count: Int!, everyMs: Int = 20): Tick  seq 1..count, then complete
//   forever(everyMs: Int = 100): Tick            seq 1, 2, … until unsubscribed
//   broken: Tick                                 an execution error
// With a token, connection_init must carry {"token": <token>}.
import { createServer } from 'node:http';
import { WebSocketServer } from 'ws';
import { buildSchema, execute, subscribe } from 'graphql';

const [port, flavour, token] = [Number(process.argv[2]), process.argv[3], process.argv[4]];

const schema = buildSchema(`
  type Tick { seq: Int!, cpu: Float! }
  type Query { hello: String }
  type Subscription {
    ticks(count: Int!, everyMs: Int = 20): Tick
    forever(everyMs: Int = 100): Tick
    broken: Tick
  }
`);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tick = (seq) => ({ seq, cpu: seq / 10 });
const roots = {
  ticks: async function* ({ count, everyMs }) {
    for (let seq = 1; seq <= count; seq++) {
      await sleep(everyMs);
      yield { ticks: tick(seq) };
    }
  },
  forever: async function* ({ everyMs }) {
    for (let seq = 1; ; seq++) {
      await sleep(everyMs);
      yield { forever: tick(seq) };
    }
  },
  broken: async function* () {
    throw new Error('the broken subscription always fails');
  },
};
const allowed = (params) => !token || (params && params.token === token);

const server = createServer((_, res) => res.writeHead(404).end());
if (flavour === 'modern') {
  const { useServer } = await import('graphql-ws/use/ws');
  const wss = new WebSocketServer({ server, path: '/graphql' });
  useServer({ schema, roots: { subscription: roots }, onConnect: (ctx) => allowed(ctx.connectionParams) }, wss);
} else {
  const { SubscriptionServer } = await import('subscriptions-transport-ws');
  SubscriptionServer.create(
    {
      schema,
      execute,
      subscribe,
      rootValue: roots,
      keepAlive: 1000,
      onConnect: (params) => {
        if (!allowed(params)) throw new Error('invalid token');
        return true;
      },
    },
    { server, path: '/graphql' },
  );
}
server.listen(port, '127.0.0.1', () => console.log(`listening ${port} ${flavour}`));
