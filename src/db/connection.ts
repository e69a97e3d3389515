/**
 * Connections as psql makes them: a URL (`postgres://user:pass@host:port/db?sslmode=require`), or,
 * for whatever the URL leaves out, the PG* environment variables, then ~/.pgpass (PGPASSFILE), which
 * node-postgres reads itself. Passwords never appear in anything ploader prints: `describeConnection`
 * is the only way a connection is named in a message.
 */
import pg from 'pg';
import pgpass from 'pgpass';
import { PloaderError, serverFields } from '../errors.ts';

export const APPLICATION_NAME = 'ploader';

export function connectionConfig(db: string | undefined, role: string): pg.ClientConfig {
  // The role (e.g. `copy <runid>`) always ends the name: that is how a run finds its own sessions to cancel.
  const applicationName = `${process.env.PGAPPNAME ?? APPLICATION_NAME} ${role}`;
  const base = db === undefined ? {} : { connectionString: db };
  // node-postgres passes the resolved connection parameters to a password function (its types omit them).
  return { ...base, application_name: applicationName, password: passwordFor(db) as unknown as () => Promise<string> };
}

type PasswordLookup = (params: { host?: string; port?: number; database?: string; user?: string }) => Promise<string>;

/**
 * The password, looked up as psql does: the URL, then PGPASSWORD, then the pgpass file (~/.pgpass or
 * PGPASSFILE, via the `pgpass` module node-postgres itself uses). Asked for only when the server wants one.
 */
function passwordFor(db: string | undefined): PasswordLookup {
  return async (params) => {
    const given = (db === undefined ? undefined : passwordOf(db)) ?? process.env.PGPASSWORD;
    if (given !== undefined) return given;
    const fromFile = await new Promise<string | undefined>((resolve) => pgpass({ host: params.host, port: params.port, database: params.database, user: params.user }, resolve));
    if (fromFile !== undefined) return fromFile;
    throw new Error('no password supplied, and the server asks for one: put it in --db, PGPASSWORD or a pgpass file (~/.pgpass, or the file PGPASSFILE names)');
  };
}

/** `user@host:port/database` with no password, for messages. */
export function describeConnection(db: string | undefined): string {
  let user = process.env.PGUSER;
  let host = process.env.PGHOST ?? 'localhost';
  let port = process.env.PGPORT ?? '5432';
  let database = process.env.PGDATABASE;
  if (db !== undefined) {
    try {
      const url = new URL(db);
      user = decodeURIComponent(url.username) || user;
      host = url.hostname || host;
      port = url.port || port;
      database = decodeURIComponent(url.pathname.replace(/^\//, '')) || database;
    } catch {
      return 'the server named by --db (not a valid URL)';
    }
  }
  return `${user ?? '(default user)'}@${host}:${port}/${database ?? user ?? '(default database)'}`;
}

/**
 * Removes passwords from text that might quote a connection string: URL userinfo and `password=`
 * settings. Messages name servers with `describeConnection`, which never holds one.
 */
export function redact(text: string): string {
  return text.replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)[^@\s]*@/g, '$1***@').replace(/(password\s*=\s*)('[^']*'|\S+)/gi, '$1***');
}

function passwordOf(db: string): string | undefined {
  try {
    return decodeURIComponent(new URL(db).password) || undefined;
  } catch {
    return undefined;
  }
}

/** Opens a connection; any failure becomes a CONNECTION_FAILED error that names the server but never the password. */
export async function connect(db: string | undefined, role: string): Promise<pg.Client> {
  const client = new pg.Client(connectionConfig(db, role));
  // An idle client whose server goes away emits 'error'; the next query reports it instead of crashing the process.
  client.on('error', () => {});
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => {});
    const fields = serverFields(error);
    const reason = redact(error instanceof Error ? error.message : String(error));
    throw new PloaderError(
      'CONNECTION_FAILED',
      `could not connect to ${describeConnection(db)}: ${reason} — check --db or the PG* environment variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE)`,
      { server: fields },
    );
  }
}
