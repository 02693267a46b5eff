// The benchmark's Node.js proxy: the npm package http-proxy in front of one
// upstream, adding "Authorization: Bearer …", with a keep-alive agent to the
// upstream (64 sockets, like the Go proxies' pools).
//
//   node bench/nodeproxy.js <port> <upstream-url> [token]
const http = require('http');
const httpProxy = require('http-proxy');

const port = Number(process.argv[2] || 9104);
const target = process.argv[3] || 'http://127.0.0.1:9101';
const token = process.argv[4] || 'bench-upstream-token';

const agent = new http.Agent({ keepAlive: true, maxSockets: 64, maxFreeSockets: 64 });
const proxy = httpProxy.createProxyServer({ target, agent, xfwd: false });
proxy.on('proxyReq', (proxyReq) => proxyReq.setHeader('Authorization', 'Bearer ' + token));
proxy.on('error', (err, req, res) => {
  if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' });
  res.end('proxy error: ' + err.message);
});
const server = http.createServer((req, res) => proxy.web(req, res));
server.keepAliveTimeout = 120000;
server.listen(port, '127.0.0.1', () => console.log(`nodeproxy listening on 127.0.0.1:${port} -> ${target}`));
