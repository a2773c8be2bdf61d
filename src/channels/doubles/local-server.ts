// Starting and stopping a double's HTTP server (the robot doubles, the WeCom customer-group
// API double): it listens on 127.0.0.1 only, and stops at once, open keep-alive connections
// and all, so a test's close never waits for a client to hang up.
import type http from 'node:http';
import type { AddressInfo } from 'node:net';

/** Listens on 127.0.0.1 (`port` 0: any free port); resolves with the port once listening. */
export async function listenLocally(server: http.Server, port = 0): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

/** Closes the server and every connection it has open; resolves once it is closed. */
export async function closeNow(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}
