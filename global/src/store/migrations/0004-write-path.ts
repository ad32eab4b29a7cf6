// Migration 4: fewer index entries per REST create, which writes a resource, a change and a lease.
// - resources_by_revision is never read: zones resume from the change log, not from resources.
// - vip_leases_reclaimable only ever answers "released, unpinned, oldest first": as a partial index
//   it holds those rows alone, so binding a lease (the common write) no longer touches it.
export const sql = `
DROP INDEX resources_by_revision;
DROP INDEX vip_leases_reclaimable;
CREATE INDEX vip_leases_reclaimable ON vip_leases (family, released_at, ip_key)
  WHERE state = 'released' AND pinned = 0;
`;
