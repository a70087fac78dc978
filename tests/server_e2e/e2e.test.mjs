// `dsvl serve` through the official openai client. Model-agnostic: every check holds for
// the fake engine and for a real (even randomly initialised synth) model; the few that
// rely on the fake engine's echo are marked FAKE. Run through ./run.sh.
import { test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { BASE, FAKE, MAX_BODY_MB, client, dataUrl, gradient, metric, modelInfo, postJSON,
         redSquare } from "./common.mjs";

const ai = client();
const user = (content) => [{ role: "user", content }];
const greedy = { temperature: 0, max_tokens: 24 };

async function collectStream(params) {
  const stream = await ai.chat.completions.create({ ...params, stream: true,
                                                    stream_options: { include_usage: true } });
  let text = "", finish = null, usage = null, chunks = 0, id = null;
  for await (const c of stream) {
    chunks++;
    id ??= c.id;
    assert.equal(c.id, id, "all chunks share the completion id");
    assert.equal(c.object, "chat.completion.chunk");
    if (c.usage) usage = c.usage;
    if (c.choices.length) {
      text += c.choices[0].delta.content ?? "";
      if (c.choices[0].finish_reason) finish = c.choices[0].finish_reason;
    }
  }
  return { text, finish, usage, chunks };
}

test("health, models and metrics", async () => {
  const h = await fetch(BASE + "/health");
  assert.equal(h.status, 200);
  const models = await ai.models.list();
  assert.equal(models.data.length, 1);
  assert.ok(models.data[0].id.length > 0);
  const m = await fetch(BASE + "/metrics");
  assert.equal(m.status, 200);
  const text = await m.text();
  for (const name of ["dsvl_http_requests_total", "dsvl_request_duration_seconds_bucket",
                      "dsvl_queue_length", "process_resident_memory_bytes"])
    assert.ok(text.includes(name), name);
});

test("plain completion", async () => {
  const r = await ai.chat.completions.create({ model: "dsvl", messages: user("Say hello."), ...greedy });
  assert.equal(r.object, "chat.completion");
  assert.equal(r.choices.length, 1);
  assert.equal(r.choices[0].message.role, "assistant");
  assert.equal(typeof r.choices[0].message.content, "string");
  assert.ok(["stop", "length"].includes(r.choices[0].finish_reason));
  assert.ok(r.usage.prompt_tokens > 0);
  assert.ok(r.usage.completion_tokens <= 24);
  assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
  if (FAKE) assert.equal(r.choices[0].message.content, "You said: Say hello.");
});

test("streamed completion equals the plain one (greedy)", async () => {
  const params = { model: "dsvl", messages: user("Count to five."), ...greedy };
  const plain = await ai.chat.completions.create(params);
  const s = await collectStream(params);
  assert.equal(s.text, plain.choices[0].message.content);
  assert.equal(s.finish, plain.choices[0].finish_reason);
  assert.deepEqual(s.usage.completion_tokens, plain.usage.completion_tokens);
  assert.equal(s.usage.prompt_tokens, plain.usage.prompt_tokens);
  assert.ok(s.chunks >= 3);
});

test("a base64 image counts image tokens", async () => {
  const text = await ai.chat.completions.create({ model: "dsvl", messages: user("Describe."), ...greedy });
  const r = await ai.chat.completions.create({
    model: "dsvl", ...greedy,
    messages: user([{ type: "image_url", image_url: { url: dataUrl(redSquare()) } },
                    { type: "text", text: "Describe." }]),
  });
  const imageTokens = r.usage.prompt_tokens_details.image_tokens;
  assert.ok(imageTokens > 0, "image tokens reported");
  assert.ok(r.usage.prompt_tokens >= text.usage.prompt_tokens + imageTokens - 2);
  if (FAKE) assert.match(r.choices[0].message.content, /^I see 1 image \(png/);
});

test("several interleaved images", async () => {
  const one = await ai.chat.completions.create({
    model: "dsvl", ...greedy,
    messages: user([{ type: "image_url", image_url: { url: dataUrl(redSquare()) } },
                    { type: "text", text: "Compare." }]),
  });
  const two = await ai.chat.completions.create({
    model: "dsvl", ...greedy,
    messages: user([{ type: "text", text: "First:" },
                    { type: "image_url", image_url: { url: dataUrl(redSquare()) } },
                    { type: "text", text: "Second:" },
                    { type: "image_url", image_url: { url: dataUrl(gradient()), detail: "low" } },
                    { type: "text", text: "Compare." }]),
  });
  assert.equal(two.usage.prompt_tokens_details.image_tokens,
               2 * one.usage.prompt_tokens_details.image_tokens);
  if (FAKE) assert.match(two.choices[0].message.content, /^I see 2 images/);
});

test("stop strings cut the answer", async (t) => {
  const params = { model: "dsvl", messages: user("Write a sentence."), temperature: 0, max_tokens: 40 };
  const first = await ai.chat.completions.create({ ...params, logprobs: true });
  const full = first.choices[0].message.content;
  if (full.length < 8) return t.skip("the answer is too short to cut");
  // One stop string inside the answer's text, one across two tokens (the matcher must hold
  // back the end of a token until the next one shows whether the stop string goes on).
  const tokens = first.choices[0].logprobs.content.map((c) => c.token);
  const stops = [full.slice(5, 7)];
  for (let i = 2; i < tokens.length; i++)
    if (tokens[i - 1].length && tokens[i].length) {
      stops.push(tokens[i - 1].slice(-1) + tokens[i].slice(0, 1));
      break;
    }
  assert.equal(stops.length, 2, "two neighbouring tokens with text");
  for (const stop of stops) {
    const cut = full.slice(0, full.indexOf(stop));
    const r = await ai.chat.completions.create({ ...params, stop: [stop, "\u0000never"] });
    assert.equal(r.choices[0].message.content, cut, JSON.stringify(stop));
    assert.equal(r.choices[0].finish_reason, "stop");
    const s = await collectStream({ ...params, stop });
    assert.equal(s.text, cut, JSON.stringify(stop));
    assert.equal(s.finish, "stop");
  }
});

test("the same seed gives the same sample", async () => {
  const params = { model: "dsvl", messages: user("Tell a story."), temperature: 1.0, top_p: 1,
                   max_tokens: 64, seed: 1234 };
  const a = await ai.chat.completions.create(params);
  const b = await ai.chat.completions.create(params);
  assert.equal(a.choices[0].message.content, b.choices[0].message.content);
  // Also streamed, and while other requests share the batch.
  const [s] = await Promise.all([collectStream(params), ai.chat.completions.create(
    { model: "dsvl", messages: user("Something else."), temperature: 1.0, max_tokens: 32 })]);
  assert.equal(s.text, a.choices[0].message.content);
  const c = await ai.chat.completions.create({ ...params, seed: 99 });
  assert.notEqual(a.choices[0].message.content, c.choices[0].message.content, "another seed");
});

test("logprobs and top_logprobs", async () => {
  const r = await ai.chat.completions.create({ model: "dsvl", messages: user("Hi"), ...greedy,
                                               logprobs: true, top_logprobs: 3 });
  const content = r.choices[0].logprobs.content;
  assert.ok(content.length >= 1);
  assert.ok(content.length <= r.usage.completion_tokens);
  for (const t of content) {
    assert.ok(t.logprob <= 0);
    assert.equal(t.top_logprobs.length, 3);
    assert.ok(Array.isArray(t.bytes));
  }
  assert.equal(content.map((t) => t.token).join(""), r.choices[0].message.content);
  const s = await ai.chat.completions.create({ model: "dsvl", messages: user("Hi"), ...greedy,
                                               logprobs: true, stream: true });
  let n = 0;
  for await (const c of s) n += c.choices[0]?.logprobs?.content?.length ?? 0;
  assert.equal(n, content.length);
});

test("json_schema output parses and follows the schema", async () => {
  const schema = { type: "object", properties: { name: { type: "string" }, age: { type: "integer" } },
                   required: ["name", "age"], additionalProperties: false };
  const r = await ai.chat.completions.create({
    model: "dsvl", messages: user("Invent a person."), temperature: 0, max_tokens: 200,
    response_format: { type: "json_schema", json_schema: { name: "person", schema, strict: true } },
  });
  const v = JSON.parse(r.choices[0].message.content);
  assert.equal(typeof v.name, "string");
  assert.ok(Number.isInteger(v.age));
  const o = await ai.chat.completions.create({ model: "dsvl", messages: user("JSON please."),
    temperature: 0, max_tokens: 200, response_format: { type: "json_object" } });
  assert.equal(typeof JSON.parse(o.choices[0].message.content), "object");
});

test("401 without the right key", { skip: !process.env.DSVL_API_KEY && "server has no key" }, async () => {
  for (const key of ["wrong-key", "none"]) {
    await assert.rejects(client(key).chat.completions.create({ model: "dsvl", messages: user("x") }),
                         (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
  }
  const r = await fetch(BASE + "/v1/models");
  assert.equal(r.status, 401);
  assert.equal((await r.json()).error.code, "invalid_api_key");
});

test("400 on bad images", async () => {
  const bad = [
    "data:image/png;base64," + Buffer.from("certainly not a png").toString("base64"),
    "data:image/png;base64,!!!notbase64!!!",
    "data:image/png;base64," + redSquare().subarray(0, 40).toString("base64"),  // truncated
    "data:text/plain;base64,aGVsbG8=",
    "http://127.0.0.1:9/forbidden.png",
    "file:///etc/passwd",
  ];
  for (const url of bad) {
    await assert.rejects(
      ai.chat.completions.create({ model: "dsvl", messages: user([{ type: "image_url", image_url: { url } }]) }),
      (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.error?.message?.length > 0,
      url.slice(0, 40));
  }
});

test("400 on invalid JSON and fields", async () => {
  for (const body of ["{\"messages\": [", "[]", "null", "{\"messages\": []}", "\u00ff\u00fe"]) {
    const r = await postJSON("/v1/chat/completions", body);
    assert.equal(r.status, 400, body);
    assert.equal(r.json.error.type, "invalid_request_error");
    assert.ok("param" in r.json.error && "code" in r.json.error);
  }
  const cases = [{ n: 2 }, { temperature: -1 }, { max_tokens: "many" }, { top_logprobs: 2 },
                 { response_format: { type: "yaml" } }, { stop: 5.5 }];
  for (const extra of cases)
    await assert.rejects(ai.chat.completions.create({ model: "dsvl", messages: user("x"), ...extra }),
                         (e) => e.status === 400, JSON.stringify(extra));
});

test("413 on a body over the limit", async () => {
  const big = "x".repeat((MAX_BODY_MB + 1) * 1024 * 1024);
  const r = await postJSON("/v1/chat/completions", { messages: user(big) });
  assert.equal(r.status, 413);
  assert.equal(r.json.error.code, "body_too_large");
});

test("context overflow is a 400 naming the limit", async () => {
  const info = await modelInfo();
  const ctx = info.meta.n_ctx;
  const long = "hello world ".repeat(ctx);
  await assert.rejects(
    ai.chat.completions.create({ model: "dsvl", messages: user(long), max_tokens: 4 }),
    (e) => e.status === 400 && e.code === "context_length_exceeded" && e.message.includes(String(ctx)));
});

test("a client that stops reading frees the request", async () => {
  const controller = new AbortController();
  const stream = await ai.chat.completions.create(
    { model: "dsvl", messages: user("[[count 100000]] Write a very long story."), max_tokens: 100000,
      stream: true }, { signal: controller.signal });
  let n = 0;
  try {
    for await (const _ of stream) if (++n === 3) { controller.abort(); break; }
  } catch { /* the client reports the abort, or ends the stream quietly */ }
  assert.equal(n, 3);
  for (let i = 0; i < 100 && (await metric("dsvl_requests_active")) > 0; i++)
    await new Promise((r) => setTimeout(r, 50));
  assert.equal(await metric("dsvl_requests_active"), 0);
});

test("tokenize and detokenize", async () => {
  const t = await postJSON("/tokenize", { content: "Hello world", with_pieces: true });
  assert.equal(t.status, 200);
  const ids = t.json.tokens.map((p) => p.id);
  assert.ok(ids.length >= 2);
  const d = await postJSON("/detokenize", { tokens: ids });
  assert.equal(d.json.content.trim(), "Hello world");
});

test("concurrent requests give the same greedy answers as sequential ones", async () => {
  const prompts = ["Name a color.", "Name a fruit.", "What is 2+2?", "Say something nice.",
                   "Describe the sky.", "Name a city."];
  const ask = (p) => ai.chat.completions.create({ model: "dsvl", messages: user(p), ...greedy })
    .then((r) => r.choices[0].message.content);
  const sequential = [];
  for (const p of prompts) sequential.push(await ask(p));
  const concurrent = await Promise.all(prompts.map(ask));
  assert.deepEqual(concurrent, sequential);
});

test("the image cache encodes a repeated image once", { skip: FAKE && "the fake engine has no caches" }, async () => {
  const url = dataUrl(gradient());
  const before = await metric("dsvl_image_cache_hits_total");
  for (let i = 0; i < 2; i++)
    await ai.chat.completions.create({ model: "dsvl", ...greedy,
      messages: user([{ type: "image_url", image_url: { url } }, { type: "text", text: "What?" }]) });
  assert.ok((await metric("dsvl_image_cache_hits_total")) > before);
});

test("a new turn of the same chat reuses the cached prefix", { skip: FAKE && "the fake engine has no caches" }, async () => {
  const messages = user("Tell me about the moon in a few words.");
  const first = await ai.chat.completions.create({ model: "dsvl", messages, ...greedy });
  const next = [...messages, { role: "assistant", content: first.choices[0].message.content },
                { role: "user", content: "And the sun?" }];
  const second = await ai.chat.completions.create({ model: "dsvl", messages: next, ...greedy });
  assert.ok(second.usage.prompt_tokens_details.cached_tokens > 0);
});
