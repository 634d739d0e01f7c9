-- clawtrail ledger schema, version 2 (1 + the tamper-evidence tables). The ledger is the source of truth;
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
  revoked_at INTEGER,
  last_used INTEGER -- written at most once a minute per key
);
-- Tamper evidence (version 2). One RFC 6962 tree per tenant over the leaf
-- hashes in events.leaf_hash (the tree's level 0, tlog tile level 0); all of
-- it is written in the same transaction as the events it covers.
-- trees: each tenant's tree state: size, the compact range's hashes
-- (32 bytes each, concatenated) and the latest signed checkpoint.
CREATE TABLE IF NOT EXISTS trees(
  tid INTEGER PRIMARY KEY,
  size INTEGER NOT NULL,
  compact BLOB NOT NULL,
  checkpoint TEXT NOT NULL
);
-- tiles: the hashes of tree level 8*level (level >= 1) in x/mod/sumdb/tlog
-- layout: tile idx holds node indexes [idx*256, idx*256 + width), 32 bytes
-- each; a partial tile grows in place until it holds 256.
CREATE TABLE IF NOT EXISTS tiles(
  tid INTEGER NOT NULL,
  level INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  hashes BLOB NOT NULL,
  PRIMARY KEY(tid, level, idx)
) WITHOUT ROWID;
-- checkpoints: the history, at most one per checkpoint interval per tenant
-- (the latest is always in trees.checkpoint).
CREATE TABLE IF NOT EXISTS checkpoints(
  tid INTEGER NOT NULL,
  size INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  note TEXT NOT NULL,
  PRIMARY KEY(tid, size)
) WITHOUT ROWID;
-- cosignatures: witness signature lines (C2SP tlog-cosignature) on a
-- checkpoint of the history.
CREATE TABLE IF NOT EXISTS cosignatures(
  tid INTEGER NOT NULL,
  size INTEGER NOT NULL,
  name TEXT NOT NULL,
  key_hash INTEGER NOT NULL,
  line TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY(tid, size, name, key_hash)
) WITHOUT ROWID;
-- signing_keys: every key that signed checkpoints, with its validity.
CREATE TABLE IF NOT EXISTS signing_keys(
  vkey TEXT PRIMARY KEY,
  valid_from INTEGER NOT NULL,
  valid_to INTEGER
);
-- Data protection (version 3). tenant_keys: one secret per tenant, sealed by
-- the master key when there is one (wrapped = 1), else kept as is (the
-- tenant's fingerprint and pseudonym keys derive from it). data_keys: one
-- data key per data subject (subject = a keyed hash of user_id, or of "" for
-- the tenant), wrapped by the tenant's wrapping key; wrapped is NULL once the
-- key is destroyed (erasure). held = 1 for a key that re-keyed a subject's
-- events under a legal hold.
CREATE TABLE IF NOT EXISTS tenant_keys(
  tid INTEGER PRIMARY KEY,
  secret BLOB NOT NULL,
  wrapped INTEGER NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS data_keys(
  id INTEGER PRIMARY KEY,
  tid INTEGER NOT NULL,
  subject BLOB NOT NULL,
  held INTEGER NOT NULL DEFAULT 0,
  wrapped BLOB,
  created_at INTEGER NOT NULL,
  destroyed_at INTEGER
);
CREATE INDEX IF NOT EXISTS data_keys_subject ON data_keys(tid, subject);
-- retention: each tenant's policy in force (the config_change event that set
-- it is in the ledger at set_seq; verify reads the ledger, not this table).
CREATE TABLE IF NOT EXISTS retention(
  tid INTEGER PRIMARY KEY,
  keep_ns INTEGER NOT NULL,
  locked INTEGER NOT NULL,
  set_seq INTEGER NOT NULL,
  set_at INTEGER NOT NULL,
  next_seq INTEGER NOT NULL DEFAULT 0 -- where the next retention run starts examining
);
-- holds: legal holds; what (query, reason, who) is sealed under the tenant's
-- wrapping key when encryption is on, so no word of it sits in clear.
CREATE TABLE IF NOT EXISTS holds(
  id TEXT PRIMARY KEY,
  tid INTEGER NOT NULL,
  spec BLOB NOT NULL,
  sealed INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  created_seq INTEGER NOT NULL,
  released_at INTEGER,
  released_seq INTEGER
);
-- packs (version 4): the bodies in clear of up to 32 consecutive events of
-- a tenant (one multi-row insert), compressed together; each event's body
-- column then holds the byte 0x01 (sqlite/packs.go). lo is the first seq.
CREATE TABLE IF NOT EXISTS packs(
  tid INTEGER NOT NULL,
  lo INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY(tid, lo)
);
-- verify and retention read a tenant's tombstones and configuration changes
-- before its events.
CREATE INDEX IF NOT EXISTS events_special ON events(tid, seq) WHERE type IN ('tombstone', 'config_change');
