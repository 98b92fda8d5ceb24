// The real servers' web server for the seed-cluster recordings and tests: one page, the same
// bytes every time (no Date header, unlike an http module server), so the packets and byte
// counters of a request are the same in the oracle VM and on any test machine.
// Usage: node page-server.mjs PORT "PAGE TEXT"
// It reads the request up to its empty line, then writes the response and closes (HTTP/1.0).
import { createServer } from 'node:net';

const [port, page] = [Number(process.argv[2] ?? 80), `${process.argv[3] ?? 'real server'}\n`];
// No Content-Length: the page ends where the server closes, so curl reads until the server's
// FIN and only then closes its side. With a length, curl may close as soon as it has the page
// and its FIN races the server's (5 or 6 client segments, depending on which comes first).
const response = Buffer.from(`HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n${page}`);

createServer((sock) => {
  let seen = '';
  sock.on('data', (d) => {
    seen += d.toString('latin1');
    if (seen.includes('\r\n\r\n')) {
      seen = '';
      sock.end(response);
    }
  });
  sock.on('error', () => sock.destroy());
}).listen(port, '0.0.0.0', () => process.stdout.write(`listening on ${port}\n`));
