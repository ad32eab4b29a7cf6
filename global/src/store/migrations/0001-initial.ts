// Migration 1: resources, change log, VIP leases with their audit, allocation cursors.
export const sql = `
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE resources (
  type              TEXT NOT NULL,
  mesh              TEXT NOT NULL,
  zone              TEXT NOT NULL DEFAULT '',
  name              TEXT NOT NULL,
  labels            TEXT NOT NULL,
  spec              TEXT NOT NULL,
  content_hash      TEXT NOT NULL,
  revision          INTEGER NOT NULL,
  creation_time     INTEGER NOT NULL,
  modification_time INTEGER NOT NULL,
  PRIMARY KEY (type, mesh, zone, name)
) STRICT;
CREATE INDEX resources_by_revision ON resources (revision);

-- One row per revision. AUTOINCREMENT: a revision is never reused, even after compaction.
CREATE TABLE changes (
  revision     INTEGER PRIMARY KEY AUTOINCREMENT,
  type         TEXT NOT NULL,
  mesh         TEXT NOT NULL,
  zone         TEXT NOT NULL,
  name         TEXT NOT NULL,
  op           TEXT NOT NULL CHECK (op IN ('upsert', 'delete')),
  content_hash TEXT,
  at           INTEGER NOT NULL
) STRICT;

-- A lease belongs to an identity, never to content. The UNIQUE constraints are the guarantee;
-- nothing relies on in-memory checks.
CREATE TABLE vip_leases (
  ip          TEXT NOT NULL UNIQUE,
  ip_key      TEXT NOT NULL,
  family      INTEGER NOT NULL CHECK (family IN (4, 6)),
  mesh        TEXT NOT NULL,
  zone        TEXT NOT NULL,
  name        TEXT NOT NULL,
  state       TEXT NOT NULL CHECK (state IN ('bound', 'released', 'reserved')),
  pinned      INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
  leased_at   INTEGER NOT NULL,
  released_at INTEGER,
  UNIQUE (mesh, zone, name, family),
  UNIQUE (family, ip_key)
) STRICT;
CREATE INDEX vip_leases_reclaimable ON vip_leases (family, state, pinned, released_at);

CREATE TABLE vip_cursors (
  cidr     TEXT PRIMARY KEY,
  next_key TEXT NOT NULL
) STRICT;

CREATE TABLE lease_events (
  id     INTEGER PRIMARY KEY AUTOINCREMENT,
  at     INTEGER NOT NULL,
  event  TEXT NOT NULL CHECK (event IN ('allocate', 'rebind', 'release', 'reclaim', 'pin', 'delete')),
  ip     TEXT NOT NULL,
  family INTEGER NOT NULL,
  mesh   TEXT NOT NULL,
  zone   TEXT NOT NULL,
  name   TEXT NOT NULL,
  reason TEXT NOT NULL
) STRICT;
CREATE INDEX lease_events_by_ip ON lease_events (ip, id);
`;
