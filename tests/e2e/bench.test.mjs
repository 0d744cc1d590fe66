// `hearth bench` as a user runs it: the JSON report's shape, and --bound's per-repetition
// account (each repetition bracketed by two probe readings, steady only when they agree).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { model, fixtures, hearthBinary } from './harness.mjs';

function bench(args) {
  const run = spawnSync(hearthBinary, ['bench', ...args], {
    env: { ...process.env, HEARTH_FIXTURES: fixtures }, encoding: 'utf8', timeout: 120_000,
  });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout;
}

test('bench --json reports every test with its mean and spread', () => {
  const report = JSON.parse(bench(['-m', model('stories260K.gguf'), '-p', '8,16', '-n', '8',
    '-r', '2', '-t', '2', '--json']));
  assert.equal(report.model, 'stories260K.gguf');
  assert.equal(report.threads, 2);
  assert.deepEqual(report.results.map((r) => r.test), ['pp8', 'pp16', 'tg8']);
  for (const r of report.results) {
    assert.ok(r.tokens_per_second > 0, `${r.test} speed`);
    assert.ok(r.stddev >= 0, `${r.test} spread`);
  }
  assert.ok(report.first_token_seconds > 0);
  assert.ok(report.resident_bytes >= report.file_bytes);
});

test('bench --bound accounts for every repetition against the probes around it', () => {
  const report = JSON.parse(bench(['-m', model('stories260K.gguf'), '-p', '4', '-n', '16',
    '-r', '3', '-t', '2', '--bound', '--json']));
  const bound = report.bandwidth_bound;
  assert.equal(bound.repetitions.length, 3);
  const tg = report.results.find((r) => r.test === 'tg16').tokens_per_second;
  let steady = 0;
  let steadySum = 0;
  for (const r of bound.repetitions) {
    assert.ok(r.probe_before_gb_per_second > 0 && r.probe_after_gb_per_second > 0);
    const high = Math.max(r.probe_before_gb_per_second, r.probe_after_gb_per_second);
    const low = Math.min(r.probe_before_gb_per_second, r.probe_after_gb_per_second);
    assert.equal(r.steady, high - low <= 0.1 * high);
    assert.ok(r.fraction > 0);
    if (r.steady) { steady++; steadySum += r.fraction; }
  }
  assert.equal(bound.steady_repetitions, steady);
  if (steady > 0) assert.ok(Math.abs(bound.fraction_mean_steady - steadySum / steady) < 1e-9);
  const mean = bound.repetitions.reduce((s, r) => s + r.fraction, 0) / 3;
  assert.ok(Math.abs(bound.fraction_mean - mean) < 1e-9);
  // The fractions are the measured speed's reads over the probe: their mean can't be far
  // from the mean speed's reads over the probes' range.
  const reads = tg * report.file_bytes / 1e9;
  assert.ok(bound.fraction_max >= reads / bound.probe_max_gb_per_second * 0.5);
});
