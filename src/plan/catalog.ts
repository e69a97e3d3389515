/**
 * What the plan needs to know about the server and the target table, read from the catalog once
 * before anything is written.
 */
import type pg from 'pg';
import { PloaderError, serverFields } from '../errors.ts';
import { quoteIdent, qualified, type QualifiedName } from '../db/sql.ts';

export interface ColumnFacts {
  name: string;
  /** 'a' / 'd' for identity columns (ALWAYS / BY DEFAULT), '' otherwise. */
  identity: string;
  /** 's' for stored generated columns, '' otherwise. */
  generated: string;
  /** The identity column's sequence, qualified and quoted, for the stage's default. */
  identitySequence: string | null;
  /** The column's type as SQL spells it, with its modifier (format_type): `character varying(20)`. */
  type: string;
  /** The column's default expression as the server prints it (pg_get_expr), if it has one. */
  defaultExpr: string | null;
  /**
   * The sequence that fills the column when the file does not: an identity column's, or the one a
   * default of exactly `nextval('seq')` draws from (serial, bigserial, hand-made). Null otherwise.
   */
  sequence: SequenceFacts | null;
}

export interface SequenceFacts {
  name: QualifiedName;
  /** INCREMENT BY, as a decimal string (bigint range). */
  increment: string;
  /** The current role owns it (or is a member of its owner): it may ALTER it, which is how ids are reserved. */
  isOwner: boolean;
  cycle: boolean;
}

export interface IndexFacts {
  name: string;
  /** pg_get_indexdef(): `CREATE [UNIQUE] INDEX name ON schema.table USING ...`. */
  definition: string;
  unique: boolean;
  /** The definition from ` USING` on: method, keys, INCLUDE, WITH, WHERE. */
  usingClause: string;
  /** Key columns in order, or null for an expression or partial index. */
  keyColumns: string[] | null;
  /** The constraint the index backs (PRIMARY KEY / UNIQUE / EXCLUDE), if any. */
  constraintName: string | null;
  constraintType: 'p' | 'u' | 'x' | null;
}

export interface ServerFacts {
  versionNum: number;
  /** lc_messages: ploader reads one server message (ON_ERROR ignore's NOTICE) and only in English. */
  lcMessages: string;
  walLevel: 'minimal' | 'replica' | 'logical';
  maxParallelMaintenanceWorkers: number;
}

export interface TargetFacts {
  oid: number;
  table: QualifiedName;
  owner: string;
  isOwner: boolean;
  relkind: string;
  persistence: string;
  columns: ColumnFacts[];
  indexes: IndexFacts[];
  hasRows: boolean;
  /** Why the stage cannot simply take the target's place (empty when it can). */
  swapBlockers: string[];
}

export async function readServerFacts(client: pg.Client): Promise<ServerFacts> {
  const { rows } = await client.query<{ v: string; wal: string; pmw: string; lc: string }>(
    "SELECT current_setting('server_version_num') AS v, current_setting('wal_level') AS wal, current_setting('max_parallel_maintenance_workers') AS pmw, current_setting('lc_messages') AS lc",
  );
  return {
    versionNum: Number(rows[0].v),
    lcMessages: rows[0].lc,
    walLevel: rows[0].wal as ServerFacts['walLevel'],
    maxParallelMaintenanceWorkers: Number(rows[0].pmw),
  };
}

/** Resolves `name` as PostgreSQL resolves a table name (search_path, quoting) and reads its facts. */
export async function readTargetFacts(client: pg.Client, name: string): Promise<TargetFacts> {
  const oid = await resolveTable(client, name);
  const { rows: [rel] } = await client.query<{
    schema: string; name: string; owner: string; is_owner: boolean; relkind: string; persistence: string; can_insert: boolean;
  }>(
    `SELECT n.nspname AS schema, c.relname AS name, pg_get_userbyid(c.relowner) AS owner,
            pg_has_role(c.relowner, 'USAGE') AS is_owner, c.relkind::text AS relkind,
            c.relpersistence::text AS persistence, has_table_privilege(c.oid, 'INSERT') AS can_insert
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1`,
    [oid],
  );
  if (rel.relkind !== 'r' && rel.relkind !== 'p') {
    throw new PloaderError('TARGET_INVALID', `${name} is not a table (relkind ${rel.relkind}); ploader loads into tables`);
  }
  if (!rel.can_insert) {
    throw new PloaderError('TARGET_INVALID', `permission denied: the current user may not INSERT into ${name} — ask its owner (${rel.owner}) to GRANT INSERT`);
  }
  const table = { schema: rel.schema, name: rel.name };
  const { rows: columns } = await client.query<{
    name: string; type: string; identity: string; generated: string; seq: string | null; default_expr: string | null;
    seq_schema: string | null; seq_name: string | null; seq_increment: string | null; seq_owner: boolean | null; seq_cycle: boolean | null;
  }>(
    `SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attidentity::text AS identity, a.attgenerated::text AS generated,
            CASE WHEN a.attidentity <> '' THEN pg_get_serial_sequence($2, a.attname) END AS seq,
            pg_get_expr(ad.adbin, ad.adrelid) AS default_expr,
            sn.nspname AS seq_schema, sc.relname AS seq_name, sq.seqincrement::text AS seq_increment,
            pg_has_role(sc.relowner, 'USAGE') AS seq_owner, sq.seqcycle AS seq_cycle
       FROM pg_attribute a
       LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
       -- the filling sequence: an identity column's, or the one a plain nextval('seq') default depends on
       LEFT JOIN LATERAL (
         SELECT pg_get_serial_sequence($2, a.attname)::regclass::oid AS oid WHERE a.attidentity <> ''
         UNION ALL
         SELECT d.refobjid FROM pg_depend d
          WHERE a.attidentity = '' AND d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid AND d.refclassid = 'pg_class'::regclass
            AND pg_get_expr(ad.adbin, ad.adrelid) = 'nextval(' || quote_literal(d.refobjid::regclass::text) || '::regclass)'
       ) fill ON true
       LEFT JOIN pg_class sc ON sc.oid = fill.oid AND sc.relkind = 'S'
       LEFT JOIN pg_namespace sn ON sn.oid = sc.relnamespace
       LEFT JOIN pg_sequence sq ON sq.seqrelid = sc.oid
      WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
    [oid, qualified(table)],
  );
  const { rows: indexes } = await client.query<{
    name: string; definition: string; prefix: string; unique: boolean; conname: string | null; contype: string | null; key_columns: string[] | null;
  }>(
    `SELECT ic.relname AS name, pg_get_indexdef(i.indexrelid) AS definition, i.indisunique AS unique,
            -- pg_get_indexdef's fixed head, built with the same quoting and qualification rules it uses
            'CREATE ' || CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END || 'INDEX ' || quote_ident(ic.relname)
              || ' ON ' || CASE WHEN tc.relkind = 'p' THEN 'ONLY ' ELSE '' END || quote_ident(tn.nspname) || '.' || quote_ident(tc.relname) || ' ' AS prefix,
            con.conname, con.contype::text AS contype,
            -- plain column keys only: expression and partial indexes get NULL
            CASE WHEN i.indexprs IS NULL AND i.indpred IS NULL THEN
              ARRAY(SELECT a.attname FROM unnest(i.indkey[0:i.indnkeyatts - 1]) WITH ORDINALITY k(attnum, n)
                      JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n)::text[]
            END AS key_columns
       FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_class tc ON tc.oid = i.indrelid JOIN pg_namespace tn ON tn.oid = tc.relnamespace
       LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid AND con.contype IN ('p', 'u', 'x')
      WHERE i.indrelid = $1 ORDER BY ic.relname`,
    [oid],
  );
  const { rows: [{ has_rows: hasRows }] } = await client.query<{ has_rows: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM ${qualified(table)}) AS has_rows`,
  );
  return {
    oid,
    table,
    owner: rel.owner,
    isOwner: rel.is_owner,
    relkind: rel.relkind,
    persistence: rel.persistence,
    columns: columns.map((c) => ({
      name: c.name,
      type: c.type,
      identity: c.identity,
      generated: c.generated,
      identitySequence: c.seq,
      defaultExpr: c.default_expr,
      sequence:
        c.seq_schema === null || c.seq_name === null
          ? null
          : { name: { schema: c.seq_schema, name: c.seq_name }, increment: c.seq_increment!, isOwner: c.seq_owner === true, cycle: c.seq_cycle === true },
    })),
    indexes: indexes.map((i) => ({
      name: i.name,
      definition: i.definition,
      unique: i.unique,
      usingClause: usingClause(i.definition, i.prefix),
      keyColumns: i.key_columns,
      constraintName: i.conname,
      constraintType: (i.contype as IndexFacts['constraintType']) ?? null,
    })),
    hasRows,
    swapBlockers: await findSwapBlockers(client, oid, rel.relkind, rel.is_owner, columns),
  };
}

function usingClause(definition: string, prefix: string): string {
  if (!definition.startsWith(prefix) || !definition.slice(prefix.length).startsWith('USING ')) {
    throw new PloaderError('TARGET_INVALID', `cannot read the definition of an index of the target: ${definition}`);
  }
  return definition.slice(prefix.length);
}

async function resolveTable(client: pg.Client, name: string): Promise<number> {
  let oid: number | null;
  try {
    const { rows } = await client.query<{ oid: number | null }>('SELECT to_regclass($1)::oid AS oid', [name]);
    oid = rows[0].oid;
  } catch (error) {
    throw new PloaderError(
      'TARGET_INVALID',
      `${JSON.stringify(name)} is not a valid table name: ${(error as Error).message} — write it as in SQL, e.g. public.votes or "My Table" (with "" for a double quote inside)`,
      { server: serverFields(error), cause: error },
    );
  }
  if (oid === null) {
    throw new PloaderError(
      'TARGET_INVALID',
      `table ${name} does not exist (looked up as PostgreSQL does, with the search_path; quote mixed-case names: "MyTable") — create it first, or pass --table`,
    );
  }
  return Number(oid);
}

/**
 * Publishing by swap renames the stage into the target's place and carries over what hangs on the
 * target (indexes, constraints, triggers, grants, comments, owner, dependent views and foreign keys).
 * Whatever else depends on the target would be lost or would block the swap, so it is listed here
 * and the load appends with INSERT ... SELECT instead.
 */
async function findSwapBlockers(
  client: pg.Client,
  oid: number,
  relkind: string,
  isOwner: boolean,
  columns: Array<{ name: string; identity: string }>,
): Promise<string[]> {
  const blockers: string[] = [];
  if (relkind === 'p') blockers.push('the target is partitioned');
  if (!isOwner) blockers.push('the current user does not own the target');
  for (const c of columns) if (c.identity) blockers.push(`column ${quoteIdent(c.name)} is an identity column`);
  const { rows } = await client.query<{ blocker: string }>(
    `SELECT 'it has inheritance parents or children' AS blocker
        WHERE EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = $1 OR inhparent = $1)
     UNION ALL SELECT 'it has row-level security policies' WHERE EXISTS (SELECT 1 FROM pg_policy WHERE polrelid = $1)
     UNION ALL SELECT 'it is in a publication' WHERE EXISTS (SELECT 1 FROM pg_publication_rel WHERE prrelid = $1)
     UNION ALL SELECT 'it has extended statistics' WHERE EXISTS (SELECT 1 FROM pg_statistic_ext WHERE stxrelid = $1)
     UNION ALL SELECT 'it has rules' WHERE EXISTS (SELECT 1 FROM pg_rewrite WHERE ev_class = $1)
     UNION ALL SELECT 'materialized view ' || v.oid::regclass::text || ' depends on it'
       FROM pg_depend d JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
       JOIN pg_class v ON v.oid = r.ev_class
      WHERE d.refobjid = $1 AND d.refclassid = 'pg_class'::regclass AND v.relkind = 'm'
     UNION ALL SELECT 'view ' || v.oid::regclass::text || ' depends on it and is owned by another role'
       FROM pg_depend d JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
       JOIN pg_class v ON v.oid = r.ev_class
      WHERE d.refobjid = $1 AND d.refclassid = 'pg_class'::regclass AND v.relkind = 'v' AND NOT pg_has_role(v.relowner, 'USAGE')
     UNION ALL SELECT 'table ' || c.conrelid::regclass::text || ' references it and is owned by another role'
       FROM pg_constraint c JOIN pg_class r ON r.oid = c.conrelid
      WHERE c.confrelid = $1 AND c.contype = 'f' AND NOT pg_has_role(r.relowner, 'USAGE')
     UNION ALL SELECT 'its row type is used by ' || pg_describe_object(d.classid, d.objid, d.objsubid)
       FROM pg_depend d JOIN pg_class c ON c.oid = $1
      WHERE d.refclassid = 'pg_type'::regclass AND d.refobjid = c.reltype AND d.deptype = 'n'`,
    [oid],
  );
  return blockers.concat(rows.map((r) => r.blocker));
}
