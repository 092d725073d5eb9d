// A UDT echo server and a client in one process: the smallest complete use of createServer() and connect().
// Run: node --import tsx examples/echo.ts [message]

import { once } from 'node:events';
import { connect, createServer } from '../src/ts/api/index.js';

const server = createServer((socket) => {
  socket.on('data', (chunk: Buffer) => socket.write(chunk));
  socket.on('error', (err) => console.error('server side:', err.message));
});
server.listen(0, '127.0.0.1');
await once(server, 'listening');
const { port } = server.address()!;
console.log(`echo server on 127.0.0.1:${port}`);

const client = connect({ host: '127.0.0.1', port });
await once(client, 'connect');
const message = process.argv[2] ?? 'hello over UDT';
client.write(message);
let reply = '';
for await (const chunk of client) {
  reply += (chunk as Buffer).toString();
  if (reply.length >= Buffer.byteLength(message)) break;
}
console.log(`sent "${message}", got back "${reply}" (engine ${client.getStats().engine})`);
client.destroy();
server.closeAllConnections();
server.close();
