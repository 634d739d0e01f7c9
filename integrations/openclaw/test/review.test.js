// Regression tests for faults found in review: each failed before its fix.
// Run: node --test integrations/openclaw/test/
import assert from "node:assert/strict";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import zlib from "node:zlib";

import { register, resolveConfig } from "../index.js";
import { fakeApi, fakeServer, setup, sleep, spooled, tmp, until } from "./helpers.js";

const msg = (api, content) => api.hooks.message_received({ content, senderId: "u" }, { channelId: "c", sessionKey: "k" });

test("Retry-After and the backoff are kept: the flush timer does not cut the wait short", async () => {
  let busy = true;
  const srv = await fakeServer(() => (busy ? { status: 429, headers: { "retry-after": "1" }, body: { error: { code: "rate_limited", message: "slow down" } } } : null));
  const { api, rec } = setup({ flushIntervalMs: 10 }, srv.url);
  try {
    msg(api, "m1");
    await until("a first attempt", () => srv.requests.length >= 1);
    await sleep(600); // 60 ticks of the timer, all within Retry-After
    assert.equal(srv.requests.length, 1, "retried before Retry-After elapsed");
    busy = false;
    await until("delivery after Retry-After", () => srv.events.length === 1, 3000);
    assert.ok(srv.times[1] - srv.times[0] >= 950, `resent after ${srv.times[1] - srv.times[0]} ms`);
  } finally {
    rec.close();
    await srv.close();
  }
});

test("an odd error body from the server (or a proxy) never becomes an unhandled rejection", async () => {
  // OpenClaw exits the process on an unhandled rejection that is not an AbortError.
  const unhandled = [];
  const onUnhandled = (e) => unhandled.push(e);
  process.on("unhandledRejection", onUnhandled);
  const bodies = [
    { status: 400, raw: JSON.stringify({ error: { code: "invalid", details: { line: 1 } } }) },
    { status: 400, raw: JSON.stringify({ error: { code: "invalid", message: "x", details: [null, 7, "s"] } }) },
    { status: 409, raw: JSON.stringify({ error: "conflict" }) },
    { status: 503, raw: JSON.stringify({ error: { details: [null] } }) },
    { status: 400, raw: "null" },
  ];
  let i = 0;
  const srv = await fakeServer(() => (i < bodies.length ? bodies[i++] : null));
  const { api, rec } = setup({}, srv.url);
  try {
    msg(api, "kept");
    for (let n = 0; n < 6 && srv.events.length === 0; n++) {
      rec.sender.kick(true);
      await sleep(150);
    }
    await sleep(50);
    assert.deepEqual(unhandled.map(String), []);
  } finally {
    process.off("unhandledRejection", onUnhandled);
    rec.close();
    await srv.close();
  }
});

test("a failed spool write does not strand the events already in the open file", async () => {
  const srv = await fakeServer();
  const { api, rec, spoolDir } = setup({ flushIntervalMs: 3600000 }, srv.url);
  const realWrite = fs.writeSync;
  try {
    msg(api, "a");
    fs.writeSync = () => {
      const e = new Error("ENOSPC: no space left on device, write");
      e.code = "ENOSPC";
      throw e;
    };
    msg(api, "b"); // kept in memory
    fs.writeSync = realWrite;
    msg(api, "c");
    assert.equal(await rec.flush(3000), true, "everything delivered");
    assert.deepEqual(srv.events.map((e) => e.content).sort(), ["a", "b", "c"]);
    assert.deepEqual(fs.readdirSync(spoolDir).filter((n) => n.startsWith("seg-")), []);
  } finally {
    fs.writeSync = realWrite;
    rec.close();
    await srv.close();
  }
});

test("a short write leaves no event glued to a torn one", async () => {
  const srv = await fakeServer();
  const { api, rec } = setup({ flushIntervalMs: 3600000 }, srv.url);
  const realWrite = fs.writeSync;
  try {
    msg(api, "a");
    // The disk fills mid-line: write(2) takes part of the line, then refuses.
    let calls = 0;
    fs.writeSync = (fd, data, ...rest) => {
      calls++;
      if (calls === 1) return realWrite(fd, String(data).slice(0, 10), ...rest);
      const e = new Error("ENOSPC: no space left on device, write");
      e.code = "ENOSPC";
      throw e;
    };
    msg(api, "b");
    fs.writeSync = realWrite;
    msg(api, "c");
    await rec.flush(3000);
    const got = srv.events.map((e) => e.content).sort();
    assert.deepEqual(got, ["a", "b", "c"]);
    assert.equal(rec.stats().rejected, 0);
  } finally {
    fs.writeSync = realWrite;
    rec.close();
    await srv.close();
  }
});

test("a dead process's spool adopted while a batch is in flight is still sent", async () => {
  let down = true;
  const srv = await fakeServer(() => (down ? { status: 503, body: { error: { code: "unavailable", message: "later" } } } : null));
  const { api, rec, spoolDir } = setup({}, srv.url);
  try {
    msg(api, "mine");
    await until("a failed attempt", () => srv.requests.length >= 1);
    // Meanwhile another process died leaving its spool; the periodic rescan adopts it.
    const line = (id, content) => JSON.stringify({ id, type: "prompt", content }) + "\n";
    fs.writeFileSync(path.join(spoolDir, "seg-4194305-abcd-000000001.ndjson"), line("oc_orphan1", "orphan 1") + line("oc_orphan2", "orphan 2"));
    rec.spool.rescan();
    assert.equal(rec.stats().adopted, 1);
    down = false;
    rec.sender.kick(true);
    await until("all three delivered", () => srv.events.length === 3, 5000);
    assert.deepEqual(srv.events.map((e) => e.content).sort(), ["mine", "orphan 1", "orphan 2"]);
    await until("spool emptied", () => !rec.stats().pending);
    assert.deepEqual(fs.readdirSync(spoolDir).filter((n) => n.startsWith("seg-")), []);
  } finally {
    rec.close();
    await srv.close();
  }
});

test("a value that throws when read costs that value, not the whole event", () => {
  const { api, rec, spoolDir } = setup();
  try {
    const params = { command: "ls" };
    Object.defineProperty(params, "secret", { enumerable: true, get() { throw new Error("no"); } });
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    params.proxy = revoked.proxy;
    api.hooks.before_tool_call({ toolName: "exec", params, toolCallId: "t1" }, { toolName: "exec", sessionId: "s1" });
    const evs = spooled(spoolDir);
    assert.equal(evs.length, 1, "the tool call was recorded");
    assert.equal(evs[0].tool, "exec");
    assert.equal(evs[0].arguments.command, "ls");
    assert.equal(typeof evs[0].arguments.secret, "string");
    assert.equal(typeof evs[0].arguments.proxy, "string");
  } finally {
    rec.close();
  }
});

test("an event stays under the server's 1 MiB event limit, however its fields escape", () => {
  const { api, rec, spoolDir } = setup({ maxFieldBytes: 196608 });
  try {
    // Control characters take 6 bytes each in JSON; quotes in arguments' cut text take 2.
    const ctl = "\u0001".repeat(196608);
    api.hooks.after_tool_call(
      { toolName: "exec", params: { command: '"'.repeat(300000) }, toolCallId: "t1", result: ctl, error: ctl },
      { toolName: "exec", sessionId: "s1" },
    );
    const files = fs.readdirSync(spoolDir).filter((n) => n.startsWith("seg-"));
    const line = fs.readFileSync(path.join(spoolDir, files[0]), "utf8").split("\n")[0];
    assert.ok(Buffer.byteLength(line) <= 1 << 20, `event is ${Buffer.byteLength(line)} bytes`);
    const ev = JSON.parse(line);
    assert.equal(ev.tool, "exec");
    assert.equal(ev.attributes.truncated.result, 196608);
    assert.equal(ev.attributes.truncated.error, 196608);
    assert.match(ev.attributes.truncated.arguments, /^>= \d+$/); // cut while copied: a lower bound
    assert.ok(Number(ev.attributes.truncated.arguments.slice(3)) > 300000);
    assert.ok(ev.result.length > 0 && ev.error.length > 0);
  } finally {
    rec.close();
  }
});

test("subagent events are filed under the requester's session id, not its session key", () => {
  const { api, rec, spoolDir } = setup();
  try {
    const sid = "c5df0444-0000-4000-8000-000000000009";
    const key = "agent:main:telegram:direct:42";
    api.hooks.before_tool_call({ toolName: "sessions_spawn", params: {}, toolCallId: "c1" }, { toolName: "sessions_spawn", sessionId: sid, sessionKey: key, runId: "r1", requester: { senderId: "alice" } });
    // The real ctx of subagent_spawned/ended: {runId (the child's), childSessionKey, requesterSessionKey}.
    const ctx = { runId: "child-run", childSessionKey: "agent:main:subagent:abc", requesterSessionKey: key };
    // The child ran in a session of its own.
    api.hooks.llm_input({ runId: "child-run", sessionId: "child-session", prompt: "p" }, { runId: "child-run", sessionId: "child-session", sessionKey: "agent:main:subagent:abc" });
    api.hooks.subagent_spawned({ runId: "child-run", childSessionKey: "agent:main:subagent:abc", agentId: "main", mode: "run", threadRequested: false }, ctx);
    api.hooks.subagent_ended({ targetSessionKey: "agent:main:subagent:abc", targetKind: "subagent", reason: "completed", outcome: "ok", runId: "child-run" }, ctx);
    const [, , spawned, ended] = spooled(spoolDir);
    for (const ev of [spawned, ended]) {
      assert.equal(ev.attributes.child_run_id, "child-run", ev.type);
      assert.equal(ev.session_id, sid, ev.type);
      assert.equal(ev.attributes.session_key, key, ev.type);
      assert.equal(ev.user_id, "alice", ev.type);
    }
  } finally {
    rec.close();
  }
});

test("every event of a run keeps the run's session id, even when its key has moved on", () => {
  const { api, rec, spoolDir } = setup();
  try {
    const key = "agent:main:main";
    api.hooks.llm_input({ runId: "r1", sessionId: "S1", prompt: "p", model: "m" }, { runId: "r1", sessionKey: key, sessionId: "S1" });
    api.hooks.before_tool_call({ toolName: "exec", params: { command: "sleep 60" }, runId: "r1", toolCallId: "c1" }, { toolName: "exec", sessionKey: key, sessionId: "S1", runId: "r1" });
    // Meanwhile the key gets a new session (a /new from another surface, a reset).
    api.hooks.session_start({ sessionId: "S2", sessionKey: key }, { sessionId: "S2", sessionKey: key });
    // Hooks whose ctx lacks the session id (as a real after_tool_call's can).
    api.hooks.after_tool_call({ toolName: "exec", params: { command: "sleep 60" }, runId: "r1", toolCallId: "c1", result: "ok" }, { toolName: "exec", sessionKey: key, runId: "r1", toolCallId: "c1" });
    api.hooks.agent_end({ runId: "r1", success: true, messages: [] }, { runId: "r1", sessionKey: key });
    const evs = spooled(spoolDir).filter((e) => e.attributes.run_id === "r1");
    assert.deepEqual(evs.map((e) => [e.type, e.session_id]), [
      ["prompt", "S1"],
      ["tool_call", "S1"],
      ["tool_call", "S1"],
      ["agent_end", "S1"],
    ]);
  } finally {
    rec.close();
  }
});

test("neither the token nor a password in the url is ever logged", async () => {
  const srv = await fakeServer(() => ({ status: 401, body: { error: { code: "unauthorized", message: "bad key" } } }));
  const url = srv.url.replace("http://", "http://svc:hunter2-url-password@");
  const { api, rec } = setup({ token: "ct_secret_token_value" }, url);
  try {
    msg(api, "x");
    await until("a refusal logged", () => api.logs.some(([, m]) => /401/.test(m)));
    const all = api.logs.map(([, m]) => m).join("\n");
    assert.ok(!all.includes("hunter2-url-password"), all);
    assert.ok(!all.includes("ct_secret_token_value"), all);
  } finally {
    rec.close();
    await srv.close();
  }
});

test("a 400 that is not clawtrail's (a proxy's HTML page) keeps the events instead of setting them all aside", async () => {
  let proxyBroken = true;
  const srv = await fakeServer(() => (proxyBroken ? { status: 400, headers: { "content-type": "text/html" }, raw: "<html><body>400 The plain HTTP request was sent to HTTPS port</body></html>" } : null));
  const { api, rec, spoolDir } = setup({}, srv.url);
  try {
    for (const c of ["a", "b", "c", "d"]) msg(api, c);
    await until("a refusal", () => srv.requests.length >= 1);
    await sleep(300);
    assert.equal(rec.stats().rejected, 0, "set aside");
    assert.ok(!fs.existsSync(path.join(spoolDir, "rejected.ndjson")));
    assert.ok(api.logs.some(([l, m]) => l === "warn" && /HTTP 400/.test(m)));
    proxyBroken = false;
    rec.sender.kick(true);
    await until("delivery", () => srv.events.length === 4, 5000);
  } finally {
    rec.close();
    await srv.close();
  }
});

test("the config bounds in openclaw.plugin.json are the ones the code applies", () => {
  const manifest = JSON.parse(fs.readFileSync(new URL("../openclaw.plugin.json", import.meta.url), "utf8"));
  const props = manifest.configSchema.properties;
  for (const [name, p] of Object.entries(props)) {
    if (p.type !== "integer") continue;
    assert.equal(resolveConfig({}, {})[name], p.default, `${name}: default`);
    if (p.minimum !== undefined) {
      assert.equal(resolveConfig({ [name]: p.minimum }, {})[name], p.minimum, `${name}: its minimum is allowed`);
      assert.equal(resolveConfig({ [name]: p.minimum - 1 }, {})[name], p.minimum, `${name}: below the minimum`);
    }
    if (p.maximum !== undefined) {
      assert.equal(resolveConfig({ [name]: p.maximum }, {})[name], p.maximum, `${name}: its maximum is allowed`);
      assert.equal(resolveConfig({ [name]: p.maximum + 1 }, {})[name], p.maximum, `${name}: above the maximum`);
    }
  }
  assert.equal(resolveConfig({ maxSpoolBytes: 65536 }, {}).maxSpoolBytes, 1 << 20);
});

test("rejected.ndjson does not fill the spool, and has a bound of its own", async () => {
  const refuse = (lines) => {
    const bad = lines.map((e, i) => (String(e.content).startsWith("bad") ? { line: i + 1, message: "no" } : null)).filter(Boolean);
    return bad.length ? { status: 400, body: { error: { code: "invalid", message: "bad events", details: bad } } } : null;
  };
  const srv = await fakeServer(refuse);
  const spoolDir = tmp();
  // Refusals from earlier runs: 2 MiB of them, more than the whole spool may hold.
  const rejected = path.join(spoolDir, "rejected.ndjson");
  fs.writeFileSync(rejected, (JSON.stringify({ id: "old", content: "x".repeat(1000) }) + "\n").repeat(2100));
  const { api, rec } = setup({ spoolDir, maxSpoolBytes: 1 << 20, flushIntervalMs: 3600000 }, srv.url);
  try {
    msg(api, "kept");
    assert.equal(rec.stats().dropped, 0, "a new event was dropped: rejected.ndjson counted as spool");
    assert.equal(await rec.flush(3000), true);
    assert.deepEqual(srv.events.map((e) => e.content), ["kept"]);

    // rejected.ndjson 100 bytes short of 16 MiB: refused events past the bound are counted, not written.
    fs.truncateSync(rejected, (16 << 20) - 100);
    rec.spool.rescan();
    msg(api, "bad 1");
    msg(api, "bad 2");
    msg(api, "good");
    assert.equal(await rec.flush(3000), true);
    assert.deepEqual(srv.events.map((e) => e.content), ["kept", "good"]);
    assert.equal(fs.statSync(rejected).size, (16 << 20) - 100, "rejected.ndjson grew past its bound");
    assert.equal(rec.stats().rejected, 2);
    assert.equal(rec.stats().rejectedLost, 2);
    assert.ok(api.logs.some(([l, m]) => l === "warn" && /rejected\.ndjson is full .*2 so far/.test(m)), "not reported");
    assert.ok(api.logs.some(([, m]) => /refused 2 events .*2 not kept/.test(m)));

    // Moved away (to be read): refused events are kept again.
    fs.renameSync(rejected, path.join(tmp(), "rejected.ndjson"));
    rec.spool.rescan();
    msg(api, "bad 3");
    assert.equal(await rec.flush(3000), true);
    assert.deepEqual(fs.readFileSync(rejected, "utf8").trim().split("\n").map((l) => JSON.parse(l).content), ["bad 3"]);
    assert.equal(rec.stats().rejectedLost, 2);
  } finally {
    rec.close();
    await srv.close();
  }
});

test("while the spool cannot be written, events are kept in memory up to 16 MiB, then counted as dropped", async () => {
  const srv = await fakeServer();
  const { api, rec } = setup({ maxFieldBytes: 196608, flushIntervalMs: 3600000 }, srv.url); // maxSpoolBytes: 256 MiB
  const realWrite = fs.writeSync;
  try {
    fs.writeSync = () => {
      const e = new Error("EIO: i/o error, write");
      e.code = "EIO";
      throw e;
    };
    const big = "m".repeat(196608);
    for (let i = 0; i < 100; i++) msg(api, `${i} ${big}`); // ~19 MiB
    const kept = rec.spool.memory.length;
    assert.ok(rec.spool.memoryBytes <= 16 << 20, `${rec.spool.memoryBytes} bytes in memory`);
    assert.ok(kept >= 80 && kept < 100, `${kept} kept`);
    assert.equal(rec.stats().dropped, 100 - kept);
    assert.ok(api.logs.some(([l, m]) => l === "warn" && /in memory are full: events are being dropped/.test(m)), "not reported");
    msg(api, `still no room ${big}`); // no note squeezed in between: the count goes on
    assert.equal(rec.stats().dropped, 101 - kept);
    assert.equal(rec.spool.dropped, 101 - kept);

    // The disk is back and memory delivered: the trail says how many were lost.
    fs.writeSync = realWrite;
    assert.equal(await rec.flush(5000), true);
    msg(api, "after");
    assert.equal(await rec.flush(3000), true);
    const note = srv.events.find((e) => e.type === "clawtrail.dropped");
    assert.ok(note, "no clawtrail.dropped event");
    assert.equal(note.attributes.dropped, 101 - kept);
    assert.equal(srv.events.at(-1).content, "after");
  } finally {
    fs.writeSync = realWrite;
    rec.close();
    await srv.close();
  }
});

test("a huge tool result or argument is cut while it is copied: the hook returns at once, and says it was cut", () => {
  const { api, rec, spoolDir } = setup(); // maxFieldBytes 65536
  const ctx = { toolName: "exec", sessionId: "s1" };
  const many = Array.from({ length: 2000000 }, (_, i) => ({ i })); // 2,000,000 rows, 28.9 MB of JSON
  const huge = Buffer.alloc(50 * 1000 * 1000, "x").toString("latin1"); // a flat 50 MB string
  const parts = new Array(2000000).fill({ type: "text", text: "a line" });
  const atLeast = (v, what) => {
    assert.match(String(v), /^>= \d+$/, `${what}: truncated is ${v}`);
    return Number(v.slice(3));
  };
  try {
    api.hooks.before_tool_call({ toolName: "exec", params: { command: "warm up" }, toolCallId: "t0" }, ctx);
    const timed = (f) => {
      const t = performance.now();
      f();
      return performance.now() - t;
    };
    // Each took up to seconds when the whole value was copied before it was cut; now milliseconds.
    const ms = {
      array: timed(() => api.hooks.after_tool_call({ toolName: "exec", toolCallId: "t1", result: many }, ctx)),
      string: timed(() => api.hooks.before_tool_call({ toolName: "write", params: { path: "/a", content: huge }, toolCallId: "t2" }, ctx)),
      parts: timed(() => api.hooks.after_tool_call({ toolName: "exec", toolCallId: "t3", result: { content: parts } }, ctx)),
      text: timed(() => api.hooks.after_tool_call({ toolName: "exec", toolCallId: "t4", result: { content: [{ type: "text", text: huge }] } }, ctx)),
      error: timed(() => api.hooks.after_tool_call({ toolName: "exec", toolCallId: "t5", error: { lines: many } }, ctx)),
    };
    for (const [k, v] of Object.entries(ms)) assert.ok(v < 500, `${k}: ${v.toFixed(0)} ms in the hook`);

    const [, arr, str, prt, txt, err] = spooled(spoolDir);
    const fits = (s) => assert.ok(Buffer.byteLength(s) <= 65536, `${Buffer.byteLength(s)} bytes kept`);
    // The 2,000,000 items: the start of their JSON, and at least 2 bytes for each.
    assert.ok(arr.result.startsWith('[{"i":0},{"i":1},{"i":2},'));
    fits(arr.result);
    const n = atLeast(arr.attributes.truncated.result, "array");
    assert.ok(n >= 4000000 && n <= JSON.stringify(many).length, `array: >= ${n}`);
    // The 50 MB argument.
    assert.ok(str.arguments._truncated.startsWith('{"path":"/a","content":"xxxx'));
    fits(str.arguments._truncated);
    const s = atLeast(str.attributes.truncated.arguments, "string");
    assert.ok(s >= 50000000 && s <= JSON.stringify({ path: "/a", content: huge }).length, `string: >= ${s}`);
    // 2,000,000 text parts: the text of the first ones.
    assert.ok(prt.result.startsWith("a line\na line\n"));
    fits(prt.result);
    const p = atLeast(prt.attributes.truncated.result, "parts");
    assert.ok(p >= 2000000 && p <= 2000000 * 7, `parts: >= ${p}`);
    // One 50 MB text part.
    assert.equal(txt.result, "x".repeat(65536));
    assert.equal(atLeast(txt.attributes.truncated.result, "text"), 50000000);
    // An error object holding the 2,000,000 items.
    assert.ok(err.error.startsWith('{"lines":[{"i":0},{"i":1},'));
    fits(err.error);
    assert.ok(atLeast(err.attributes.truncated.error, "error") >= 4000000);
    assert.equal(err.status, "error");
  } finally {
    rec.close();
  }
});
