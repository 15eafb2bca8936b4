// The official `openai` npm package against a Switchyard server whose model
// is served by a fake OpenAI upstream (fakeai, AutoTools on).
import OpenAI from "openai";
import { env, test, eq, ok, rejects, run } from "./check.mjs";

const client = new OpenAI({ baseURL: env.base + "/v1", apiKey: env.key, maxRetries: 0 });
const tools = [{
  type: "function",
  function: { name: "lookup_order", description: "Find an order", parameters: { type: "object", properties: { query: { type: "string" } }, required: ["query"] } },
}];

test("chat non-stream", async () => {
  const r = await client.chat.completions.create({ model: env.model, messages: [{ role: "user", content: "hi" }] });
  eq(r.choices[0].message.content, "Hello from fakeai", "content");
  eq(r.model, env.model, "model");
  ok(r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0, "usage");
});

test("chat stream", async () => {
  const s = await client.chat.completions.create({ model: env.model, stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "hi" }] });
  let text = "", usage = null;
  for await (const c of s) {
    if (c.choices[0]) text += c.choices[0].delta.content || "";
    if (c.usage) usage = c.usage;
  }
  eq(text, "tok0 tok1 tok2 ", "streamed text");
  ok(usage && usage.completion_tokens > 0, "usage chunk");
});

test("chat tools round trip", async () => {
  const messages = [{ role: "user", content: "where is order 42" }];
  const r = await client.chat.completions.create({ model: env.model, messages, tools });
  eq(r.choices[0].finish_reason, "tool_calls", "finish_reason");
  const call = r.choices[0].message.tool_calls[0];
  eq(call.function.name, "lookup_order", "tool name");
  eq(JSON.parse(call.function.arguments), { query: "where is order 42" }, "arguments");
  messages.push(r.choices[0].message, { role: "tool", tool_call_id: call.id, content: "shipped" });
  const r2 = await client.chat.completions.create({ model: env.model, messages, tools });
  eq(r2.choices[0].message.content, "Tool said: shipped", "answer from the tool result");
});

test("chat tools stream (runTools helper)", async () => {
  const runner = client.chat.completions.runTools({
    model: env.model, stream: true,
    messages: [{ role: "user", content: "order 7" }],
    tools: [{ type: "function", function: { name: "lookup_order", parameters: { type: "object", properties: { query: { type: "string" } } },
      function: (args) => "found " + args.query, parse: JSON.parse } }],
  });
  const final = await runner.finalContent();
  eq(final, "Tool said: found order 7", "agent loop answer");
});

test("embeddings", async () => {
  const r = await client.embeddings.create({ model: env.model, input: ["a", "b"] });
  eq(r.data.length, 2, "vectors");
  ok(r.data[0].embedding.length > 0, "dimensions");
});

test("responses non-stream", async () => {
  const r = await client.responses.create({ model: env.model, input: "hi" });
  eq(r.output_text, "Hello from fakeai", "output_text");
  eq(r.status, "completed", "status");
  const again = await client.responses.retrieve(r.id);
  eq(again.id, r.id, "stored");
});

test("responses stream", async () => {
  const s = await client.responses.create({ model: env.model, input: "hi", stream: true });
  let text = "", completed = null;
  for await (const ev of s) {
    if (ev.type === "response.output_text.delta") text += ev.delta;
    if (ev.type === "response.completed") completed = ev.response;
  }
  eq(text, "tok0 tok1 tok2 ", "streamed text");
  ok(completed && completed.usage.output_tokens > 0, "completed with usage");
});

test("responses tools with previous_response_id", async () => {
  const r = await client.responses.create({ model: env.model, input: "order 9",
    tools: [{ type: "function", name: "lookup_order", parameters: { type: "object", properties: { query: { type: "string" } } } }] });
  const call = r.output.find((o) => o.type === "function_call");
  ok(call, "function_call item");
  eq(call.name, "lookup_order", "tool name");
  const r2 = await client.responses.create({ model: env.model, previous_response_id: r.id,
    input: [{ type: "function_call_output", call_id: call.call_id, output: "delivered" }] });
  eq(r2.output_text, "Tool said: delivered", "answer from the tool output");
});

test("error: bad key", async () => {
  const bad = new OpenAI({ baseURL: env.base + "/v1", apiKey: "sy-wrong", maxRetries: 0 });
  await rejects(() => bad.chat.completions.create({ model: env.model, messages: [{ role: "user", content: "hi" }] }), OpenAI.AuthenticationError, 401, "bad key");
});

test("error: unknown model", async () => {
  const e = await rejects(() => client.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "hi" }] }), OpenAI.NotFoundError, 404, "unknown model");
  eq(e.code, "model_not_found", "code");
});

test("error: bad request names the field", async () => {
  const e = await rejects(() => client.chat.completions.create({ model: env.model, messages: "nope" }), OpenAI.BadRequestError, 400, "bad messages");
  eq(e.param, "messages", "param");
});

await run();
