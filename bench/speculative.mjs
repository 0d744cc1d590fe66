#!/usr/bin/env node
// Speculative decoding against plain decoding, in one command: `hearth generate --json` for
// each mode in turn, repeated, the median generation rate of each and its ratio to plain.
// Every run's tokens must equal plain decoding's (greedy), or the script says so and fails.
//
//   node bench/speculative.mjs -m MODEL [--draft DRAFT] [-n 128] [-r 5] [-t 2] [--draft-max 8]
//                              [--prompt-file FILE]
//
// Without --prompt-file the prompt is a short story told twice, the second time cut short:
// the continuation repeats text the model was given, where prompt lookup is at its best.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = { n: 128, r: 5, t: 2, draftMax: 8, binary: path.join(here, '..', 'build', 'hearth') };
for (let i = 2; i < process.argv.length; ++i) {
  const a = process.argv[i];
  const next = () => process.argv[++i];
  if (a === '-m') args.model = next();
  else if (a === '--draft') args.draft = next();
  else if (a === '-n') args.n = Number(next());
  else if (a === '-r') args.r = Number(next());
  else if (a === '-t') args.t = Number(next());
  else if (a === '--draft-max') args.draftMax = Number(next());
  else if (a === '--prompt-file') args.promptFile = next();
  else if (a === '--binary') args.binary = next();
  else throw new Error(`unknown argument ${a}`);
}
if (!args.model) throw new Error('give -m MODEL');

const story = 'Once upon a time, there was a little girl named Lily. She loved to play outside in '
  + 'the park with her friends. One day, Lily saw a big red ball under a tree. She ran to the ball '
  + 'and picked it up. "Can I play with you?" asked a little boy named Tom. Lily smiled and said, '
  + '"Yes, let\'s play together!" They played with the ball all day and had lots of fun. When the '
  + 'sun went down, they went home happy.\n\n'
  + 'Once upon a time, there was a little girl named Lily. She loved to play outside in the park '
  + 'with her friends. One day, Lily saw';
const prompt = args.promptFile ? fs.readFileSync(args.promptFile, 'utf8') : story;

const modes = [['off', []], ['lookup', ['--speculate', 'lookup']]];
if (args.draft) modes.push(['draft', ['--draft', args.draft]]);

function generate(extra) {
  const out = execFileSync(args.binary, ['generate', '-m', args.model, '--temp', '0', '-n',
    String(args.n), '-t', String(args.t), '--draft-max', String(args.draftMax), '--json', ...extra,
    prompt], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return JSON.parse(out);
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const rates = Object.fromEntries(modes.map(([m]) => [m, []]));
const last = {};
let identical = true;
for (let rep = 0; rep < args.r; ++rep) {
  for (const [mode, extra] of modes) {
    const r = generate(extra);
    rates[mode].push(r.timings.predicted_per_second);
    last[mode] = r;
    if (mode !== 'off' && JSON.stringify(r.generated_ids) !== JSON.stringify(last.off.generated_ids)) {
      identical = false;
      console.error(`${mode}: the tokens differ from plain decoding (repetition ${rep})`);
    }
  }
}
const base = median(rates.off);
console.log(`${path.basename(args.model)}: ${last.off.generated_ids.length} tokens after a `
  + `${last.off.prompt_ids.length}-token prompt, median of ${args.r}, -t ${args.t}`);
for (const [mode] of modes) {
  const t = last[mode].timings;
  const rate = median(rates[mode]);
  const acceptance = mode === 'off' ? '' : `  drafted ${t.draft_n}, accepted ${t.draft_n_accepted} `
    + `(${(100 * t.draft_acceptance_rate).toFixed(1)}%)`;
  console.log(`  ${mode.padEnd(6)} ${rate.toFixed(1).padStart(9)} tokens/s  `
    + `${(rate / base).toFixed(2)}x  [${rates[mode].map((x) => x.toFixed(0)).join(' ')}]${acceptance}`);
}
if (!identical) process.exit(1);
