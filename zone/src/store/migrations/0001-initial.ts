// Migration 1: the zone's state, everything received from the global, and the zone's own services.
export const sql = `
-- Exactly one row. The cursor is absent until a sync completes (the next Hello is a first connect).
CREATE TABLE meta (
  id              INTEGER PRIMARY KEY CHECK (id = 1),
  store_id        TEXT NOT NULL,
  zone            TEXT NOT NULL,
  cursor_epoch    TEXT,
  cursor_revision INTEGER CHECK (cursor_revision >= 0),
  -- The last revision given to a write of an own service; every write takes the next one.
  zone_revision   INTEGER NOT NULL DEFAULT 0 CHECK (zone_revision >= 0),
  -- The highest zone revision the global has applied from this store.
  upstream_acked  INTEGER NOT NULL DEFAULT 0 CHECK (upstream_acked >= 0),
  CHECK ((cursor_epoch IS NULL) = (cursor_revision IS NULL))
) STRICT;

-- Every resource as the global published it, the zone's own services included (with their VIPs).
CREATE TABLE synced (
  type              TEXT NOT NULL,
  mesh              TEXT NOT NULL,
  zone              TEXT NOT NULL,
  name              TEXT NOT NULL,
  labels            TEXT NOT NULL,
  spec              TEXT NOT NULL,
  vips              TEXT NOT NULL,
  content_hash      TEXT NOT NULL,
  revision          INTEGER NOT NULL,
  creation_time     INTEGER NOT NULL,
  modification_time INTEGER NOT NULL,
  PRIMARY KEY (type, mesh, zone, name)
) STRICT;

-- The outbox: this zone's own MeshServices, authoritative here. A delete leaves a tombstone
-- (deleted = 1) until the global has applied it.
CREATE TABLE owned (
  mesh              TEXT NOT NULL,
  name              TEXT NOT NULL,
  labels            TEXT NOT NULL,
  spec              TEXT NOT NULL,
  content_hash      TEXT NOT NULL,
  -- UNIQUE: each write takes its own revision; it is also the index the outbox is read by.
  zone_revision     INTEGER NOT NULL UNIQUE,
  deleted           INTEGER NOT NULL DEFAULT 0 CHECK (deleted IN (0, 1)),
  creation_time     INTEGER NOT NULL,
  modification_time INTEGER NOT NULL,
  -- Why the global last refused this content, if it did.
  rejection         TEXT,
  PRIMARY KEY (mesh, name)
) STRICT;
`;
