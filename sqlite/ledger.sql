-- clawtrail ledger schema, version 1. The ledger is the source of truth;
-- everything else (the search index in index.db) is rebuilt from it.
CREATE TABLE IF NOT EXISTS meta(
  name TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tenants(
  tid INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
);
-- One row per event; g is the global commit order, seq the dense per-tenant index.
-- body and salt are NULL once deleted (retention, erasure); the leaf columns stay.
CREATE TABLE IF NOT EXISTS events(
  g INTEGER PRIMARY KEY,
  tid INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  id TEXT NOT NULL,
  received_at INTEGER NOT NULL,
  type TEXT NOT NULL,
  key_id TEXT NOT NULL,
  body_commit BLOB NOT NULL,
  leaf_hash BLOB NOT NULL,
  req_hash BLOB NOT NULL, -- idempotency: hash of the canonical body the client sent
  salt BLOB,
  body BLOB
);
CREATE UNIQUE INDEX IF NOT EXISTS events_tid_seq ON events(tid, seq);
-- Idempotency: an id is unique in its tenant for ever (rows are never
-- deleted; retention and erasure clear body and salt only).
CREATE UNIQUE INDEX IF NOT EXISTS events_tid_id ON events(tid, id);
CREATE TABLE IF NOT EXISTS api_keys(
  id TEXT PRIMARY KEY,
  tenant TEXT NOT NULL,
  role TEXT NOT NULL,
  root INTEGER NOT NULL DEFAULT 0,
  name TEXT NOT NULL DEFAULT '',
  secret_hash BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER
);
