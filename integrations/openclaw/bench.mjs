// Per-hook cost of the plugin on the agent's thread: node integrations/openclaw/bench.mjs
// (docs/benchmarks.md, "Integrations"). Nothing is sent: the url points nowhere.
import fs from "node:fs"; import os from "node:os"; import path from "node:path";
import { register } from "./index.js";
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ocb-"));
const api = { id: "clawtrail", registrationMode: "full", hooks: {}, logger: { info(){}, warn(){}, error(){} },
  pluginConfig: { url: "http://127.0.0.1:9", token: "k", spoolDir: dir, flushIntervalMs: 3600000 },
  on(n, f) { this.hooks[n] = f; }, agent: { events: { registerAgentEventSubscription() {} } } };
register(api);
const ctx = { toolName: "exec", agentId: "main", sessionKey: "agent:main:x", sessionId: "s-1", runId: "r-1", toolCallId: "c-1",
  requester: { channel: "webchat", senderId: "cli" } };
const ev = { toolName: "exec", params: { command: "echo hello-from-mock" }, toolCallId: "c-1",
  result: { content: [{ type: "text", text: "hello-from-mock" }], details: { status: "completed", exitCode: 0 } }, durationMs: 713 };
const ts = [];
for (let i = 0; i < 20000; i++) {
  const t = process.hrtime.bigint();
  api.hooks.after_tool_call(ev, ctx);
  ts.push(Number(process.hrtime.bigint() - t) / 1000);
}
ts.sort((a, b) => a - b);
const q = (p) => ts[Math.floor(ts.length * p)].toFixed(1);
console.log(`after_tool_call: p50 ${q(0.5)} µs, p99 ${q(0.99)} µs, p99.9 ${q(0.999)} µs (node ${process.version})`);
// baseline: JSON.stringify + appendFileSync of the same-size line
const fd = fs.openSync(path.join(dir, "baseline"), "a"); const bs = [];
for (let i = 0; i < 20000; i++) { const t = process.hrtime.bigint(); fs.writeSync(fd, JSON.stringify({ i, ev, ctx: { s: ctx.sessionId } }) + "\n"); bs.push(Number(process.hrtime.bigint() - t) / 1000); }
bs.sort((a, b) => a - b);
console.log(`baseline stringify+writeSync: p50 ${bs[10000].toFixed(1)} µs, p99 ${bs[19800].toFixed(1)} µs`);
process.exit(0);
