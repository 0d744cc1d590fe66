// `hearth rag eval` and `hearth rag reindex` through the CLI on a tiny generated corpus whose
// BM25 ranking is known, so the metrics are computed by hand below.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hearthBinary } from './harness.mjs';

let home;
let docs;

function hearth(...args) {
  const r = spawnSync(hearthBinary, args, { env: { ...process.env, HEARTH_HOME: home }, encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function writeQrels(name, lines) {
  const file = path.join(home, name);
  fs.writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
  return file;
}

before(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-e2e-ragcli-'));
  docs = path.join(home, 'corpus');
  fs.mkdirSync(path.join(docs, 'sub'), { recursive: true });
  fs.writeFileSync(path.join(docs, 'a.txt'), 'alpha appears only here.\n');
  fs.writeFileSync(path.join(docs, 'b.txt'), 'beta is mentioned once.\n');
  fs.writeFileSync(path.join(docs, 'sub', 'c.txt'), 'beta gamma gamma beta gamma.\n');
  fs.writeFileSync(path.join(docs, 'e.txt'), 'delta lives in this file.\n');
  fs.writeFileSync(path.join(docs, 'sub', 'e.txt'), 'nothing relevant in here.\n');
  const add = hearth('rag', 'add', docs, '-c', 'tiny', '--embed', 'none');
  assert.equal(add.code, 0, add.err);
});

after(() => fs.rmSync(home, { recursive: true, force: true }));

test('rag eval scores a corpus with a known ranking', () => {
  const qrels = writeQrels('tiny.qrels.jsonl', [
    { query: 'alpha', relevant: ['a.txt'] }, // rank 1
    { query: 'beta gamma', relevant: ['b.txt'] }, // sub/c.txt has both words: b.txt is rank 2
    { query: 'delta', relevant: ['sub/e.txt'] }, // only corpus/e.txt has the word: never found
  ]);
  const r = hearth('rag', 'eval', '-c', 'tiny', '--qrels', qrels, '--json');
  assert.equal(r.code, 0, r.err);
  const out = JSON.parse(r.out);
  assert.equal(out.modes.length, 1, 'BM25 only: the collection has no vectors');
  assert.equal(out.skipped.length, 2);
  const m = out.modes[0];
  assert.equal(m.mode, 'bm25');
  assert.equal(m.queries, 3);
  const near = (a, b) => assert.ok(Math.abs(a - b) < 1e-9, `${a} != ${b}`);
  near(m.mrr, (1 + 1 / 2 + 0) / 3);
  near(m['recall@5'], 2 / 3);
  near(m['recall@10'], 2 / 3);
  near(m['ndcg@10'], (1 + 1 / Math.log2(3) + 0) / 3);
  assert.deepEqual(m.per_query.map((q) => q.reciprocal_rank), [1, 0.5, 0]);
  assert.equal(path.basename(m.per_query[1].retrieved[0]), 'c.txt');

  const text = hearth('rag', 'eval', '-c', 'tiny', '--qrels', qrels, '--mode', 'bm25');
  assert.equal(text.code, 0, text.err);
  assert.match(text.out, /bm25\s+0\.667\s+0\.667\s+0\.500\s+/);
});

test('rag eval refuses qrels that do not name exactly one document', () => {
  const ambiguous = writeQrels('amb.jsonl', [{ query: 'delta', relevant: ['e.txt'] }]);
  let r = hearth('rag', 'eval', '-c', 'tiny', '--qrels', ambiguous);
  assert.equal(r.code, 2);
  assert.match(r.err, /'e\.txt' matches 2 documents/);
  const missing = writeQrels('missing.jsonl', [{ query: 'delta', relevant: ['nope.txt'] }]);
  r = hearth('rag', 'eval', '-c', 'tiny', '--qrels', missing);
  assert.equal(r.code, 2);
  assert.match(r.err, /not in the collection/);
  fs.writeFileSync(path.join(home, 'bad.jsonl'), '{"query": "x"}\n');
  r = hearth('rag', 'eval', '-c', 'tiny', '--qrels', path.join(home, 'bad.jsonl'));
  assert.equal(r.code, 2);
  assert.match(r.err, /line 1/);
  r = hearth('rag', 'eval', '-c', 'tiny', '--qrels', missing, '--mode', 'vector');
  assert.equal(r.code, 1);
  assert.match(r.err, /needs vectors/);
});

test('rag reindex stops at --limit, keeps serving the old index, then resumes', () => {
  let r = hearth('rag', 'reindex', '-c', 'tiny', '--embed', 'none', '--chunk-tokens', '64',
    '--overlap', '8', '--limit', '2');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /2 documents embedded now, 0 resumed/);
  assert.match(r.out, /old index still serves queries/);
  const q = hearth('rag', 'query', '-c', 'tiny', 'alpha', '--json');
  assert.equal(q.code, 0, q.err);
  assert.equal(path.basename(JSON.parse(q.out).results[0].path), 'a.txt');
  r = hearth('rag', 'reindex', '-c', 'tiny', '--embed', 'none', '--chunk-tokens', '64',
    '--overlap', '8');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /3 documents embedded now, 2 resumed/);
  assert.match(r.out, /reindexed with none: 5 chunks/);
  r = hearth('rag', 'reindex', '-c', 'tiny', '--embed', 'no-such-model-xyz');
  assert.equal(r.code, 1);
});
