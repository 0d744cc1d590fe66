// generate.js's events as the objects the openai SDK gets from hearth's server
// (src/server/openai_routes.cpp): chat.completion, or chat.completion.chunk objects for a
// stream. Kept in the server's order and field names so a page can swap backends freely:
// a first chunk with the assistant role, one chunk per piece of text, a finishing chunk with
// finish_reason (and `timings`, hearth's extension, unless a usage chunk follows), then, when
// stream_options.include_usage is set, a chunk with empty choices and the usage.
const FINGERPRINT = "hearth-browser";

function base(meta, object) {
  return { id: meta.id, object, created: meta.created, model: meta.model,
           system_fingerprint: FINGERPRINT };
}

export async function completionFrom(events, meta) {
  let content = "";
  for await (const event of events) {
    if (event.type === "text") {
      content += event.text;
      continue;
    }
    return {
      ...base(meta, "chat.completion"),
      choices: [{
        index: 0,
        message: { role: "assistant", content },
        logprobs: null,
        finish_reason: event.finishReason,
      }],
      usage: event.usage,
      timings: event.timings,
    };
  }
  throw new Error("the generation ended without finishing");
}

export async function* chunksFrom(events, meta) {
  const chunk = (choice) => {
    const c = { ...base(meta, "chat.completion.chunk"), choices: [choice] };
    if (meta.includeUsage) c.usage = null;
    return c;
  };
  yield chunk({ index: 0, delta: { role: "assistant", content: "" }, logprobs: null,
                finish_reason: null });
  for await (const event of events) {
    if (event.type === "text") {
      yield chunk({ index: 0, delta: { content: event.text }, logprobs: null, finish_reason: null });
      continue;
    }
    const finishing = chunk({ index: 0, delta: {}, logprobs: null, finish_reason: event.finishReason });
    if (!meta.includeUsage) finishing.timings = event.timings;
    yield finishing;
    if (meta.includeUsage) {
      yield { ...base(meta, "chat.completion.chunk"), choices: [], usage: event.usage,
              timings: event.timings };
    }
    return;
  }
  throw new Error("the generation ended without finishing");
}
