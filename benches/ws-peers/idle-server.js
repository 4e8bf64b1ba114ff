// An idle WebSocket server for the connection density benchmark (benches/ws-idle.sh): accepts
// connections and keeps them, pinging every 30 s like Dragoman. No per-connection state of ours.
//
//   node idle-server.js ws|socketio PORT
'use strict';
const http = require('http');

const [kind, portText] = process.argv.slice(2);
const port = Number(portText);
if (!['ws', 'socketio'].includes(kind) || !Number.isInteger(port)) {
  console.error('usage: node idle-server.js ws|socketio PORT');
  process.exit(2);
}

const server = http.createServer();
server.maxConnections = 100000;
let open = 0;

if (kind === 'ws') {
  const { WebSocketServer } = require('ws');
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  wss.on('connection', (socket) => {
    open += 1;
    socket.isAlive = true;
    socket.on('pong', () => { socket.isAlive = true; });
    socket.on('close', () => { open -= 1; });
  });
  // The ws documentation's heartbeat: ping every 30 s, drop who did not answer the last one.
  setInterval(() => {
    for (const socket of wss.clients) {
      if (!socket.isAlive) { socket.terminate(); continue; }
      socket.isAlive = false;
      socket.ping();
    }
  }, 30000);
} else {
  const { Server } = require('socket.io');
  const io = new Server(server, {
    transports: ['websocket'],
    perMessageDeflate: false,
    pingInterval: 30000,
    pingTimeout: 20000,
  });
  io.on('connection', (socket) => {
    open += 1;
    socket.on('disconnect', () => { open -= 1; });
  });
}

server.listen(port, '127.0.0.1', () => console.log(`listening ${kind} ${port}`));
setInterval(() => console.log(`open ${open}`), 5000).unref();
