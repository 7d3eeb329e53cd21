// An echo upstream for TestRealUpstreams: the path as Node routes it
// (new URL(req.url, base).pathname, percent-decoded) and the headers as
// req.headers holds them (names in lower case, repeats joined).
const http = require('http');
http.createServer((req, res) => {
  let path;
  try { path = decodeURIComponent(new URL(req.url, 'http://x').pathname); } catch (e) { path = 'INVALID'; }
  req.resume();
  req.on('end', () => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({method: req.method, path: path, headers: req.headers}));
  });
}).listen(+process.argv[2], '127.0.0.1');
