// clawtrail plugin for OpenClaw: records what the agent does — inbound
// messages and prompts, tool calls (started and finished), model output and
// usage, exec approvals, session and run boundaries — as clawtrail events.
//
// Delivery never blocks the agent and never throws into it. Every hook
// handler builds its event, appends it as one NDJSON line to a local spool
// file (a synchronous append, so a tool that crashes the process still
// leaves its "started" event on disk) and returns. A background timer sends
// the spool to POST /v1/events in order, one request in flight, and deletes
// a spool file only after the server acknowledged every line in it. Each
// event carries an id made at capture time, so a batch resent after a lost
// answer is stored once. See docs/integrations/openclaw.md.
//
// Plain ES module, Node built-ins only, no build step.

import crypto from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";

export const PLUGIN_ID = "clawtrail";
export const VERSION = "0.1.0";

const DEFAULTS = {
  url: "http://127.0.0.1:7300",
  maxFieldBytes: 65536,
  maxSpoolBytes: 256 << 20,
  flushIntervalMs: 1000,
  timeoutMs: 10000,
  finalFlushMs: 1500,
};
const SEGMENT_BYTES = 1 << 20; // a spool file is closed for appends at this size
const BATCH_EVENTS = 500;
const BATCH_BYTES = 1 << 20;
const MIN_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 30000;
const REPORT_EVERY_MS = 30000;
const RESCAN_EVERY_MS = 30000;
const MAP_LIMIT = 2000;
const EVENT_BYTES = 1000000; // under the server's default per-event limit (1 MiB)
const REJECTED = "rejected.ndjson"; // refused events, set aside in the spool directory
const REJECTED_BYTES = 16 << 20; // past this, refused events are counted, not kept
const MEMORY_BYTES = 16 << 20; // events kept in memory while the spool cannot be written

// ---------------------------------------------------------------- config

/** Resolves the plugin config (api.pluginConfig) with defaults and env. */
export function resolveConfig(raw, env = process.env, stateDir) {
  const c = raw && typeof raw === "object" ? raw : {};
  const cap = c.capture && typeof c.capture === "object" ? c.capture : {};
  const bool = (v, d) => (typeof v === "boolean" ? v : d);
  const int = (v, d, lo, hi) =>
    Number.isFinite(v) ? Math.min(hi, Math.max(lo, Math.floor(v))) : d;
  const url = String(c.url || env.CLAWTRAIL_URL || DEFAULTS.url).replace(/\/+$/, "");
  let spoolDir = typeof c.spoolDir === "string" && c.spoolDir ? c.spoolDir : "";
  if (spoolDir.startsWith("~/")) spoolDir = path.join(os.homedir(), spoolDir.slice(2));
  if (!spoolDir) {
    const base = stateDir || env.OPENCLAW_STATE_DIR;
    spoolDir = base
      ? path.join(base, "clawtrail", "spool")
      : path.join(os.homedir(), ".cache", "clawtrail", "openclaw-spool");
  }
  return {
    enabled: c.enabled !== false,
    url,
    token: String(c.token || env.CLAWTRAIL_TOKEN || ""),
    tenant: typeof c.tenant === "string" && c.tenant ? c.tenant : undefined,
    capture: {
      prompts: bool(cap.prompts, true),
      outputs: bool(cap.outputs, true),
      toolArguments: bool(cap.toolArguments, true),
      toolResults: bool(cap.toolResults, true),
      modelCalls: bool(cap.modelCalls, true),
    },
    maxFieldBytes: int(c.maxFieldBytes, DEFAULTS.maxFieldBytes, 256, 196608),
    spoolDir: path.resolve(spoolDir),
    // At least 1 MiB (as openclaw.plugin.json says): room for one event of EVENT_BYTES.
    maxSpoolBytes: int(c.maxSpoolBytes, DEFAULTS.maxSpoolBytes, 1 << 20, Number.MAX_SAFE_INTEGER),
    flushIntervalMs: int(c.flushIntervalMs, DEFAULTS.flushIntervalMs, 10, 3600000),
    timeoutMs: int(c.timeoutMs, DEFAULTS.timeoutMs, 100, 600000),
    finalFlushMs: int(c.finalFlushMs, DEFAULTS.finalFlushMs, 0, 4000),
  };
}

/** The url as it may be logged: without a password in it. */
export function loggableUrl(url) {
  try {
    const u = new URL(url);
    if (!u.password) return url;
    u.password = "***";
    return u.toString().replace(/\/$/, "");
  } catch {
    return String(url).replace(/\/\/[^/@]*@/, "//***@");
  }
}

// ---------------------------------------------------------------- values

const str = (v) => (typeof v === "string" && v !== "" ? v : undefined);
const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
const wellFormed = (s) => (typeof s.toWellFormed === "function" ? s.toWellFormed() : s);

const EXACT_TEXT = 1 << 22; // a cut string up to this many UTF-16 units is measured exactly

/** The first items of a list of total members (a cut list of tool result parts). */
class Head {
  constructor(items, total) {
    this.items = items;
    this.total = total;
  }
}

/** The start of a text whose whole is bytes UTF-8 bytes (exactly, or at least). */
class TextHead {
  constructor(text, bytes, exact) {
    this.text = text;
    this.bytes = bytes;
    this.exact = exact;
  }
}

/**
 * Copies a value into plain JSON (see jsonSafe) and, given a budget in
 * bytes, stops once the copy's JSON has passed it: a long string is cut as
 * it is copied (one unit past the budget, so the cut shows), and no more
 * members of an array, Set, Map or object are read. Each member read costs
 * at least a byte of the budget, so a copy reads O(budget) of anything, however
 * large. When something was left out, cut is true and atLeast() is a lower
 * bound of the whole value's JSON size (the whole is never walked to learn it).
 */
class Copier {
  constructor(budget = Infinity) {
    this.budget = budget;
    this.bounded = Number.isFinite(budget);
    this.used = 0; // JSON bytes of the copy so far (escapes not counted: a lower bound)
    this.work = 0; // members read
    this.skipped = 0; // at least this many JSON bytes were left out
    this.cut = false;
    this.text = null; // the last cut string's whole size: {bytes, exact}
  }

  spent() {
    return this.used > this.budget || this.work > this.budget;
  }

  atLeast() {
    return this.used + this.skipped;
  }

  str(s) {
    if (!this.bounded) return wellFormed(s);
    const left = Math.max(0, this.budget - this.used);
    if (s.length <= left) {
      const w = wellFormed(s);
      this.used += Buffer.byteLength(w) + 2;
      return w;
    }
    // Every unit is at least a byte: left + 1 units are past the budget.
    let end = left + 1;
    const c = s.charCodeAt(end - 1);
    if (c >= 0xd800 && c <= 0xdbff) end++; // not half a surrogate pair
    const kept = wellFormed(s.slice(0, end));
    const keptBytes = Buffer.byteLength(kept);
    const exact = s.length <= EXACT_TEXT;
    const bytes = exact ? Buffer.byteLength(s) : s.length; // UTF-8 bytes >= UTF-16 units
    this.used += keptBytes + 2;
    this.skipped += Math.max(0, bytes - keptBytes);
    this.cut = true;
    this.text = { bytes, exact };
    return kept;
  }

  copy(v, depth = 0, seen = new WeakSet()) {
    switch (typeof v) {
      case "string":
        return this.str(v);
      case "number":
        if (Number.isFinite(v)) {
          if (this.bounded) this.used += String(v).length;
          return v;
        }
        return this.str(String(v));
      case "boolean":
        if (this.bounded) this.used += v ? 4 : 5;
        return v;
      case "bigint":
        return this.str(v.toString());
      case "object":
        break;
      default:
        return undefined; // undefined, function, symbol
    }
    if (v === null) {
      if (this.bounded) this.used += 4;
      return null;
    }
    if (seen.has(v)) return this.str("[circular]");
    if (depth >= 12) return this.str("[too deep]");
    try {
      return this.object(v, depth, seen);
    } catch (err) {
      // A getter that throws, a revoked Proxy: that value is lost, not the event.
      return this.str(unreadable(err));
    }
  }

  object(v, depth, seen) {
    if (typeof AbortSignal !== "undefined" && v instanceof AbortSignal) return undefined;
    if (v instanceof Date) return Number.isNaN(v.getTime()) ? this.copy(null) : this.str(v.toISOString());
    if (v instanceof TextHead) {
      const before = this.used;
      const kept = this.str(v.text);
      this.skipped += Math.max(0, v.bytes - (this.used - before - 2));
      this.cut = true;
      this.text = { bytes: v.bytes, exact: v.exact };
      return kept;
    }
    if (v instanceof Error) v = { name: v.name, message: v.message };
    else if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return this.str(`[${v.byteLength} bytes]`);
    seen.add(v);
    try {
      if (Array.isArray(v) || v instanceof Set || v instanceof Head) return this.list(v, depth, seen);
      return this.members(v, depth, seen);
    } finally {
      seen.delete(v);
    }
  }

  list(v, depth, seen) {
    const out = [];
    const total = v instanceof Set ? v.size : v instanceof Head ? v.total : v.length;
    const items = v instanceof Head ? v.items : v;
    if (this.bounded) this.used += 2;
    let n = 0;
    for (const x of items) {
      if (this.bounded && this.spent()) break;
      if (this.bounded) {
        this.work++;
        if (n > 0) this.used++;
      }
      let y = this.copy(x, depth + 1, seen);
      if (y === undefined) y = this.copy(null);
      out.push(y);
      n++;
    }
    if (n < total) {
      this.cut = true;
      this.skipped += 2 * (total - n); // each left out: a comma and at least one byte
    }
    return out;
  }

  members(v, depth, seen) {
    const out = {};
    if (this.bounded) this.used += 2;
    let n = 0;
    let stopped = false;
    const put = (k, read) => {
      if (this.bounded && this.spent()) {
        stopped = true;
        return false;
      }
      if (this.bounded) this.work++;
      const { used, skipped, cut, text } = this;
      const key = this.str(String(k));
      let y;
      try {
        y = this.copy(read(), depth + 1, seen);
      } catch (err) {
        y = this.str(unreadable(err));
      }
      if (y === undefined) Object.assign(this, { used, skipped, cut, text }); // not in the JSON: no bytes
      else {
        if (this.bounded) this.used += n > 0 ? 2 : 1; // the colon, a comma
        out[key] = y;
        n++;
      }
      return true;
    };
    if (v instanceof Map) {
      for (const [k, x] of v.entries()) if (!put(k, () => x)) break;
    } else {
      // Object.keys lists every key (JavaScript has no lazy way); only the
      // values read are copied.
      for (const k of Object.keys(v)) if (!put(k, () => v[k])) break;
    }
    if (stopped) this.cut = true; // members left out may be dropped ones: no bytes counted
    return out;
  }
}

/**
 * Returns a plain JSON value for v: strings made well-formed (the server
 * refuses lone surrogates), functions, symbols and AbortSignals dropped,
 * bigints as strings, binary data as a size, cycles and depth past 12 cut.
 * With maxBytes, the copy stops once its JSON has passed maxBytes (see
 * Copier): never a walk of the whole of a huge value.
 */
export function jsonSafe(v, maxBytes = Infinity) {
  return new Copier(maxBytes).copy(v);
}

/**
 * A bounded copy of one field: {value, size}, where size is undefined when
 * nothing was left out, else the whole field's size: a number when exact
 * (a string's UTF-8 bytes), else ">= N" (a lower bound, in JSON bytes for a
 * list or object).
 */
function copyField(v, maxBytes) {
  const c = new Copier(maxBytes);
  const value = c.copy(v, 1);
  if (!c.cut) return { value };
  const text = typeof v === "string" || v instanceof TextHead;
  const size = text && c.text ? (c.text.exact ? c.text.bytes : `>= ${c.text.bytes}`) : `>= ${c.atLeast()}`;
  return { value, size };
}

// JSON text of v, read no further than maxBytes; a TextHead when cut.
function jsonText(v, maxBytes) {
  const c = new Copier(maxBytes);
  const s = JSON.stringify(c.copy(v, 1));
  return c.cut && s !== undefined ? new TextHead(s, c.atLeast(), false) : s;
}

function unreadable(err) {
  try {
    return `[unreadable: ${wellFormed(String((err && err.message) || err))}]`;
  } catch {
    return "[unreadable]";
  }
}

/** Cuts s to at most max UTF-8 bytes, on a character boundary. */
export function cutUtf8(s, max) {
  const b = Buffer.from(s, "utf8");
  if (b.length <= max) return s;
  let end = max;
  while (end > 0 && (b[end] & 0xc0) === 0x80) end--; // not inside a character
  return b.subarray(0, end).toString("utf8");
}

const sha256 = (s) => crypto.createHash("sha256").update(s).digest("hex");

// Cuts one field of ev to max bytes and notes the original size in
// truncated[field] (known[field] when the copy already left part of it out:
// the size of the whole, which the copy no longer has). Strings are cut; an
// object is kept as an object for arguments ({"_truncated": "<its JSON,
// cut>"}) and as its cut JSON text elsewhere, so what remains stays searchable.
function capField(ev, field, max, truncated, known) {
  const v = ev[field];
  if (v === undefined || v === null) return;
  if (typeof v === "string") {
    const n = Buffer.byteLength(v);
    if (n > max) {
      ev[field] = cutUtf8(v, max);
      truncated[field] = known[field] ?? n;
    }
    return;
  }
  if (typeof v !== "object") return;
  const s = JSON.stringify(v);
  const n = Buffer.byteLength(s);
  if (n <= max) return;
  truncated[field] = known[field] ?? n;
  ev[field] = field === "arguments" || field === "attributes" ? { _truncated: cutUtf8(s, max) } : cutUtf8(s, max);
}

/**
 * Applies maxFieldBytes to an event (mutating it) and returns it. known:
 * sizes of fields that were already cut while copied (copyField).
 */
export function capEvent(ev, max, known = {}) {
  const truncated = {};
  for (const f of ["content", "arguments", "result", "error", "reason"]) capField(ev, f, max, truncated, known);
  if (ev.attributes) capField(ev, "attributes", max, truncated, known);
  for (const [f, n] of Object.entries(known)) truncated[f] ??= n;
  if (Object.keys(truncated).length) {
    if (!ev.attributes || typeof ev.attributes !== "object" || ev.attributes._truncated !== undefined) {
      ev.attributes = { ...(ev.attributes || {}) };
    }
    ev.attributes.truncated = truncated;
  }
  return ev;
}

// One NDJSON line for ev with its fields cut to max; ev is left as it was.
function encodeCapped(ev, max, known) {
  const copy = { ...ev };
  if (copy.attributes && typeof copy.attributes === "object") copy.attributes = { ...copy.attributes };
  return JSON.stringify(capEvent(copy, max, known)) + "\n";
}

/** A generator of event ids: oc_<ms, base 36><process random><counter>. */
export function idFactory() {
  const proc = crypto.randomBytes(5).toString("hex");
  let last = 0;
  let counter = 0;
  return () => {
    let t = Date.now();
    if (t <= last) t = last; // never go backwards: ids sort in capture order
    else counter = 0;
    last = t;
    counter++;
    return `oc_${t.toString(36).padStart(9, "0")}${proc}${counter.toString(36).padStart(4, "0")}`;
  };
}

// A Map that forgets its oldest entries past MAP_LIMIT.
class BoundedMap extends Map {
  set(k, v) {
    if (k === undefined) return this;
    if (this.has(k)) this.delete(k);
    super.set(k, v);
    if (this.size > MAP_LIMIT) this.delete(this.keys().next().value);
    return this;
  }
}

// ---------------------------------------------------------------- reporting

/** Logs through api.logger, each kind of problem at most once per interval. */
export class Reporter {
  constructor(logger, intervalMs = REPORT_EVERY_MS) {
    this.logger = logger || console;
    this.intervalMs = intervalMs;
    this.last = new Map();
    this.failing = false;
  }
  warn(kind, msg) {
    const now = Date.now();
    const t = this.last.get(kind);
    if (t !== undefined && now - t < this.intervalMs) return;
    this.last.set(kind, now);
    try {
      this.logger.warn(`clawtrail: ${msg}`);
    } catch {}
  }
  info(msg) {
    try {
      this.logger.info(`clawtrail: ${msg}`);
    } catch {}
  }
}

// ---------------------------------------------------------------- spool

const SEG_RE = /^seg-(\d+)-([0-9a-f]+)-(\d+)\.ndjson$/;
const LIVE = Symbol.for("clawtrail.openclaw.liveSpoolTokens");
const liveTokens = (globalThis[LIVE] ??= new Set());

function pidAlive(pid) {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === "EPERM";
  }
}

/**
 * A directory of NDJSON files, one writer per process: seg-<pid>-<token>-<n>.ndjson.
 * Lines are appended to the open file; the sender reads closed ("sealed")
 * files in order and deletes each once the server has all of it. Files of a
 * process that is gone are adopted (renamed into this process's name) and
 * sent first.
 */
export class Spool {
  constructor({ dir, maxBytes, reporter }) {
    this.dir = dir;
    this.maxBytes = maxBytes;
    this.reporter = reporter;
    this.token = crypto.randomBytes(4).toString("hex");
    this.seq = 0;
    this.fd = null;
    this.activePath = null;
    this.activeBytes = 0;
    this.sealed = []; // {path, size, offset}
    this.total = 0; // bytes of every file in dir (ours and others')
    this.dropped = 0; // events not spooled since the last report
    this.droppedTotal = 0;
    this.adopted = 0;
    this.damaged = 0;
    this.rejectedBytes = 0; // size of rejected.ndjson (not part of total)
    this.rejectedLost = 0; // refused events not written: rejected.ndjson was full
    this.memory = []; // lines that could not be written to disk
    this.memoryBytes = 0;
    this.opened = false;
  }

  open() {
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    liveTokens.add(this.token);
    this.opened = true;
    this.rescan();
  }

  name(seq) {
    return path.join(this.dir, `seg-${process.pid}-${this.token}-${String(seq).padStart(9, "0")}.ndjson`);
  }

  /** Recounts the directory's size and adopts files of processes that are gone. */
  rescan() {
    let names;
    try {
      names = fs.readdirSync(this.dir);
    } catch (err) {
      this.reporter.warn("spool", `cannot read spool ${this.dir}: ${err.message}`);
      return;
    }
    let total = 0;
    this.rejectedBytes = 0; // unless it is still there (it may have been moved away)
    const orphans = [];
    const mine = new Set(this.sealed.map((s) => s.path));
    if (this.activePath) mine.add(this.activePath);
    for (const n of names) {
      const p = path.join(this.dir, n);
      let st;
      try {
        st = fs.statSync(p);
      } catch {
        continue;
      }
      // Refused events wait for a person, not for the server: they do not
      // take the spool's room (they have a bound of their own).
      if (n === REJECTED) {
        this.rejectedBytes = st.size;
        continue;
      }
      total += st.size;
      const m = SEG_RE.exec(n);
      if (!m || mine.has(p)) continue;
      const pid = Number(m[1]);
      const gone = pid === process.pid ? !liveTokens.has(m[2]) : !pidAlive(pid);
      if (gone) orphans.push({ p, mtime: st.mtimeMs, n, size: st.size });
    }
    this.total = total;
    orphans.sort((a, b) => a.mtime - b.mtime || (a.n < b.n ? -1 : 1));
    const taken = [];
    for (const o of orphans) {
      const to = this.name(++this.seq);
      try {
        fs.renameSync(o.p, to); // atomic: of two adopters, one wins
      } catch {
        continue;
      }
      taken.push({ path: to, size: o.size, offset: 0 });
      this.adopted++;
    }
    if (taken.length) {
      // Adopted files are older than anything this process wrote and not yet
      // sent; a file being sent (a batch in flight, or partly acknowledged)
      // stays first.
      const head = this.sealed[0];
      const unsent = head && (head.offset > 0 || head.reading) ? 1 : 0;
      this.sealed.splice(unsent, 0, ...taken);
    }
  }

  /** Appends one line (ending in \n). Returns false when it was dropped. */
  append(line) {
    const len = Buffer.byteLength(line);
    if (this.total + this.memoryBytes + len > this.maxBytes) {
      this.dropped++;
      this.droppedTotal++;
      this.reporter.warn("full", `spool ${this.dir} is full (${this.maxBytes} bytes): events are being dropped (${this.droppedTotal} so far)`);
      return false;
    }
    try {
      if (this.fd === null) {
        this.activePath = this.name(++this.seq);
        this.fd = fs.openSync(this.activePath, "a", 0o600);
        this.activeBytes = 0;
      }
      const buf = Buffer.from(line, "utf8");
      let off = 0;
      try {
        // write(2) may take part of the line (a disk filling up): loop.
        while (off < buf.length) {
          const n = fs.writeSync(this.fd, buf, off, buf.length - off);
          if (!(n > 0)) throw new Error("write took no bytes");
          off += n;
        }
      } catch (err) {
        if (off > 0) {
          // Take the part back, so no later line is glued to it; if that
          // fails too, the file ends in a torn line the sender skips.
          try {
            fs.ftruncateSync(this.fd, this.activeBytes);
          } catch {
            this.activeBytes += off;
            this.total += off;
          }
        }
        throw err;
      }
      this.activeBytes += len;
      this.total += len;
      if (this.activeBytes >= SEGMENT_BYTES) this.seal();
    } catch (err) {
      // The disk refused: keep it in memory, up to MEMORY_BYTES (the
      // process's heap is not the place for maxSpoolBytes of events).
      // The open file is sealed, not forgotten: what it holds is still sent.
      this.reporter.warn("spoolwrite", `cannot write spool ${this.dir}: ${err.message}; keeping events in memory`);
      this.seal();
      if (this.memoryBytes + len > this.memoryMax()) {
        this.dropped++;
        this.droppedTotal++;
        this.reporter.warn("memoryfull", `spool ${this.dir} cannot be written and the ${this.memoryMax()} bytes kept in memory are full: events are being dropped (${this.droppedTotal} so far)`);
        return false;
      }
      this.memory.push(line);
      this.memoryBytes += len;
    }
    return true;
  }

  memoryMax() {
    return Math.min(MEMORY_BYTES, this.maxBytes);
  }

  closeActive() {
    if (this.fd !== null) {
      try {
        fs.closeSync(this.fd);
      } catch {}
    }
    this.fd = null;
  }

  /** Closes the open file for appends and queues it for sending. */
  seal() {
    if (this.fd === null) return;
    this.closeActive();
    if (this.activeBytes > 0) this.sealed.push({ path: this.activePath, size: this.activeBytes, offset: 0 });
    else {
      try {
        fs.unlinkSync(this.activePath);
      } catch {}
    }
    this.activePath = null;
    this.activeBytes = 0;
  }

  pending() {
    return this.sealed.length > 0 || this.activeBytes > 0 || this.memory.length > 0;
  }

  /**
   * The next batch to send: {lines: string[], done()} where done() marks
   * them delivered. Null when there is nothing.
   */
  next() {
    if (!this.sealed.length && this.activeBytes > 0) this.seal();
    const seg = this.sealed[0];
    if (!seg) {
      if (!this.memory.length) return null;
      const lines = this.memory.slice(0, BATCH_EVENTS);
      return {
        lines,
        done: () => {
          this.memory.splice(0, lines.length);
          this.memoryBytes -= lines.reduce((a, l) => a + Buffer.byteLength(l), 0);
        },
      };
    }
    let buf;
    try {
      buf = fs.readFileSync(seg.path);
    } catch (err) {
      this.reporter.warn("spoolread", `cannot read ${seg.path}: ${err.message}; skipping it`);
      this.sealed.shift();
      return this.next();
    }
    seg.size = buf.length;
    seg.reading = true;
    const lines = [];
    let off = seg.offset;
    let bytes = 0;
    while (off < buf.length && lines.length < BATCH_EVENTS && bytes < BATCH_BYTES) {
      const nl = buf.indexOf(10, off);
      if (nl < 0) {
        // A line torn by a crash mid-write: it can never be completed.
        this.damaged++;
        this.reporter.warn("damaged", `skipping a torn line at the end of ${seg.path}`);
        off = buf.length;
        break;
      }
      const line = buf.toString("utf8", off, nl + 1);
      off = nl + 1;
      if (line.trim() === "") continue;
      lines.push(line);
      bytes += line.length;
    }
    const end = off;
    return {
      lines,
      done: () => {
        seg.offset = end;
        seg.reading = false;
        if (seg.offset >= seg.size) {
          try {
            fs.unlinkSync(seg.path);
          } catch {}
          this.total = Math.max(0, this.total - seg.size);
          // By identity: files adopted meanwhile may sit in the queue too.
          const i = this.sealed.indexOf(seg);
          if (i >= 0) this.sealed.splice(i, 1);
        }
      },
    };
  }

  /**
   * Appends refused lines to rejected.ndjson in the spool directory, up to
   * REJECTED_BYTES; lines past that are counted (rejectedLost) and reported.
   * Returns how many lines were not kept.
   */
  reject(lines) {
    const keep = [];
    let bytes = 0;
    for (const l of lines) {
      const n = Buffer.byteLength(l);
      if (this.rejectedBytes + bytes + n > REJECTED_BYTES) break;
      keep.push(l);
      bytes += n;
    }
    const full = keep.length < lines.length;
    let lost = lines.length - keep.length;
    if (keep.length) {
      try {
        fs.appendFileSync(path.join(this.dir, REJECTED), keep.join(""), { mode: 0o600 });
        this.rejectedBytes += bytes;
      } catch (err) {
        lost = lines.length;
        this.reporter.warn("rejectwrite", `cannot write ${REJECTED}: ${err.message}`);
      }
    }
    if (full && lost === lines.length - keep.length) {
      this.reporter.warn("rejectfull", `${path.join(this.dir, REJECTED)} is full (${REJECTED_BYTES} bytes): refused events are no longer kept (${this.rejectedLost + lost} so far); move it out of the spool directory to keep them again`);
    }
    this.rejectedLost += lost;
    return lost;
  }

  close() {
    this.seal();
    liveTokens.delete(this.token);
    this.opened = false;
  }
}

// ---------------------------------------------------------------- sender

/** POSTs NDJSON; resolves {status, retryAfterMs, body} or rejects on a network error. */
function post(cfg, agent, body, gzipped) {
  return new Promise((resolve, reject) => {
    let u;
    try {
      u = new URL(cfg.url + "/v1/events");
    } catch (err) {
      reject(new Error(`bad url ${loggableUrl(cfg.url)}: ${err.message}`));
      return;
    }
    const mod = u.protocol === "https:" ? https : http;
    const headers = {
      "Content-Type": "application/x-ndjson",
      "Content-Length": body.length,
      "User-Agent": `clawtrail-openclaw/${VERSION}`,
    };
    if (cfg.token) headers.Authorization = `Bearer ${cfg.token}`;
    if (gzipped) headers["Content-Encoding"] = "gzip";
    const req = mod.request(u, { method: "POST", headers, agent: agent[u.protocol] });
    // Delivery never keeps the process alive by itself (see flush()).
    req.on("socket", (s) => s.unref());
    req.setTimeout(cfg.timeoutMs, () => req.destroy(new Error(`no answer within ${cfg.timeoutMs} ms`)));
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks = [];
      let size = 0;
      res.on("data", (c) => {
        if (size < 1 << 20) chunks.push(c);
        size += c.length;
      });
      res.on("error", reject);
      res.on("end", () => {
        let json;
        try {
          json = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        } catch {}
        resolve({ status: res.statusCode, retryAfterMs: retryAfter(res.headers["retry-after"]), body: json });
      });
    });
    req.end(body);
  });
}

function retryAfter(v) {
  if (!v) return 0;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? 0 : Math.max(0, t - Date.now());
}

// The error object of an answer and its details, whatever shape the body
// has (a proxy's answer need not be clawtrail's {"error": {...}}).
function errorOf(res) {
  const b = res.body;
  const e = b && typeof b === "object" && b.error && typeof b.error === "object" ? b.error : {};
  const details = Array.isArray(e.details) ? e.details.filter((x) => x && typeof x === "object") : [];
  // clawtrail's errors always carry a code; a proxy's page does not.
  return { message: typeof e.message === "string" ? e.message : "", details, ours: typeof e.code === "string" };
}

function describe(res) {
  const e = errorOf(res);
  let s = `HTTP ${res.status}${e.message ? `: ${e.message}` : ""}`;
  const d = e.details;
  for (const x of d.slice(0, 3)) {
    s += `; ${x.line ? `line ${x.line}: ` : ""}${x.field ? `field ${x.field}: ` : ""}${x.message || ""}`;
  }
  if (d.length > 3) s += ` (and ${d.length - 3} more)`;
  return s;
}

/** Delivers the spool, in order, one request in flight. */
export class Sender {
  constructor({ cfg, spool, reporter }) {
    this.cfg = cfg;
    this.spool = spool;
    this.reporter = reporter;
    this.agent = {
      "http:": new http.Agent({ keepAlive: true, maxSockets: 1 }),
      "https:": new https.Agent({ keepAlive: true, maxSockets: 1 }),
    };
    this.running = null; // the promise of the delivery loop while it runs
    this.stopped = false;
    this.backoff = MIN_BACKOFF_MS;
    this.wake = null; // ends the current backoff wait early
    this.failing = false;
    this.stats = { sent: 0, duplicates: 0, rejected: 0, retries: 0, requests: 0 };
  }

  /**
   * Starts the delivery loop unless it runs; returns its promise. A loop
   * waiting out a backoff or a Retry-After keeps waiting unless now is true
   * (a final flush): the timer kicks every flushIntervalMs and must not turn
   * the backoff into a request per tick.
   */
  kick(now = false) {
    if (this.stopped) return Promise.resolve();
    if (now && this.wake) this.wake();
    if (!this.running) {
      // Never rejects: a rejection nobody handles ends OpenClaw's process.
      this.running = this.loop()
        .catch((err) => this.reporter.warn("loop", `delivery stopped: ${err && err.message}; retrying on the next tick`))
        .finally(() => {
          this.running = null;
        });
    }
    return this.running;
  }

  async loop() {
    while (!this.stopped) {
      const batch = this.spool.next();
      if (!batch) return;
      if (batch.lines.length && !(await this.deliver(batch.lines))) return;
      batch.done();
    }
  }

  sleep(ms) {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      t.unref();
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = () => {
        this.wake = null;
        done();
      };
    });
  }

  // Sends lines until the server has them; lines it refuses for good are set
  // aside. Returns false only when stopping.
  async deliver(lines) {
    for (;;) {
      if (this.stopped) return false;
      let res;
      let failure;
      try {
        const raw = Buffer.from(lines.join(""), "utf8");
        const gz = raw.length > 1024;
        const body = gz ? await new Promise((ok, no) => zlib.gzip(raw, (e, b) => (e ? no(e) : ok(b)))) : raw;
        this.stats.requests++;
        res = await post(this.cfg, this.agent, body, gz);
      } catch (err) {
        failure = `server unreachable: ${err.message}`;
      }
      if (res && res.status === 200) {
        const b = res.body || {};
        this.stats.sent += Number(b.accepted) || 0;
        this.stats.duplicates += Number(b.duplicates) || 0;
        if (this.failing) this.reporter.info(`delivering to ${loggableUrl(this.cfg.url)} again`);
        this.failing = false;
        this.backoff = MIN_BACKOFF_MS;
        return true;
      }
      // A 400/409 that is not clawtrail's (a proxy in front of it, the url
      // pointing at something else) says nothing about the events: it is
      // kept and retried below like a 5xx, never split and set aside.
      if (res && (res.status === 400 || res.status === 409) && errorOf(res).ours) {
        const bad = new Set(errorOf(res).details.map((x) => x.line).filter((n) => Number.isInteger(n) && n >= 1 && n <= lines.length));
        if (bad.size === 0) {
          if (lines.length === 1) {
            this.setAside(lines, describe(res));
            return true;
          }
          return this.split(lines);
        }
        this.setAside(lines.filter((_, i) => bad.has(i + 1)), describe(res));
        lines = lines.filter((_, i) => !bad.has(i + 1));
        if (!lines.length) return true;
        continue;
      }
      if (res && res.status === 413) {
        if (lines.length === 1) {
          this.setAside(lines, describe(res));
          return true;
        }
        return this.split(lines);
      }
      // Unreachable, 401/403 (a key problem someone must fix), 429, 5xx: keep and retry.
      this.stats.retries++;
      this.failing = true;
      const why = failure || describe(res);
      const hint =
        res && (res.status === 401 || res.status === 403)
          ? " (check the plugin's token: an ingest key of the tenant)"
          : res && (res.status === 400 || res.status === 409)
            ? " (not an answer from clawtrail: check the url and any proxy in front of it)"
            : "";
      this.reporter.warn("deliver", `sending ${lines.length} events to ${loggableUrl(this.cfg.url)}: ${why}${hint}; kept in ${this.spool.dir}, retrying`);
      let wait = Math.round(this.backoff * (0.5 + Math.random()));
      if (res && res.retryAfterMs > 0) wait = Math.min(res.retryAfterMs, 300000);
      this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
      await this.sleep(wait);
    }
  }

  async split(lines) {
    const h = lines.length >> 1;
    return (await this.deliver(lines.slice(0, h))) && (await this.deliver(lines.slice(h)));
  }

  setAside(lines, why) {
    this.stats.rejected += lines.length;
    const lost = this.spool.reject(lines);
    const where = lost ? `${lines.length - lost} set aside in ${path.join(this.spool.dir, REJECTED)}, ${lost} not kept` : `set aside in ${path.join(this.spool.dir, REJECTED)}`;
    this.reporter.warn("rejected", `the server refused ${lines.length} events (${why}); ${where}`);
  }

  stop() {
    this.stopped = true;
    if (this.wake) this.wake();
    for (const a of Object.values(this.agent)) a.destroy();
  }
}

// ---------------------------------------------------------------- recorder

/**
 * Owns the spool, the sender and the timer. record(ev) never throws;
 * flush(ms) tries to deliver everything within ms.
 */
export class Recorder {
  constructor(cfg, logger) {
    this.cfg = cfg;
    this.reporter = new Reporter(logger);
    this.spool = new Spool({ dir: cfg.spoolDir, maxBytes: cfg.maxSpoolBytes, reporter: this.reporter });
    this.sender = new Sender({ cfg, spool: this.spool, reporter: this.reporter });
    this.newId = idFactory();
    this.timer = null;
    this.started = false;
    this.closed = false;
    this.lastRescan = 0;
    this.exitFlushed = false;
    this.onBeforeExit = () => {
      // The event loop is empty: one last delivery, then let the process go.
      if (this.exitFlushed || !this.spool.pending()) return;
      this.exitFlushed = true;
      this.flush(this.cfg.finalFlushMs);
    };
    this.onExit = () => this.spool.closeActive();
  }

  start() {
    if (this.started || this.closed) return;
    this.started = true;
    try {
      this.spool.open();
    } catch (err) {
      this.reporter.warn("spool", `cannot open spool ${this.cfg.spoolDir}: ${err.message}; events are kept in memory only`);
    }
    if (!this.cfg.token) {
      this.reporter.warn("token", "no token configured (plugins.entries.clawtrail.config.token or CLAWTRAIL_TOKEN): events are spooled, and the server will refuse them until a key is set");
    }
    if (this.spool.adopted) this.reporter.info(`sending ${this.spool.adopted} spool files left by earlier processes`);
    this.lastRescan = Date.now();
    this.schedule();
    process.on("beforeExit", this.onBeforeExit);
    process.on("exit", this.onExit);
  }

  schedule() {
    if (this.closed) return;
    this.timer = setTimeout(() => this.tick(), this.cfg.flushIntervalMs);
    this.timer.unref();
  }

  tick() {
    try {
      if (this.spool.opened && Date.now() - this.lastRescan > RESCAN_EVERY_MS) {
        this.lastRescan = Date.now();
        this.spool.rescan();
      }
      this.noteDrops();
      if (this.spool.pending()) this.sender.kick();
    } catch (err) {
      this.reporter.warn("tick", `delivery: ${err.message}`);
    }
    this.schedule();
  }

  // Drops are never silent: once there is room again, an event says how many.
  noteDrops() {
    const sp = this.spool;
    if (!sp.dropped || sp.total + sp.memoryBytes + 4096 > sp.maxBytes) return; // none, or still full
    // Kept in memory (the disk refused) and that is nearly full too: wait
    // for it to be delivered rather than squeeze a note between drops.
    if (sp.memory.length && sp.memoryBytes + 65536 > sp.memoryMax()) return;
    const n = sp.dropped;
    const before = sp.droppedTotal;
    sp.dropped = 0;
    let ok = false;
    try {
      ok = this.write({ type: "clawtrail.dropped", content: `${n} events were dropped: the spool was full`, attributes: { dropped: n, spool_dir: sp.dir } });
    } finally {
      if (!ok) {
        // The note could not be kept either (the memory fallback is full):
        // it is not an event of the agent's, and its count waits for the next try.
        const self = sp.droppedTotal - before;
        sp.dropped += n - self;
        sp.droppedTotal -= self;
      }
    }
  }

  /** Stamps, caps, encodes and spools one event. Never throws. */
  record(ev) {
    if (this.closed || !this.cfg.enabled) return;
    try {
      if (!this.started) this.start();
      this.noteDrops();
      this.write(ev);
    } catch (err) {
      this.reporter.warn("record", `could not record a ${ev && ev.type} event: ${err.message}`);
    }
  }

  write(ev) {
    // Each field is copied no further than maxFieldBytes: a 2-million-item
    // result or a 50 MB string costs what is kept of it, not its size.
    const src = { id: this.newId(), timestamp: new Date().toISOString(), tenant_id: this.cfg.tenant, ...ev };
    const out = {};
    const known = {};
    for (const k of Object.keys(src)) {
      const { value, size } = copyField(src[k], this.cfg.maxFieldBytes);
      if (value === undefined) continue;
      out[k] = value;
      if (size !== undefined) known[k] = size;
    }
    for (const [k, v] of Object.entries(out)) {
      const empty = v === null || v === "" || (typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0 && k !== "arguments");
      if (empty) delete out[k];
    }
    // maxFieldBytes counts a field's bytes, not its JSON: escapes (6 bytes a
    // control character) and several full fields can pass the server's
    // per-event limit, which would refuse the whole event. Cut harder then.
    let max = this.cfg.maxFieldBytes;
    let line = encodeCapped(out, max, known);
    while (Buffer.byteLength(line) > EVENT_BYTES && max > 256) {
      max = Math.max(256, max >> 1);
      line = encodeCapped(out, max, known);
    }
    return this.spool.append(line);
  }

  /** Tries to deliver everything within ms; resolves true when nothing is left. */
  flush(ms) {
    if (!this.started || this.closed) return Promise.resolve(!this.spool.pending());
    return new Promise((resolve) => {
      let settled = false;
      const finish = () => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        resolve(!this.spool.pending());
      };
      // A referenced timer: the process waits for this flush, at most ms.
      const deadline = setTimeout(finish, ms);
      const attempt = () => {
        if (settled) return;
        const run = this.sender.kick(true);
        run.then(() => {
          if (settled) return;
          if (!this.spool.pending() || this.sender.stopped) finish();
          else setImmediate(attempt); // more was written meanwhile
        });
      };
      attempt();
    });
  }

  stats() {
    return {
      ...this.sender.stats,
      dropped: this.spool.droppedTotal,
      rejectedLost: this.spool.rejectedLost,
      adopted: this.spool.adopted,
      damaged: this.spool.damaged,
      spoolBytes: this.spool.total,
      pending: this.spool.pending(),
    };
  }

  /** Stops the timer and the sender; what is not delivered stays spooled. */
  close() {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    this.sender.stop();
    this.spool.close();
    process.off("beforeExit", this.onBeforeExit);
    process.off("exit", this.onExit);
  }
}

// ---------------------------------------------------------------- mapping

/**
 * Turns OpenClaw hook payloads into clawtrail events. Every field is picked
 * explicitly: a context object is never copied (gateway_start's holds the
 * whole config with its secrets; tool contexts hold AbortSignals).
 */
export class Mapper {
  constructor(cfg) {
    this.cfg = cfg;
    this.sessionIdByKey = new BoundedMap(); // sessionKey → latest sessionId
    this.sessionIdByRun = new BoundedMap(); // runId → its sessionId
    this.senderByRun = new BoundedMap(); // runId → sender id
    this.senderByKey = new BoundedMap(); // sessionKey → last sender id
    this.tools = new BoundedMap(); // toolCallId → what before_tool_call saw
  }

  // Who and where, from whatever the hook's event and ctx carry.
  base(hook, event, ctx) {
    const e = event || {};
    const c = ctx || {};
    const sessionKey = str(c.sessionKey) || str(e.sessionKey);
    const runId = str(c.runId) || str(e.runId);
    let sessionId = str(c.sessionId) || str(e.sessionId);
    if (sessionId) {
      if (sessionKey) this.sessionIdByKey.set(sessionKey, sessionId);
      if (runId) this.sessionIdByRun.set(runId, sessionId);
    } else {
      // A run stays in the session it started in, even if its key has a
      // newer session by now; the key's latest session otherwise.
      sessionId = (runId && this.sessionIdByRun.get(runId)) || (sessionKey && (this.sessionIdByKey.get(sessionKey) || sessionKey)) || undefined;
    }
    const requester = c.requester && typeof c.requester === "object" ? c.requester : {};
    let user = str(requester.senderId) || str(c.senderId) || str(e.senderId);
    if (user) {
      this.senderByRun.set(runId, user);
      this.senderByKey.set(sessionKey, user);
    } else {
      user = (runId && this.senderByRun.get(runId)) || (sessionKey && this.senderByKey.get(sessionKey));
    }
    const trace = c.trace && typeof c.trace === "object" ? c.trace : {};
    const attributes = {
      hook,
      session_key: sessionKey,
      run_id: runId,
      channel_id: str(c.channelId),
      account_id: str(c.accountId) || str(requester.accountId),
      conversation_id: str(c.conversationId),
      message_id: str(c.messageId) || str(e.messageId),
      trigger: str(c.trigger),
      sender_is_owner: typeof requester.senderIsOwner === "boolean" ? requester.senderIsOwner : undefined,
    };
    return {
      session_id: sessionId,
      user_id: user,
      agent_id: str(c.agentId),
      channel: str(c.channelId) || str(c.channel) || str(requester.channel) || str(c.messageProvider),
      trace_id: str(trace.traceId),
      span_id: str(trace.spanId),
      parent_id: str(trace.parentSpanId),
      attributes,
    };
  }

  text(v, allowed, ev, field = "content") {
    if (typeof v !== "string") return undefined;
    if (allowed) return v;
    ev.attributes.omitted = [...(ev.attributes.omitted || []), field];
    ev.attributes[`${field}_bytes`] = Buffer.byteLength(v);
    return undefined;
  }

  message_received(event, ctx) {
    const ev = { type: "prompt", ...this.base("message_received", event, ctx) };
    ev.content = this.text(event.content, this.cfg.capture.prompts, ev);
    const meta = event.metadata && typeof event.metadata === "object" ? event.metadata : {};
    Object.assign(ev.attributes, {
      from: str(event.from),
      thread_id: event.threadId !== undefined ? String(event.threadId) : undefined,
      provider: str(meta.provider),
      surface: str(meta.surface),
      message_time: num(event.timestamp) ? new Date(event.timestamp).toISOString() : undefined,
    });
    return ev;
  }

  llm_input(event, ctx) {
    const ev = { type: "prompt", ...this.base("llm_input", event, ctx), model: str(event.model) };
    ev.content = this.text(event.prompt, this.cfg.capture.prompts, ev);
    // The system prompt (~47 KB), the history and the tool catalog are not
    // copied into every turn: sizes and hashes say what was sent, and that
    // it changed, without storing it again.
    const sys = typeof event.systemPrompt === "string" ? event.systemPrompt : undefined;
    const tools = Array.isArray(event.tools) ? event.tools : undefined;
    let toolsHash;
    try {
      toolsHash = tools ? sha256(JSON.stringify(jsonSafe(tools))) : undefined;
    } catch {}
    Object.assign(ev.attributes, {
      provider: str(event.provider),
      system_prompt_bytes: sys !== undefined ? Buffer.byteLength(sys) : undefined,
      system_prompt_sha256: sys !== undefined ? sha256(sys) : undefined,
      history_messages: Array.isArray(event.historyMessages) ? event.historyMessages.length : undefined,
      tools_count: tools ? tools.length : undefined,
      tools_sha256: toolsHash,
      images_count: num(event.imagesCount),
    });
    return ev;
  }

  llm_output(event, ctx) {
    const ev = { type: "output", ...this.base("llm_output", event, ctx), model: str(event.model) };
    const texts = Array.isArray(event.assistantTexts) ? event.assistantTexts.filter((t) => typeof t === "string") : [];
    ev.content = this.text(texts.join("\n\n"), this.cfg.capture.outputs, ev);
    const u = event.usage && typeof event.usage === "object" ? event.usage : undefined;
    if (u) {
      const input = num(u.input);
      const output = num(u.output);
      ev.usage = {
        input_tokens: input,
        output_tokens: output,
        cache_read_tokens: num(u.cacheRead),
        cache_write_tokens: num(u.cacheWrite),
        total_tokens: num(u.total),
      };
      const total = num(u.total) ?? (input !== undefined || output !== undefined ? (input || 0) + (output || 0) : undefined);
      if (total !== undefined) ev.tokens_used = Math.round(total);
    }
    Object.assign(ev.attributes, {
      provider: str(event.provider),
      resolved_ref: str(event.resolvedRef),
      harness_id: str(event.harnessId),
      reasoning_effort: str(event.reasoningEffort),
      assistant_texts: texts.length,
    });
    return ev;
  }

  tool(hook, event, ctx) {
    const callId = str(event.toolCallId) || str(ctx.toolCallId);
    const ev = { type: "tool_call", ...this.base(hook, event, ctx), tool: str(event.toolName) || str(ctx.toolName) };
    const prior = callId ? this.tools.get(callId) : undefined;
    if (prior) {
      // after_tool_call's ctx is thinner than before_tool_call's.
      for (const k of ["user_id", "channel", "trace_id", "session_id"]) ev[k] ??= prior[k];
    }
    // The tool call is a span of its own (its toolCallId), a child of the run's span.
    const runSpan = ev.span_id;
    ev.parent_id = (prior && prior.parent_id) || runSpan;
    ev.span_id = callId || runSpan;
    if (ev.span_id === ev.parent_id) ev.parent_id = undefined;
    ev.attributes.tool_call_id = callId;
    ev.attributes.tool_kind = str(event.toolKind) || str(ctx.toolKind);
    if (event.params && typeof event.params === "object") {
      if (this.cfg.capture.toolArguments) ev.arguments = event.params;
      else ev.attributes.omitted = ["arguments"];
    }
    return ev;
  }

  before_tool_call(event, ctx) {
    const ev = this.tool("before_tool_call", event, ctx);
    ev.status = "started";
    if (Array.isArray(event.derivedPaths)) ev.attributes.derived_paths = event.derivedPaths.filter((p) => typeof p === "string").slice(0, 50);
    const callId = ev.attributes.tool_call_id;
    if (callId) {
      this.tools.set(callId, {
        user_id: ev.user_id,
        channel: ev.channel,
        trace_id: ev.trace_id,
        session_id: ev.session_id,
        parent_id: ev.parent_id,
      });
    }
    return ev;
  }

  after_tool_call(event, ctx) {
    const ev = this.tool("after_tool_call", event, ctx);
    const callId = ev.attributes.tool_call_id;
    if (callId) this.tools.delete(callId);
    const r = event.result;
    const details = r && typeof r === "object" && r.details && typeof r.details === "object" ? r.details : undefined;
    const dstatus = details && str(details.status);
    if (event.error !== undefined && event.error !== null && event.error !== "") {
      ev.status = "error";
      ev.error = typeof event.error === "string" ? event.error : jsonText(event.error, this.cfg.maxFieldBytes);
    } else if (dstatus === "approval-pending") ev.status = "pending";
    else if (dstatus === "approval-unavailable") ev.status = "blocked";
    else if (dstatus === "failed" || dstatus === "error") ev.status = "error";
    else ev.status = "success";
    ev.duration_ms = num(event.durationMs);
    if (r !== undefined) {
      if (this.cfg.capture.toolResults) ev.result = toolResult(r, this.cfg.maxFieldBytes);
      else ev.attributes.omitted = [...(ev.attributes.omitted || []), "result"];
    }
    if (details) {
      const d = {};
      for (const [k, v] of Object.entries(details)) {
        if (typeof v === "number" || typeof v === "boolean") d[k] = v;
        else if (typeof v === "string" && v.length <= 512 && DETAIL_STRINGS.has(k)) d[k] = v;
      }
      if (Object.keys(d).length) ev.attributes.tool_details = d;
      if (num(details.exitCode) !== undefined && details.exitCode !== 0 && ev.status === "success") ev.status = "error";
    }
    return ev;
  }

  agent_end(event, ctx) {
    const ev = { type: "agent_end", ...this.base("agent_end", event, ctx) };
    ev.status = event.success === false ? "error" : event.success === true ? "success" : undefined;
    ev.error = typeof event.error === "string" ? event.error : undefined;
    ev.duration_ms = num(event.durationMs);
    ev.model = str(ctx.modelId);
    Object.assign(ev.attributes, {
      message_count: Array.isArray(event.messages) ? event.messages.length : undefined,
      provider: str(ctx.modelProviderId),
    });
    return ev;
  }

  session_start(event, ctx) {
    const ev = { type: "session_start", ...this.base("session_start", event, ctx) };
    ev.attributes.resumed_from = str(event.resumedFrom);
    return ev;
  }

  session_end(event, ctx) {
    const ev = { type: "session_end", ...this.base("session_end", event, ctx) };
    ev.reason = str(event.reason);
    ev.duration_ms = num(event.durationMs);
    Object.assign(ev.attributes, {
      message_count: num(event.messageCount),
      next_session_id: str(event.nextSessionId),
      next_session_key: str(event.nextSessionKey),
      transcript_archived: typeof event.transcriptArchived === "boolean" ? event.transcriptArchived : undefined,
    });
    return ev;
  }

  message_sent(event, ctx) {
    const ev = { type: "message_sent", ...this.base("message_sent", event, ctx) };
    ev.content = this.text(event.content, this.cfg.capture.outputs, ev);
    ev.status = event.success === false ? "error" : "success";
    ev.error = typeof event.error === "string" ? event.error : undefined;
    ev.attributes.to = str(event.to);
    return ev;
  }

  model_call_ended(event, ctx) {
    if (!this.cfg.capture.modelCalls) return undefined;
    const ev = { type: "model_call", ...this.base("model_call_ended", event, ctx), model: str(event.model) };
    ev.duration_ms = num(event.durationMs);
    ev.status = event.outcome === "error" ? "error" : "success";
    ev.error = event.outcome === "error" ? str(event.failureKind) || str(event.errorCategory) || "error" : undefined;
    Object.assign(ev.attributes, {
      provider: str(event.provider),
      call_id: str(event.callId),
      api: str(event.api),
      transport: str(event.transport),
      request_bytes: num(event.requestPayloadBytes),
      response_bytes: num(event.responseStreamBytes),
      time_to_first_byte_ms: num(event.timeToFirstByteMs),
      error_category: str(event.errorCategory),
      upstream_request_id_hash: str(event.upstreamRequestIdHash),
    });
    return ev;
  }

  subagent_spawned(event, ctx) {
    const ev = { type: "subagent_spawned", ...this.base("subagent_spawned", {}, requesterCtx(ctx)) };
    ev.attributes.child_run_id = str(ctx.runId) || str(event.runId);
    Object.assign(ev.attributes, {
      child_session_key: str(event.childSessionKey),
      child_agent_id: str(event.agentId),
      label: str(event.label),
      mode: str(event.mode),
    });
    return ev;
  }

  subagent_ended(event, ctx) {
    const ev = { type: "subagent_ended", ...this.base("subagent_ended", {}, requesterCtx(ctx)) };
    ev.attributes.child_run_id = str(ctx.runId) || str(event.runId);
    ev.status = str(event.outcome);
    ev.reason = str(event.reason);
    ev.error = str(event.error);
    Object.assign(ev.attributes, { target_session_key: str(event.targetSessionKey), target_kind: str(event.targetKind) });
    return ev;
  }

  gateway_start(event) {
    // Never ctx: it holds the whole config, secrets included.
    return { type: "gateway_start", attributes: { hook: "gateway_start", port: num(event.port) } };
  }

  gateway_stop(event) {
    return { type: "gateway_stop", reason: str(event.reason), attributes: { hook: "gateway_stop" } };
  }

  /** An agent event on the "approval" stream (exec approvals). */
  approval(evt) {
    const d = evt && evt.data && typeof evt.data === "object" ? evt.data : {};
    const ctx = { sessionKey: evt.sessionKey, sessionId: evt.sessionId, runId: evt.runId, agentId: evt.agentId };
    const ev = { type: "approval", ...this.base("agent_event:approval", {}, ctx) };
    const toolCallId = str(d.toolCallId);
    const prior = toolCallId ? this.tools.get(toolCallId) : undefined;
    if (prior) for (const k of ["user_id", "channel", "trace_id"]) ev[k] ??= prior[k];
    ev.tool = str(d.kind) === "exec" || !str(d.kind) ? "exec" : str(d.kind);
    ev.parent_id = toolCallId || ev.parent_id;
    const phase = str(d.phase);
    const status = str(d.status);
    if (phase === "requested") ev.status = status === "unavailable" ? "blocked" : "pending";
    else if (status === "denied" || status === "failed") {
      ev.status = "denied";
      ev.decision = "denied";
    } else if (status === "approved" || status === "allowed") {
      ev.status = "approved";
      ev.decision = "approved";
    } else ev.status = status;
    ev.reason = str(d.reason) || str(d.message);
    if (str(d.command) !== undefined || str(d.host) !== undefined) {
      if (this.cfg.capture.toolArguments) ev.arguments = { command: str(d.command), host: str(d.host) };
      else ev.attributes.omitted = ["arguments"];
    }
    Object.assign(ev.attributes, {
      phase,
      approval_status: status,
      approval_kind: str(d.kind),
      approval_id: str(d.approvalId),
      approval_slug: str(d.approvalSlug),
      title: str(d.title),
      tool_call_id: toolCallId,
      stream_seq: num(evt.seq),
    });
    return ev;
  }
}

// A subagent hook's ctx is {runId, childSessionKey, requesterSessionKey}
// and both runIds (ctx's, event's) are the child's: the event belongs to the
// requester's session, so it is read as the requester's session key (mapped
// to its session id), and the child's run is attributes.child_run_id.
function requesterCtx(ctx) {
  return { sessionId: ctx.sessionId, sessionKey: str(ctx.sessionKey) || str(ctx.requesterSessionKey) };
}

// Tool result details kept as attributes.tool_details: numbers, booleans
// and these strings (never output text: "aggregated" repeats the output).
const DETAIL_STRINGS = new Set(["status", "exitReason", "cwd", "host", "reason", "mode", "kind", "approvalId", "approvalSlug"]);

// OpenClaw tool results are {content: [{type: "text", text}], details}; the
// text is what the model saw, so it is the result. Anything else is kept as
// it is. Only the parts that can fill max bytes are read (a result may have
// millions): whether the result is text is decided by those, and what is
// left out is a TextHead's or Head's to say.
function toolResult(r, max) {
  if (!r || typeof r !== "object" || !Array.isArray(r.content)) return r;
  const parts = r.content;
  const total = parts.length;
  const texts = [];
  let units = 0;
  let text = total > 0;
  for (let i = 0; i < total && units <= max; i++) {
    const p = parts[i];
    if (!(p && p.type === "text" && typeof p.text === "string")) {
      text = false;
      break;
    }
    texts.push(p.text);
    units += p.text.length + 1;
  }
  if (!text) {
    const n = Math.min(total, max + 1); // each part is at least 2 bytes of JSON
    const mapped = [];
    for (let i = 0; i < n; i++) {
      const p = parts[i];
      mapped.push(p && p.type === "text" ? p.text : p && p.type ? { type: p.type } : p);
    }
    return n < total ? new Head(mapped, total) : mapped;
  }
  if (texts.length === total && units <= max + 1) return texts.join("\n");
  // Cut: the parts read, the last one cut to what still fits.
  const last = texts.pop();
  let bytes = 0;
  for (const t of texts) bytes += Buffer.byteLength(t) + 1;
  const head = texts.join("\n") + (texts.length ? "\n" : "");
  const exact = texts.length + 1 === total && last.length <= EXACT_TEXT;
  bytes += exact ? Buffer.byteLength(last) : last.length;
  bytes += total - texts.length - 1; // a newline before each part not read, at least
  return new TextHead(head + last.slice(0, Math.max(0, max + 2 - head.length)), bytes, exact);
}

// ---------------------------------------------------------------- plugin

const HOOKS = [
  "message_received",
  "llm_input",
  "llm_output",
  "before_tool_call",
  "after_tool_call",
  "agent_end",
  "session_start",
  "session_end",
  "message_sent",
  "model_call_ended",
  "subagent_spawned",
  "subagent_ended",
  "gateway_start",
  "gateway_stop",
];

const RECORDERS = Symbol.for("clawtrail.openclaw.recorders");

// One recorder per configuration per process: OpenClaw may register the
// plugin again (config reload); the new registration takes over the spool.
function recorderFor(cfg, logger) {
  const all = (globalThis[RECORDERS] ??= new Map());
  const key = JSON.stringify(cfg);
  let r = all.get(key);
  if (r && !r.closed) return r;
  for (const [k, old] of all) {
    if (old.cfg.spoolDir === cfg.spoolDir) {
      old.close();
      all.delete(k);
    }
  }
  r = new Recorder(cfg, logger);
  all.set(key, r);
  return r;
}

/** Registers the hooks on api (OpenClaw's plugin API). Returns the recorder. */
export function register(api) {
  const logger = api.logger || console;
  let stateDir;
  try {
    stateDir = api.runtime && api.runtime.state && api.runtime.state.resolveStateDir ? api.runtime.state.resolveStateDir() : undefined;
  } catch {}
  const cfg = resolveConfig(api.pluginConfig, process.env, stateDir);
  const recorder = recorderFor(cfg, logger);
  const mapper = new Mapper(cfg);
  const reporter = recorder.reporter;

  const capture = (hook, event, ctx) => {
    try {
      if (!cfg.enabled) return;
      const ev = mapper[hook](event || {}, ctx || {});
      if (ev) recorder.record(ev);
    } catch (err) {
      reporter.warn(`hook:${hook}`, `${hook}: ${err && err.message}`);
    }
  };
  const flushFor = (ms) => recorder.flush(Math.max(0, ms)).catch(() => {});

  for (const hook of HOOKS) {
    let handler;
    if (hook === "gateway_stop") {
      // Awaited by OpenClaw (5 s budget): a short final delivery.
      handler = (event, ctx) => {
        capture(hook, event, ctx);
        return flushFor(cfg.finalFlushMs).then(() => undefined);
      };
    } else if (hook === "session_end") {
      handler = (event, ctx) => {
        capture(hook, event, ctx);
        const reason = event && event.reason;
        // Shutdown and restart share a 2 s drain across every plugin.
        if (reason === "shutdown" || reason === "restart") return flushFor(Math.min(cfg.finalFlushMs, 1000)).then(() => undefined);
        recorder.sender.kick();
        return undefined;
      };
    } else if (hook === "agent_end") {
      handler = (event, ctx) => {
        capture(hook, event, ctx);
        if (recorder.started) recorder.sender.kick(); // deliver the turn now; not awaited
        return undefined;
      };
    } else {
      // Synchronous and returns nothing: never a decision, never a delay.
      handler = (event, ctx) => {
        capture(hook, event, ctx);
        return undefined;
      };
    }
    try {
      api.on(hook, handler);
    } catch (err) {
      reporter.warn(`on:${hook}`, `cannot register ${hook}: ${err && err.message}`);
    }
  }

  // Exec approvals reach plugins as agent events on the "approval" stream.
  const subscription = {
    id: "clawtrail-approvals",
    description: "records exec approval requests and denials",
    streams: ["approval"],
    handle: (evt) => {
      try {
        if (cfg.enabled) recorder.record(mapper.approval(evt || {}));
      } catch (err) {
        reporter.warn("approval", `approval event: ${err && err.message}`);
      }
    },
  };
  try {
    const events = api.agent && api.agent.events;
    if (events && typeof events.registerAgentEventSubscription === "function") events.registerAgentEventSubscription(subscription);
    else if (typeof api.registerAgentEventSubscription === "function") api.registerAgentEventSubscription(subscription);
  } catch (err) {
    reporter.warn("approvalsub", `cannot subscribe to approval events: ${err && err.message}`);
  }

  const mode = api.registrationMode;
  if (cfg.enabled && (mode === undefined || mode === "full")) recorder.start();
  return recorder;
}

export default {
  id: PLUGIN_ID,
  name: "clawtrail",
  description: "Tamper-evident audit trail for OpenClaw agents (clawtrail)",
  version: VERSION,
  register(api) {
    try {
      register(api);
    } catch (err) {
      try {
        (api.logger || console).error(`clawtrail: not recording: ${err && err.message}`);
      } catch {}
    }
  },
};
