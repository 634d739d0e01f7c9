// Shared by the plugin's tests: temp dirs, a fake clawtrail server, a fake
// OpenClaw plugin API, and waiting helpers. (Not a test file itself.)

import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { after } from "node:test";
import zlib from "node:zlib";

import { register } from "../index.js";

const tmpdirs = [];
export function tmp() {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "clawtrail-oc-test-"));
  tmpdirs.push(d);
  return d;
}
after(() => {
  for (const d of tmpdirs) fs.rmSync(d, { recursive: true, force: true });
});

// A fake clawtrail: stores accepted events by id; `answer` may reply otherwise.
export async function fakeServer(answer = () => null) {
  const s = { events: [], requests: [], times: [], auth: [], answer };
  s.server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      let body = Buffer.concat(chunks);
      if (req.headers["content-encoding"] === "gzip") body = zlib.gunzipSync(body);
      const lines = body.toString("utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
      s.requests.push(lines);
      s.times.push(Date.now());
      s.auth.push(req.headers.authorization);
      const custom = s.answer(lines, s);
      if (custom) {
        res.writeHead(custom.status, { "content-type": "application/json", ...(custom.headers || {}) });
        res.end(typeof custom.raw === "string" ? custom.raw : JSON.stringify(custom.body || {}));
        return;
      }
      let dup = 0;
      for (const e of lines) {
        if (s.events.some((x) => x.id === e.id)) dup++;
        else s.events.push(e);
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ accepted: lines.length - dup, duplicates: dup }));
    });
  });
  await new Promise((r) => s.server.listen(0, "127.0.0.1", r));
  s.url = `http://127.0.0.1:${s.server.address().port}`;
  s.close = () =>
    new Promise((r) => {
      s.server.closeAllConnections?.();
      s.server.close(r);
    });
  return s;
}

export function fakeApi(config) {
  const api = {
    id: "clawtrail",
    registrationMode: "full",
    pluginConfig: config,
    hooks: {},
    subs: [],
    logs: [],
    logger: {
      info: (m) => api.logs.push(["info", m]),
      warn: (m) => api.logs.push(["warn", m]),
      error: (m) => api.logs.push(["error", m]),
    },
    on(name, fn) {
      api.hooks[name] = fn;
    },
    agent: { events: { registerAgentEventSubscription: (s) => api.subs.push(s) } },
  };
  return api;
}

export async function until(what, cond, ms = 5000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
export const spooled = (dir) =>
  fs
    .readdirSync(dir)
    .filter((n) => n.startsWith("seg-"))
    .flatMap((n) => fs.readFileSync(path.join(dir, n), "utf8").split("\n").filter(Boolean))
    .map((l) => JSON.parse(l));

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function setup(extra = {}, serverUrl = "http://127.0.0.1:9") {
  const spoolDir = extra.spoolDir || tmp();
  const api = fakeApi({ url: serverUrl, token: "ingest-key", spoolDir, flushIntervalMs: 20, timeoutMs: 2000, ...extra });
  const rec = register(api);
  return { api, rec, spoolDir };
}

