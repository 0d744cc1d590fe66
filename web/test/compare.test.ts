// The Compare page's prompt splitting (ctest web_unit_compare: bundled by esbuild for node).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { splitPrompts } from '../src/compare';

test('one prompt stays whole, blank text gives none', () => {
  assert.deepEqual(splitPrompts('  Hello\nthere  '), ['Hello\nthere']);
  assert.deepEqual(splitPrompts('  \n '), []);
});

test('a line holding only --- separates prompts; dashes inside a line do not', () => {
  assert.deepEqual(splitPrompts('one\n---\ntwo -- --- x\n  ---  \nthree\n---\n'),
    ['one', 'two -- --- x', 'three']);
});
