// The shared chat-template expectations (fixtures/templates/expected.json, see
// fixtures/README.md) in the wasm build, as src/engine/chat/template_golden_test.cpp checks
// them natively: every template and conversation renders exactly as Jinja2 did, and the cases
// Jinja2 refused fail with its message.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { before, test } from "node:test";

import { createEngine, fixturesDir } from "./engine.mjs";

const dir = path.join(fixturesDir, "templates");
const expected = JSON.parse(readFileSync(path.join(dir, "expected.json"), "utf8"));
const conversations = new Map(expected.conversations.map((c) => [c.name, c]));

let engine;
before(async () => {
  engine = await createEngine();
});

test("every template renders every conversation as Jinja2 did", () => {
  let total = 0;
  for (const entry of expected.templates) {
    const source = readFileSync(path.join(dir, entry.template), "utf8");
    for (const c of entry.cases) {
      ++total;
      const conv = conversations.get(c.case);
      const request = {
        messages: conv.messages,
        add_generation_prompt: conv.add_generation_prompt,
        bos_token: entry.bos_token,
        eos_token: entry.eos_token,
      };
      if ("tools" in conv) request.tools = conv.tools;
      const render = () => engine.applyTemplate(source, request, { date: [2026, 1, 2] });
      if ("error" in c) {
        assert.throws(render, (e) => e.message.includes(c.error),
                      `${entry.template} / ${c.case} should fail with: ${c.error}`);
      } else {
        assert.equal(render(), c.expected, `${entry.template} / ${c.case}`);
      }
    }
  }
  assert.ok(total > 0);
  console.log(`# ${total} expected.json cases match`);
});

test("a template that does not parse, or a bad request, is an error", () => {
  assert.throws(() => engine.applyTemplate("{% for %}", { messages: [] }), /apply template: .+/);
  assert.throws(() => engine.applyTemplate("{{ messages }}", { tools: [] }),
                /must be a JSON object with "messages"/);
});
