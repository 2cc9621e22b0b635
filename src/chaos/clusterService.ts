// `tsx src/chaos/clusterService.ts PORT...`: what a Kubernetes Service in front of a Redis
// Cluster's pods does for a client's first contact, for the --cluster chaos run. Each new
// connection goes to the first node, in turn, that accepts it (a SIGKILLed node refuses at
// once on localhost); the clients then dial the nodes at the addresses the Cluster
// announces, not through this. It runs in its own process because the harness's event loop
// is busy with the load: a first contact relayed through it missed ioredis's 1-s slot
// refresh timeout again and again on a loaded machine. Prints its port on stdout.
import { connect, createServer, type Socket } from 'node:net';

const ports = process.argv.slice(2).map(Number);
if (ports.length === 0 || ports.some((port) => !Number.isInteger(port))) {
  console.error('usage: clusterService.ts PORT...');
  process.exit(2);
}

let turn = 0;

function relay(client: Socket, tried: number): void {
  if (tried >= ports.length) return void client.destroy();
  const port = ports[turn++ % ports.length]!;
  const upstream = connect(port, '127.0.0.1');
  let connected = false;
  upstream.on('error', () => {
    upstream.destroy();
    // Refused (the node is down): the next node. Cut later: the client sees its connection end.
    if (!connected) relay(client, tried + 1);
  });
  upstream.once('connect', () => {
    connected = true;
    upstream.on('close', () => client.destroy());
    client.on('close', () => upstream.destroy());
    client.pipe(upstream);
    upstream.pipe(client);
    client.resume();
  });
}

const server = createServer({ pauseOnConnect: true }, (client) => {
  client.on('error', () => client.destroy());
  relay(client, 0);
});
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  console.log(typeof address === 'object' && address ? address.port : 0);
});
process.on('SIGTERM', () => process.exit(0));
