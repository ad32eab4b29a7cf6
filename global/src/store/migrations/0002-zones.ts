// Migration 2: zone records for the sync stream, and two more lease events (adopt, adopt-conflict)
// for leases re-adopted from zone inventories after the database was replaced.
export const sql = `
CREATE TABLE zones (
  name                 TEXT PRIMARY KEY,
  zone_id              TEXT NOT NULL UNIQUE,
  generation           INTEGER NOT NULL DEFAULT 0,
  instance_id          TEXT NOT NULL DEFAULT '',
  store_id             TEXT NOT NULL DEFAULT '',
  upstream_watermark   INTEGER NOT NULL DEFAULT 0,
  acked_revision       INTEGER NOT NULL DEFAULT 0,
  created_at           INTEGER NOT NULL,
  connected_at         INTEGER,
  last_seen_at         INTEGER,
  last_mode            TEXT CHECK (last_mode IN ('full', 'incremental', 'reconcile')),
  last_error           TEXT,
  sessions_full        INTEGER NOT NULL DEFAULT 0,
  sessions_incremental INTEGER NOT NULL DEFAULT 0,
  sessions_reconcile   INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX changes_by_at ON changes (at);

CREATE TABLE lease_events_v2 (
  id     INTEGER PRIMARY KEY AUTOINCREMENT,
  at     INTEGER NOT NULL,
  event  TEXT NOT NULL CHECK (event IN ('allocate', 'rebind', 'release', 'reclaim', 'pin', 'delete', 'adopt', 'adopt-conflict')),
  ip     TEXT NOT NULL,
  family INTEGER NOT NULL,
  mesh   TEXT NOT NULL,
  zone   TEXT NOT NULL,
  name   TEXT NOT NULL,
  reason TEXT NOT NULL
) STRICT;
INSERT INTO lease_events_v2 SELECT * FROM lease_events;
DROP TABLE lease_events;
ALTER TABLE lease_events_v2 RENAME TO lease_events;
CREATE INDEX lease_events_by_ip ON lease_events (ip, id);
`;
