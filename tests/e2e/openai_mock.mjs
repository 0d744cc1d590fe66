// A fault-injecting OpenAI-compatible upstream for the router tests and bench/router.mjs.
// Each request takes the next mode from `mock.script` (then `mock.mode`):
//   ok            answers (SSE when asked to stream) with `mock.chunks` content chunks
//                 (or the strings in `mock.words`), `mock.chunkDelayMs` apart, as `mock.model`;
//                 with `mock.usage` and stream_options.include_usage, a usage chunk at the end
//   500 | 401     that HTTP status with an OpenAI error body
//   429           429 with Retry-After: `mock.retryAfter`
//   overflow      400 with code context_length_exceeded
//   hang          accepts the request and never answers
//   midstream     streams two content chunks, then destroys the connection
//   bad_sse       streams an event that is not JSON
//   bad_json      answers 200 with a body that is not JSON
//   keepalive     streams the role chunk, then only SSE comments, forever
// `requests` records every request (path, headers, body); `aborted` counts requests whose
// client went away before the answer ended. Run alone (`node openai_mock.mjs PORT [delayMs]`)
// it serves `ok` forever, for the benchmark.
import http from 'node:http';
import { once } from 'node:events';

export async function startMock(options = {}) {
  const mock = {
    mode: 'ok', script: [], chunks: 3, chunkDelayMs: 5, retryAfter: 7,
    model: 'mock-model', requests: [], aborted: 0, finished: 0, ...options,
  };
  const sockets = new Set();
  mock.server = http.createServer(async (req, res) => {
    let raw = '';
    for await (const part of req) raw += part;
    let body = {};
    try { body = JSON.parse(raw || '{}'); } catch { body = { unparsable: raw }; }
    mock.requests.push({ path: req.url, method: req.method, headers: req.headers, body });
    if (req.method === 'GET' && req.url.endsWith('/models')) {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: mock.model, object: 'model' }] }));
      return;
    }
    const mode = mock.script.length ? mock.script.shift() : mock.mode;
    let ended = false;
    res.on('close', () => { if (!ended) mock.aborted += 1; });
    const error = (status, message, code, headers = {}) => {
      ended = true;
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
      res.end(JSON.stringify({ error: { message, type: 'mock_error', code } }));
    };
    if (mode === '500') return error(500, 'mock internal error', 'internal');
    if (mode === '401') return error(401, 'mock: bad key', 'invalid_api_key');
    if (mode === '429') return error(429, 'mock: slow down', 'rate_limit', { 'Retry-After': String(mock.retryAfter) });
    if (mode === 'overflow') return error(400, 'too long', 'context_length_exceeded');
    if (mode === 'hang') return;
    if (mode === 'bad_json') {
      ended = true;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('{"choices": [ not json');
      return;
    }
    const id = `chatcmpl-mock${mock.requests.length}`;
    const words = mock.words ?? Array.from({ length: mock.chunks }, (_, i) => `w${i} `);
    if (req.url.endsWith('/embeddings')) {
      ended = true;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', model: mock.model, data: [{ object: 'embedding', index: 0, embedding: [0.6, 0.8] }], usage: { prompt_tokens: 2, total_tokens: 2 } }));
      return;
    }
    if (!body.stream) {
      await new Promise((r) => setTimeout(r, mock.chunkDelayMs));
      ended = true;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({
        id, object: 'chat.completion', created: 1, model: mock.model,
        choices: [{ index: 0, message: { role: 'assistant', content: words.join('') }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 5, completion_tokens: mock.chunks, total_tokens: 5 + mock.chunks },
      }));
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    const chunk = (delta, finish = null) => `data: ${JSON.stringify({
      id, object: 'chat.completion.chunk', created: 1, model: mock.model,
      choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
    res.write(chunk({ role: 'assistant', content: '' }));
    if (mode === 'keepalive') {
      const timer = setInterval(() => res.write(': ping\n\n'), 100);
      res.on('close', () => clearInterval(timer));
      return;
    }
    if (mode === 'bad_sse') {
      res.write('data: {this is not json\n\n');
      await new Promise((r) => setTimeout(r, 50));
      ended = true;
      res.end();
      return;
    }
    for (let i = 0; i < words.length; i += 1) {
      await new Promise((r) => setTimeout(r, mock.chunkDelayMs));
      if (res.destroyed) return;
      res.write(chunk({ content: words[i] }));
      if (mode === 'midstream' && i === 1) {
        await new Promise((r) => setTimeout(r, 20));
        ended = true;
        res.socket.destroy();
        return;
      }
    }
    res.write(chunk({}, 'stop'));
    if (mock.usage && body.stream_options?.include_usage) {
      res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created: 1, model: mock.model,
        choices: [], usage: { prompt_tokens: 5, completion_tokens: words.length, total_tokens: 5 + words.length } })}\n\n`);
    }
    res.write('data: [DONE]\n\n');
    ended = true;
    mock.finished += 1;
    res.end();
  });
  mock.server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  mock.server.listen(options.port ?? 0, '127.0.0.1');
  await once(mock.server, 'listening');
  mock.port = mock.server.address().port;
  mock.url = `http://127.0.0.1:${mock.port}/v1`;
  mock.close = async () => {
    for (const s of sockets) s.destroy();
    mock.server.close();
  };
  return mock;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const port = Number(process.argv[2] ?? 0);
  const delay = Number(process.argv[3] ?? 5);
  const mock = await startMock({ port, chunkDelayMs: delay, chunks: Number(process.argv[4] ?? 16) });
  mock.requests = { push() {} };  // a benchmark keeps no history
  console.log(mock.url);
}
