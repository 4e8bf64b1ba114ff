// A WebSocket server for the fan-out benchmark (benches/ws-fanout.sh): relays events published
// on Redis to every connected client. Two of these share one Redis in a run.
//
//   node fanout-server.js ws|socketio PORT REDIS_URL KEY
//
// ws:       ws + ioredis. Subscribes to the channel KEY and sends each message, as published (a
//           JSON text frame), to every open client: the plain way to fan out with ws and Redis.
// socketio: socket.io + @socket.io/redis-adapter (ioredis clients, the adapter's key KEY). The
//           publisher emits to every client the way @socket.io/redis-emitter does; the adapter
//           of each server decodes it and broadcasts to its own clients (io.emit's path).
// Both ping every 30 s like Dragoman, without compression.
'use strict';
const http = require('http');
const Redis = require('ioredis');

const [kind, portText, redisUrl, key] = process.argv.slice(2);
const port = Number(portText);
if (!['ws', 'socketio'].includes(kind) || !Number.isInteger(port) || !redisUrl || !key) {
  console.error('usage: node fanout-server.js ws|socketio PORT REDIS_URL KEY');
  process.exit(2);
}

const server = http.createServer();
server.maxConnections = 100000;
let open = 0;
let relayed = 0;

if (kind === 'ws') {
  const { WebSocketServer, OPEN } = require('ws');
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  wss.on('connection', (socket) => {
    open += 1;
    socket.isAlive = true;
    socket.on('pong', () => { socket.isAlive = true; });
    socket.on('close', () => { open -= 1; });
  });
  setInterval(() => {
    for (const socket of wss.clients) {
      if (!socket.isAlive) { socket.terminate(); continue; }
      socket.isAlive = false;
      socket.ping();
    }
  }, 30000);
  const sub = new Redis(redisUrl);
  sub.subscribe(key).then(() => console.log(`subscribed ${key}`));
  sub.on('message', (_channel, message) => {
    relayed += 1;
    for (const socket of wss.clients) {
      if (socket.readyState === OPEN) socket.send(message);
    }
  });
} else {
  const { Server } = require('socket.io');
  const { createAdapter } = require('@socket.io/redis-adapter');
  const pub = new Redis(redisUrl);
  const sub = pub.duplicate();
  const io = new Server(server, {
    transports: ['websocket'],
    perMessageDeflate: false,
    pingInterval: 30000,
    pingTimeout: 20000,
    adapter: createAdapter(pub, sub, { key }),
  });
  io.on('connection', (socket) => {
    open += 1;
    socket.on('disconnect', () => { open -= 1; });
  });
  sub.on('pmessageBuffer', () => { relayed += 1; });
}

server.listen(port, '127.0.0.1', () => console.log(`listening ${kind} ${port}`));
setInterval(() => console.log(`open ${open} relayed ${relayed}`), 5000).unref();
