/**
 * A table's catalog signature: every property a swap could lose, by name, never by oid. The swap is
 * done inside a savepoint and kept only when the swapped-in table's signature equals the target's
 * before it (publish.ts); anything that differs, whatever it is, makes the publish an INSERT instead.
 * So "the stage became the same table" is checked on the result, not assumed from a list of cases.
 */
import type pg from 'pg';

export type TableSignature = Record<string, unknown>;

/** One query per aspect; each returns one json value. `$1` is the table's oid. */
const ASPECTS: Record<string, string> = {
  relation: `SELECT json_build_object(
      'kind', c.relkind, 'persistence', c.relpersistence, 'owner', pg_get_userbyid(c.relowner),
      'tablespace', (SELECT spcname FROM pg_tablespace WHERE oid = c.reltablespace),
      'am', (SELECT amname FROM pg_am WHERE oid = c.relam), 'options', c.reloptions,
      'toastOptions', (SELECT t.reloptions FROM pg_class t WHERE t.oid = c.reltoastrelid),
      'acl', c.relacl::text, 'rls', c.relrowsecurity, 'forceRls', c.relforcerowsecurity,
      'replicaIdentity', c.relreplident, 'partition', c.relispartition,
      'comment', obj_description(c.oid, 'pg_class'))
    FROM pg_class c WHERE c.oid = $1`,
  columns: `SELECT json_agg(json_build_object(
      'name', a.attname, 'type', format_type(a.atttypid, a.atttypmod),
      'collation', (SELECT collname FROM pg_collation WHERE oid = a.attcollation), 'notNull', a.attnotnull,
      'default', pg_get_expr(d.adbin, d.adrelid), 'identity', a.attidentity, 'generated', a.attgenerated,
      'statistics', a.attstattarget, 'options', a.attoptions, 'storage', a.attstorage, 'compression', a.attcompression,
      'acl', a.attacl::text, 'comment', col_description(a.attrelid, a.attnum)) ORDER BY a.attnum)
    FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped`,
  constraints: `SELECT json_agg(json_build_object(
      'name', conname, 'type', contype, 'definition', pg_get_constraintdef(oid), 'deferrable', condeferrable,
      'deferred', condeferred, 'validated', convalidated, 'comment', obj_description(oid, 'pg_constraint')) ORDER BY conname)
    FROM pg_constraint WHERE conrelid = $1`,
  indexes: `SELECT json_agg(json_build_object(
      'name', ic.relname, 'definition', pg_get_indexdef(i.indexrelid),
      'tablespace', (SELECT spcname FROM pg_tablespace WHERE oid = ic.reltablespace), 'options', ic.reloptions,
      'clustered', i.indisclustered, 'replicaIdentity', i.indisreplident, 'comment', obj_description(ic.oid, 'pg_class'),
      'statistics', (SELECT json_agg(attstattarget ORDER BY attnum) FROM pg_attribute WHERE attrelid = ic.oid)) ORDER BY ic.relname)
    FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid WHERE i.indrelid = $1`,
  triggers: `SELECT json_agg(json_build_object('name', tgname, 'definition', pg_get_triggerdef(oid), 'enabled', tgenabled,
      'comment', obj_description(oid, 'pg_trigger')) ORDER BY tgname)
    FROM pg_trigger WHERE tgrelid = $1 AND NOT tgisinternal`,
  policies: `SELECT json_agg(json_build_object('name', polname, 'command', polcmd, 'permissive', polpermissive,
      'roles', polroles::text, 'using', pg_get_expr(polqual, polrelid), 'check', pg_get_expr(polwithcheck, polrelid)) ORDER BY polname)
    FROM pg_policy WHERE polrelid = $1`,
  rules: `SELECT json_agg(json_build_object('name', rulename, 'definition', pg_get_ruledef(oid)) ORDER BY rulename)
    FROM pg_rewrite WHERE ev_class = $1`,
  publications: `SELECT json_agg(p.pubname ORDER BY p.pubname) FROM pg_publication_rel r JOIN pg_publication p ON p.oid = r.prpubid WHERE r.prrelid = $1`,
  statistics: `SELECT json_agg(json_build_object('name', stxname, 'definition', pg_get_statisticsobjdef(oid)) ORDER BY stxname)
    FROM pg_statistic_ext WHERE stxrelid = $1`,
  securityLabels: `SELECT json_agg(json_build_object('provider', provider, 'column', objsubid, 'label', label) ORDER BY provider, objsubid)
    FROM pg_seclabel WHERE classoid = 'pg_class'::regclass AND objoid = $1`,
  inheritance: `SELECT json_build_object(
      'parents', (SELECT json_agg(inhparent::regclass::text ORDER BY inhseqno) FROM pg_inherits WHERE inhrelid = $1),
      'children', (SELECT json_agg(inhrelid::regclass::text ORDER BY 1) FROM pg_inherits WHERE inhparent = $1))`,
  // Everything else that depends on the table (views, other tables' foreign keys, owned sequences,
  // policies elsewhere, functions of its row type ...), described by name.
  dependents: `SELECT json_agg(d ORDER BY d) FROM (
      SELECT pg_describe_object(classid, objid, objsubid) || ' (' || deptype::text || ', on ' || coalesce(nullif(refobjsubid, 0)::text, 'table') || ')' AS d
        FROM pg_depend WHERE refclassid = 'pg_class'::regclass AND refobjid = $1 AND deptype IN ('n', 'a')
      UNION ALL
      SELECT pg_describe_object(d.classid, d.objid, d.objsubid) || ' (row type)'
        FROM pg_depend d JOIN pg_class c ON c.oid = $1 WHERE d.refclassid = 'pg_type'::regclass AND d.refobjid = c.reltype AND d.deptype = 'n') s`,
};

export async function readTableSignature(client: pg.Client, oid: number): Promise<TableSignature> {
  const signature: TableSignature = {};
  for (const [aspect, sql] of Object.entries(ASPECTS)) {
    const { rows } = await client.query<{ value: unknown }>(`SELECT (${sql}) AS value`, [oid]);
    signature[aspect] = rows[0].value;
  }
  return signature;
}

/** The aspects in which two signatures differ, with the first difference of each, for the report. */
export function signatureDifferences(before: TableSignature, after: TableSignature): string[] {
  const differences: string[] = [];
  for (const aspect of Object.keys(ASPECTS)) {
    const a = JSON.stringify(before[aspect] ?? null);
    const b = JSON.stringify(after[aspect] ?? null);
    if (a !== b) differences.push(`${aspect}: ${firstDifference(before[aspect], after[aspect])}`);
  }
  return differences;
}

function firstDifference(before: unknown, after: unknown): string {
  if (Array.isArray(before) && Array.isArray(after)) {
    for (let i = 0; i < Math.max(before.length, after.length); i++) {
      if (JSON.stringify(before[i]) !== JSON.stringify(after[i])) return `${JSON.stringify(before[i] ?? null)} became ${JSON.stringify(after[i] ?? null)}`;
    }
  }
  if (before && after && typeof before === 'object' && typeof after === 'object') {
    for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
      const a = (before as Record<string, unknown>)[key];
      const b = (after as Record<string, unknown>)[key];
      if (JSON.stringify(a) !== JSON.stringify(b)) return `${key} ${JSON.stringify(a ?? null)} became ${JSON.stringify(b ?? null)}`;
    }
  }
  return `${JSON.stringify(before ?? null)} became ${JSON.stringify(after ?? null)}`;
}
