// A real Fastify 4 service for scan/node_test.go, run behind the same mTLS
// front as express.js (node fastify.js PORT), with the same balance.
// Packages: see package.json.
'use strict';
const fastify = require('fastify')();

let balance = 1000;
const schema = {
  body: {
    type: 'object',
    required: ['to', 'amount'],
    additionalProperties: false, // Fastify's Ajv removes unknown members
    properties: { to: { type: 'string' }, amount: { type: 'integer', minimum: 1 } },
  },
};
function spend(req, reply) {
  const b = req.body || {};
  const n = parseInt(b.amount, 10);
  if (!b.to || !(n > 0)) return reply.code(400).send('bad fields');
  balance -= n;
  return { ok: true, balance };
}

fastify.addHook('onRequest', async (req, reply) => {
  if (!req.headers['x-client-subject']) return reply.code(403).send('no certificate');
});
fastify.get('/api/balance', async () => ({ balance }));

// Fastify's own parsers: application/json, and text/plain as a string.
fastify.register(async (f) => {
  f.post('/api/json', { schema }, spend);
});
// A text/plain parser that reads JSON (for clients that cannot set
// Content-Type): a cross-site text/plain form gets through.
fastify.register(async (f) => {
  f.addContentTypeParser('text/plain', { parseAs: 'string' }, (req, body, done) => {
    try { done(null, JSON.parse(body)); } catch (e) { e.statusCode = 400; done(e); }
  });
  f.post('/api/text-json', { schema }, spend);
});
// @fastify/formbody and no defence.
fastify.register(async (f) => {
  f.register(require('@fastify/formbody'));
  f.post('/open', spend);
});

fastify.listen({ port: parseInt(process.argv[2], 10), host: '127.0.0.1' });
