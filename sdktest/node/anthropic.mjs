// The official `@anthropic-ai/sdk` npm package against a Switchyard server
// whose model is served by a fake OpenAI upstream: every Messages call is
// translated to chat completions and back.
import Anthropic from "@anthropic-ai/sdk";
import { env, test, eq, ok, rejects, run } from "./check.mjs";

const client = new Anthropic({ baseURL: env.base, apiKey: env.key, maxRetries: 0 });
const tools = [{ name: "lookup_order", description: "Find an order", input_schema: { type: "object", properties: { query: { type: "string" } }, required: ["query"] } }];

test("messages non-stream", async () => {
  const m = await client.messages.create({ model: env.model, max_tokens: 64, system: "Be brief.", messages: [{ role: "user", content: "hi" }] });
  eq(m.type, "message", "type");
  eq(m.role, "assistant", "role");
  eq(m.content[0].type, "text", "block type");
  eq(m.content[0].text, "Hello from fakeai", "text");
  eq(m.stop_reason, "end_turn", "stop_reason");
  eq(m.model, env.model, "model");
  ok(m.usage.input_tokens > 0 && m.usage.output_tokens > 0, "usage");
});

test("messages stream", async () => {
  const s = client.messages.stream({ model: env.model, max_tokens: 64, messages: [{ role: "user", content: "hi" }] });
  let text = "";
  const types = [];
  s.on("text", (t) => { text += t; });
  s.on("streamEvent", (e) => types.push(e.type));
  const m = await s.finalMessage();
  eq(text, "tok0 tok1 tok2 ", "streamed text");
  eq(m.content[0].text, "tok0 tok1 tok2 ", "final message");
  eq(m.stop_reason, "end_turn", "stop_reason");
  eq(types[0], "message_start", "first event");
  eq(types[types.length - 1], "message_stop", "last event");
  ok(types.includes("content_block_delta") && types.includes("message_delta"), "event sequence " + types.join(","));
  ok(m.usage.output_tokens > 0, "usage");
});

test("messages tools round trip", async () => {
  const messages = [{ role: "user", content: "where is order 42" }];
  const m = await client.messages.create({ model: env.model, max_tokens: 64, messages, tools });
  eq(m.stop_reason, "tool_use", "stop_reason");
  const use = m.content.find((b) => b.type === "tool_use");
  ok(use, "tool_use block");
  eq(use.name, "lookup_order", "tool name");
  eq(use.input, { query: "where is order 42" }, "input");
  messages.push({ role: "assistant", content: m.content },
    { role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: "shipped" }] });
  const m2 = await client.messages.create({ model: env.model, max_tokens: 64, messages, tools });
  eq(m2.content[0].text, "Tool said: shipped", "answer from the tool result");
});

test("messages tools stream", async () => {
  const s = client.messages.stream({ model: env.model, max_tokens: 64, messages: [{ role: "user", content: "order 7" }], tools });
  const m = await s.finalMessage();
  const use = m.content.find((b) => b.type === "tool_use");
  ok(use, "tool_use block");
  eq(use.input, { query: "order 7" }, "input assembled from input_json_delta");
  eq(m.stop_reason, "tool_use", "stop_reason");
});

test("count_tokens", async () => {
  const r = await client.messages.countTokens({ model: env.model, messages: [{ role: "user", content: "hello there" }] });
  ok(r.input_tokens > 0, "input_tokens");
});

test("error: bad key", async () => {
  const bad = new Anthropic({ baseURL: env.base, apiKey: "sy-wrong", maxRetries: 0 });
  const e = await rejects(() => bad.messages.create({ model: env.model, max_tokens: 8, messages: [{ role: "user", content: "hi" }] }), Anthropic.AuthenticationError, 401, "bad key");
  eq(e.error.error.type, "authentication_error", "error type");
});

test("error: unknown model", async () => {
  const e = await rejects(() => client.messages.create({ model: "no-such-model", max_tokens: 8, messages: [{ role: "user", content: "hi" }] }), Anthropic.NotFoundError, 404, "unknown model");
  eq(e.error.type, "error", "envelope");
});

test("error: missing max_tokens", async () => {
  const e = await rejects(() => client.messages.create({ model: env.model, messages: [{ role: "user", content: "hi" }] }), Anthropic.BadRequestError, 400, "no max_tokens");
  ok(/max_tokens/.test(e.message), "names the field: " + e.message);
});

await run();
