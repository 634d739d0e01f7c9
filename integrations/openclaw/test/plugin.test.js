// Unit tests of the clawtrail OpenClaw plugin: a fake OpenClaw `api`, the
// hook payloads a real OpenClaw 2026.9.6 sent (docs/integrations/openclaw.md,
// /work/shared/research/openclaw-run.md), and a small HTTP server standing in
// for clawtrail. Run: node --test integrations/openclaw/test/
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import zlib from "node:zlib";

import plugin, { cutUtf8, idFactory, jsonSafe, register, resolveConfig } from "../index.js";
import { fakeApi, fakeServer, setup, sleep, spooled, tmp, until } from "./helpers.js";

const SECRET = "sk-live-THIS-MUST-NOT-LEAK-0123456789";

// The payloads a real OpenClaw 2026.9.6 passed to a probe plugin (trimmed).
const abort = new AbortController();
const trace = { traceId: "be30b3c1c5574f1842a918b3032e784a", spanId: "d1fe9ab2bec01601", parentSpanId: "1a450be7cd16a94f" };
const real = {
  message_received: [
    { from: "", content: "list files via gateway", messageId: "probe-gw-1", senderId: "cli", sessionKey: "agent:main:gwprobe", metadata: { provider: "webchat", surface: "webchat", token: SECRET } },
    { channelId: "webchat", conversationId: "agent:main:gwprobe", sessionKey: "agent:main:gwprobe", messageId: "probe-gw-1", senderId: "cli" },
  ],
  session_start: [
    { sessionId: "c5df0444-0000-4000-8000-000000000001", sessionKey: "agent:main:gwprobe" },
    { sessionId: "c5df0444-0000-4000-8000-000000000001", sessionKey: "agent:main:gwprobe", agentId: "main" },
  ],
  llm_input: [
    {
      runId: "probe-gw-1",
      sessionId: "c5df0444-0000-4000-8000-000000000001",
      provider: "mock",
      model: "mock-1",
      systemPrompt: "<!-- openclaw:attempt:STABLE -->\nYou are a personal assistant" + "x".repeat(47000),
      prompt: "[Thu 2026-11-26 16:56 UTC] list files via gateway",
      historyMessages: [{ role: "custom", customType: "openclaw.runtime-context", content: "secret history" }],
      imagesCount: 0,
      tools: Array.from({ length: 46 }, (_, i) => ({ name: `tool${i}`, parameters: { type: "object" } })),
    },
    { runId: "probe-gw-1", trace, agentId: "main", sessionKey: "agent:main:gwprobe", workspaceDir: "/w", trigger: "user", channel: "webchat", senderId: "cli" },
  ],
  before_tool_call: [
    { toolName: "exec", params: { command: "echo hello-from-mock" }, runId: "probe-gw-1", toolCallId: "call_mock_1" },
    {
      toolName: "exec",
      agentId: "main",
      sessionKey: "agent:main:gwprobe",
      sessionId: "c5df0444-0000-4000-8000-000000000001",
      runId: "probe-gw-1",
      abortSignal: abort.signal,
      trace,
      toolCallId: "call_mock_1",
      requester: { channel: "webchat", senderId: "cli", senderIsOwner: false },
      getSessionExtension: () => ({ secret: SECRET }),
    },
  ],
  after_tool_call: [
    {
      toolName: "exec",
      params: { command: "echo hello-from-mock" },
      toolCallId: "call_mock_1",
      result: { content: [{ type: "text", text: "hello-from-mock" }], details: { status: "completed", exitCode: 0, durationMs: 236, cwd: "/w", aggregated: "hello-from-mock" } },
      durationMs: 713,
    },
    { toolName: "exec", agentId: "main", sessionKey: "agent:main:gwprobe", runId: "probe-gw-1", toolCallId: "call_mock_1" },
  ],
  llm_output: [
    {
      runId: "probe-gw-1",
      provider: "mock",
      model: "mock-1",
      resolvedRef: "mock/mock-1",
      harnessId: "openclaw",
      assistantTexts: ["MOCK-FINAL: tool said: hello-from-mock"],
      lastAssistant: { role: "assistant" },
      usage: { input: 20, output: 10, cacheRead: 3, cacheWrite: 0, total: 30 },
    },
    { runId: "probe-gw-1", trace, agentId: "main", sessionKey: "agent:main:gwprobe", channel: "webchat" },
  ],
  agent_end: [
    { messages: [{ role: "user", content: "private" }, {}, {}, {}], success: true, durationMs: 1474, runId: "probe-gw-1" },
    { runId: "probe-gw-1", agentId: "main", sessionKey: "agent:main:gwprobe", modelProviderId: "mock", modelId: "mock-1", channel: "webchat", trigger: "user" },
  ],
  session_end: [
    { sessionId: "c5df0444-0000-4000-8000-000000000001", sessionKey: "agent:main:gwprobe", messageCount: 0, reason: "new" },
    { sessionId: "c5df0444-0000-4000-8000-000000000001", sessionKey: "agent:main:gwprobe", agentId: "main" },
  ],
};

test("registers the hooks and the approval subscription, and returns nothing from any hook", () => {
  const { api, rec } = setup();
  try {
    for (const h of ["message_received", "llm_input", "llm_output", "before_tool_call", "after_tool_call", "agent_end", "session_start", "session_end", "gateway_start", "gateway_stop"]) {
      assert.equal(typeof api.hooks[h], "function", h);
    }
    assert.equal(api.subs.length, 1);
    assert.deepEqual(api.subs[0].streams, ["approval"]);
    for (const [h, [e, c]] of Object.entries(real)) assert.equal(api.hooks[h](e, c), undefined, h);
  } finally {
    rec.close();
  }
});

test("maps each hook from real payloads into events", async () => {
  const srv = await fakeServer();
  const { api, rec } = setup({}, srv.url);
  try {
    for (const h of ["message_received", "session_start", "llm_input", "before_tool_call", "after_tool_call", "llm_output", "agent_end", "session_end"]) {
      api.hooks[h](...real[h]);
    }
    await until("8 events", () => srv.events.length === 8);
    const [msg, start, prompt, started, done, output, end, sessEnd] = srv.events;
    const sid = "c5df0444-0000-4000-8000-000000000001";

    assert.equal(msg.type, "prompt");
    assert.equal(msg.content, "list files via gateway");
    assert.equal(msg.user_id, "cli");
    assert.equal(msg.channel, "webchat");
    // The first message of a new session key comes before its session id is known.
    assert.equal(msg.session_id, "agent:main:gwprobe");
    assert.equal(msg.attributes.session_key, "agent:main:gwprobe");
    assert.equal(msg.attributes.message_id, "probe-gw-1");
    assert.equal(msg.attributes.provider, "webchat");

    assert.equal(start.type, "session_start");
    assert.equal(start.session_id, sid);

    assert.equal(prompt.type, "prompt");
    assert.equal(prompt.content, "[Thu 2026-11-26 16:56 UTC] list files via gateway");
    assert.equal(prompt.session_id, sid);
    assert.equal(prompt.model, "mock-1");
    assert.equal(prompt.agent_id, "main");
    assert.equal(prompt.trace_id, trace.traceId);
    assert.equal(prompt.attributes.tools_count, 46);
    assert.equal(prompt.attributes.history_messages, 1);
    assert.ok(prompt.attributes.system_prompt_bytes > 47000);
    assert.match(prompt.attributes.system_prompt_sha256, /^[0-9a-f]{64}$/);
    const promptLine = JSON.stringify(prompt);
    assert.ok(!promptLine.includes("personal assistant"), "system prompt copied");
    assert.ok(!promptLine.includes("secret history"), "history copied");
    assert.ok(!promptLine.includes("tool45"), "tool catalog copied");
    assert.ok(promptLine.length < 2000);

    assert.equal(started.type, "tool_call");
    assert.equal(started.status, "started");
    assert.equal(started.tool, "exec");
    assert.deepEqual(started.arguments, { command: "echo hello-from-mock" });
    assert.equal(started.span_id, "call_mock_1");
    assert.equal(started.parent_id, trace.spanId);
    assert.equal(started.user_id, "cli");
    assert.equal(started.attributes.sender_is_owner, false);

    assert.equal(done.type, "tool_call");
    assert.equal(done.status, "success");
    assert.equal(done.result, "hello-from-mock");
    assert.equal(done.duration_ms, 713);
    assert.equal(done.span_id, "call_mock_1");
    assert.equal(done.user_id, "cli", "after_tool_call inherits the requester of before_tool_call");
    assert.equal(done.trace_id, trace.traceId);
    assert.equal(done.attributes.tool_details.exitCode, 0);
    assert.equal(done.attributes.tool_details.aggregated, undefined);

    assert.equal(output.type, "output");
    assert.equal(output.content, "MOCK-FINAL: tool said: hello-from-mock");
    assert.deepEqual(output.usage, { input_tokens: 20, output_tokens: 10, cache_read_tokens: 3, cache_write_tokens: 0, total_tokens: 30 });
    assert.equal(output.tokens_used, 30);
    assert.equal(output.session_id, sid, "llm_output without a sessionId in ctx uses the key's latest session id");

    assert.equal(end.type, "agent_end");
    assert.equal(end.status, "success");
    assert.equal(end.duration_ms, 1474);
    assert.equal(end.attributes.message_count, 4);
    assert.ok(!JSON.stringify(end).includes("private"));

    assert.equal(sessEnd.type, "session_end");
    assert.equal(sessEnd.reason, "new");
    assert.equal(sessEnd.attributes.message_count, 0);

    for (const e of srv.events) {
      assert.match(e.id, /^oc_[0-9a-z]+$/);
      assert.ok(!Number.isNaN(Date.parse(e.timestamp)));
      assert.ok(!JSON.stringify(e).includes(SECRET));
      assert.ok(!JSON.stringify(e).includes("aborted"));
    }
    assert.equal(new Set(srv.events.map((e) => e.id)).size, 8);
    assert.deepEqual(srv.auth[0], "Bearer ingest-key");
  } finally {
    rec.close();
    await srv.close();
  }
});

test("gateway_start never copies its context (the config, with secrets)", async () => {
  const { api, rec, spoolDir } = setup();
  try {
    const config = { gateway: { auth: { token: SECRET } }, models: { providers: { mock: { apiKey: SECRET } } } };
    api.hooks.gateway_start({ port: 18790 }, { port: 18790, config, workspaceDir: "/w", getCron: () => config });
    const [ev] = spooled(spoolDir);
    assert.equal(ev.type, "gateway_start");
    assert.equal(ev.attributes.port, 18790);
    assert.ok(!JSON.stringify(ev).includes(SECRET));
  } finally {
    rec.close();
  }
});

test("large values are cut and marked, never silently", () => {
  const { api, rec, spoolDir } = setup({ maxFieldBytes: 256 });
  try {
    const big = "é".repeat(600); // 1200 bytes
    api.hooks.before_tool_call({ toolName: "write", params: { path: "/a", content: big }, toolCallId: "t1" }, { toolName: "write", sessionId: "s1" });
    api.hooks.after_tool_call({ toolName: "write", params: { path: "/a" }, toolCallId: "t1", result: { content: [{ type: "text", text: big }] } }, { toolName: "write", sessionId: "s1" });
    api.hooks.llm_output({ assistantTexts: [big], model: "m" }, { sessionId: "s1" });
    const [a, b, c] = spooled(spoolDir);
    // Cut while copied: the whole is not walked, its size is a lower bound (">= N").
    assert.match(a.attributes.truncated.arguments, /^>= \d+$/);
    assert.ok(Number(a.attributes.truncated.arguments.slice(3)) > 1200);
    assert.equal(typeof a.arguments._truncated, "string");
    assert.ok(Buffer.byteLength(a.arguments._truncated) <= 256);
    assert.equal(b.attributes.truncated.result, 1200);
    assert.ok(Buffer.byteLength(b.result) <= 256);
    assert.equal(c.attributes.truncated.content, 1200);
    assert.equal(c.content, "é".repeat(128));
    assert.equal(cutUtf8("aé", 2), "a"); // never half a character
  } finally {
    rec.close();
  }
});

test("capture options leave content out and say so", () => {
  const { api, rec, spoolDir } = setup({ capture: { prompts: false, outputs: false, toolArguments: false, toolResults: false } });
  try {
    api.hooks.llm_input(...real.llm_input);
    api.hooks.after_tool_call(...real.after_tool_call);
    api.hooks.llm_output(...real.llm_output);
    const [p, t, o] = spooled(spoolDir);
    assert.equal(p.content, undefined);
    assert.deepEqual(p.attributes.omitted, ["content"]);
    assert.equal(t.arguments, undefined);
    assert.equal(t.result, undefined);
    assert.deepEqual(t.attributes.omitted, ["arguments", "result"]);
    assert.equal(o.content, undefined);
    assert.ok(!JSON.stringify([p, t, o]).includes("hello-from-mock"));
  } finally {
    rec.close();
  }
});

test("the spool keeps events while the server is down, then delivers them in order, once", async () => {
  // Port of a server that is not there yet.
  const probe = http.createServer();
  await new Promise((r) => probe.listen(0, "127.0.0.1", r));
  const port = probe.address().port;
  await new Promise((r) => probe.close(r));
  const { api, rec, spoolDir } = setup({}, `http://127.0.0.1:${port}`);
  try {
    for (let i = 0; i < 20; i++) api.hooks.message_received({ content: `m${i}`, senderId: "u" }, { channelId: "c", sessionKey: "k" });
    await until("a failed attempt", () => rec.stats().retries > 0);
    assert.equal(spooled(spoolDir).length, 20);
    assert.ok(api.logs.some(([l, m]) => l === "warn" && /unreachable/.test(m)));
    const srv = await fakeServer();
    srv.server.close();
    await new Promise((r) => srv.server.listen(port, "127.0.0.1", r));
    try {
      rec.sender.kick(true); // skip the backoff wait
      await until("delivery", () => srv.events.length === 20, 10000);
      assert.deepEqual(srv.events.map((e) => e.content), Array.from({ length: 20 }, (_, i) => `m${i}`));
      await until("spool emptied", () => !rec.stats().pending);
      assert.equal(spooled(spoolDir).length, 0);
    } finally {
      await srv.close();
    }
  } finally {
    rec.close();
  }
});

test("a batch whose answer was lost is resent with the same ids (stored once)", async () => {
  let first = true;
  const srv = await fakeServer((lines, s) => {
    if (!first) return null;
    first = false;
    for (const e of lines) s.events.push(e); // committed, but the answer is a 503
    return { status: 503, headers: { "retry-after": "0" }, body: { error: { code: "unavailable", message: "try again" } } };
  });
  const { api, rec } = setup({}, srv.url);
  try {
    api.hooks.message_received({ content: "once" }, { channelId: "c" });
    api.hooks.message_received({ content: "twice" }, { channelId: "c" });
    await until("resend", () => srv.requests.length >= 2 && !rec.stats().pending);
    assert.deepEqual(srv.requests[0].map((e) => e.id), srv.requests[1].map((e) => e.id));
    assert.equal(srv.events.length, 2);
    assert.equal(rec.stats().duplicates, 2);
  } finally {
    rec.close();
    await srv.close();
  }
});

test("a 400 naming a line sets that line aside and delivers the rest", async () => {
  const srv = await fakeServer((lines) =>
    lines.some((e) => e.content === "bad")
      ? { status: 400, body: { error: { code: "invalid", message: "bad events", details: [{ line: lines.findIndex((e) => e.content === "bad") + 1, field: "content", message: "no" }] } } }
      : null,
  );
  const { api, rec, spoolDir } = setup({}, srv.url);
  try {
    for (const c of ["a", "bad", "b"]) api.hooks.message_received({ content: c }, { channelId: "c" });
    await until("delivery", () => srv.events.length === 2 && !rec.stats().pending);
    assert.deepEqual(srv.events.map((e) => e.content), ["a", "b"]);
    const rejected = fs.readFileSync(path.join(spoolDir, "rejected.ndjson"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(rejected.map((e) => e.content), ["bad"]);
    assert.equal(rec.stats().rejected, 1);
    assert.ok(api.logs.some(([, m]) => /refused 1 events/.test(m)));
  } finally {
    rec.close();
    await srv.close();
  }
});

test("401 keeps the events, reports once, and delivers after the key is fixed", async () => {
  let ok = false;
  const srv = await fakeServer(() => (ok ? null : { status: 401, body: { error: { code: "unauthorized", message: "bad key" } } }));
  const { api, rec, spoolDir } = setup({}, srv.url);
  try {
    api.hooks.message_received({ content: "kept" }, { channelId: "c" });
    await until("several attempts", () => srv.requests.length >= 3, 10000);
    assert.equal(spooled(spoolDir).length, 1);
    const warns = api.logs.filter(([l, m]) => l === "warn" && /401/.test(m));
    assert.equal(warns.length, 1, "reported at most once per interval");
    assert.match(warns[0][1], /token/);
    ok = true;
    rec.sender.kick(true);
    await until("delivery", () => srv.events.length === 1, 10000);
  } finally {
    rec.close();
    await srv.close();
  }
});

test("a spool left by a process that is gone is adopted and sent first", async () => {
  const srv = await fakeServer();
  const spoolDir = tmp();
  const line = (id, content) => JSON.stringify({ id, type: "prompt", content }) + "\n";
  // pid 2^22+1 is above Linux's pid_max default: no such process.
  fs.writeFileSync(path.join(spoolDir, "seg-4194305-abcd-000000001.ndjson"), line("oc_old1", "old 1") + line("oc_old2", "old 2") + '{"torn');
  const api = fakeApi({ url: srv.url, token: "k", spoolDir, flushIntervalMs: 20 });
  const rec = register(api);
  try {
    api.hooks.message_received({ content: "new" }, { channelId: "c" });
    await until("delivery", () => srv.events.length === 3 && !rec.stats().pending);
    assert.deepEqual(srv.events.map((e) => e.content), ["old 1", "old 2", "new"]);
    assert.equal(rec.stats().adopted, 1);
    assert.equal(rec.stats().damaged, 1, "the torn line is counted");
    assert.deepEqual(fs.readdirSync(spoolDir).filter((n) => n.startsWith("seg-")), []);
  } finally {
    rec.close();
    await srv.close();
  }
});

test("a full spool drops new events, counts them and says so in the trail", async () => {
  const { api, rec, spoolDir } = setup({ maxSpoolBytes: 1 << 20 });
  try {
    // Other files in the directory count too: leave 64 KiB of the 1 MiB minimum.
    fs.writeFileSync(path.join(spoolDir, "padding"), Buffer.alloc((1 << 20) - 65536));
    rec.spool.rescan();
    const big = "x".repeat(31000); // two fit; then no room even for the count of drops
    for (let i = 0; i < 5; i++) api.hooks.message_received({ content: big }, { channelId: "c" });
    assert.equal(rec.stats().dropped, 3);
    assert.ok(api.logs.some(([, m]) => /full/.test(m)));
    // Room again (delivered): the next event is preceded by a count of the drops.
    for (const n of fs.readdirSync(spoolDir)) fs.rmSync(path.join(spoolDir, n));
    rec.spool.sealed = [];
    rec.spool.activeBytes = 0;
    rec.spool.closeActive();
    rec.spool.total = 0;
    api.hooks.message_received({ content: "after" }, { channelId: "c" });
    const evs = spooled(spoolDir);
    assert.equal(evs[0].type, "clawtrail.dropped");
    assert.equal(evs[0].attributes.dropped, 3);
    assert.equal(evs[1].content, "after");
  } finally {
    rec.close();
  }
});

test("never throws into OpenClaw, whatever it is given", () => {
  const { api, rec } = setup();
  try {
    const circular = { a: 1 };
    circular.self = circular;
    const hostile = {};
    Object.defineProperty(hostile, "toolName", { get() { throw new Error("boom"); }, enumerable: true });
    const inputs = [undefined, null, 42, "str", circular, hostile, { params: circular, result: { big: 10n, fn() {}, sym: Symbol("s"), buf: Buffer.alloc(4), d: new Date(0), e: new Error("x"), m: new Map([["k", "v"]]) } }, { content: "\ud800lone", assistantTexts: ["\udfff"] }];
    for (const h of Object.keys(api.hooks)) {
      for (const e of inputs) for (const c of inputs) assert.doesNotThrow(() => api.hooks[h](e, c), h);
    }
    assert.doesNotThrow(() => api.subs[0].handle(undefined));
    assert.doesNotThrow(() => api.subs[0].handle({ data: circular }));
    assert.deepEqual(jsonSafe({ s: "a\ud800" }), { s: "a\ufffd" });
  } finally {
    rec.close();
  }
});

test("an unusable spool directory does not break the agent", async () => {
  const file = path.join(tmp(), "not-a-dir");
  fs.writeFileSync(file, "");
  const srv = await fakeServer();
  const api = fakeApi({ url: srv.url, spoolDir: path.join(file, "spool"), flushIntervalMs: 20 });
  const rec = register(api);
  try {
    assert.doesNotThrow(() => api.hooks.message_received({ content: "in memory" }, { channelId: "c" }));
    await until("delivery from memory", () => srv.events.length === 1);
    assert.ok(api.logs.some(([l, m]) => l === "warn" && /spool/.test(m)));
  } finally {
    rec.close();
    await srv.close();
  }
});

test("exec approvals from the agent event stream become approval events", () => {
  const { api, rec, spoolDir } = setup();
  try {
    api.hooks.before_tool_call({ toolName: "exec", params: { command: "rm -rf /tmp/x" }, toolCallId: "call_9" }, { toolName: "exec", sessionId: "s9", sessionKey: "agent:main:x", requester: { senderId: "alice", channel: "telegram" } });
    const base = { runId: "r9", sessionKey: "agent:main:x", agentId: "main", stream: "approval", ts: 1 };
    api.subs[0].handle({ ...base, seq: 1, data: { phase: "requested", kind: "exec", status: "pending", title: "Command approval requested", toolCallId: "call_9", approvalId: "ap-1", approvalSlug: "ab12", command: "rm -rf /tmp/x", host: "gateway" } });
    api.subs[0].handle({ ...base, seq: 2, data: { phase: "resolved", kind: "exec", status: "denied", title: "Command approval resolved", toolCallId: "call_9", message: "Exec denied (gateway id=ap-1, user-denied)" } });
    api.hooks.after_tool_call({ toolName: "exec", params: { command: "rm -rf /tmp/x" }, toolCallId: "call_9", result: { content: [{ type: "text", text: "Approval required" }], details: { status: "approval-pending", approvalId: "ap-1" } } }, { toolName: "exec", sessionKey: "agent:main:x" });
    const [, req, res, tool] = spooled(spoolDir);
    assert.equal(req.type, "approval");
    assert.equal(req.status, "pending");
    assert.equal(req.tool, "exec");
    assert.deepEqual(req.arguments, { command: "rm -rf /tmp/x", host: "gateway" });
    assert.equal(req.attributes.approval_id, "ap-1");
    assert.equal(req.parent_id, "call_9");
    assert.equal(req.session_id, "s9");
    assert.equal(req.user_id, "alice");
    assert.equal(res.type, "approval");
    assert.equal(res.decision, "denied");
    assert.equal(res.status, "denied");
    assert.match(res.reason, /user-denied/);
    assert.equal(tool.status, "pending");
  } finally {
    rec.close();
  }
});

test("ids are unique and increase in capture order", () => {
  const next = idFactory();
  const ids = Array.from({ length: 5000 }, next);
  assert.equal(new Set(ids).size, ids.length);
  assert.deepEqual([...ids].sort(), ids);
  for (const id of ids.slice(0, 3)) assert.match(id, /^[A-Za-z0-9_.:@-]{1,128}$/);
});

test("config: defaults, env and the state dir", () => {
  const c = resolveConfig({}, { CLAWTRAIL_TOKEN: "t", CLAWTRAIL_URL: "http://x:1/" }, "/state");
  assert.equal(c.url, "http://x:1");
  assert.equal(c.token, "t");
  assert.equal(c.spoolDir, path.join("/state", "clawtrail", "spool"));
  assert.deepEqual(c.capture, { prompts: true, outputs: true, toolArguments: true, toolResults: true, modelCalls: true });
  assert.equal(c.maxFieldBytes, 65536);
  const d = resolveConfig({ url: "http://y", token: "cfg", capture: { prompts: false } }, { CLAWTRAIL_TOKEN: "env" }, undefined);
  assert.equal(d.token, "cfg");
  assert.equal(d.capture.prompts, false);
  assert.match(d.spoolDir, /openclaw-spool$/);
  // The manifest's schema and the defaults agree.
  const manifest = JSON.parse(fs.readFileSync(new URL("../openclaw.plugin.json", import.meta.url), "utf8"));
  assert.equal(manifest.id, plugin.id);
  assert.equal(manifest.configSchema.properties.url.default, resolveConfig({}, {}).url);
  assert.equal(manifest.configSchema.properties.maxFieldBytes.default, resolveConfig({}, {}).maxFieldBytes);
});
