/**
 * Connections as psql makes them: a URL (`postgres://user:pass@host:port/db?sslmode=require`), or,
 * for whatever the URL leaves out, the PG* environment variables, then ~/.pgpass (PGPASSFILE), which
 * node-postgres reads itself. Passwords never appear in anything ploader prints: `describeConnection`
 * is the only way a connection is named in a message.
 */
import pg from 'pg';
import { PloaderError, serverFields } from './errors.ts';

export const APPLICATION_NAME = 'ploader';

export function connectionConfig(db: string | undefined, role: string): pg.ClientConfig {
  // The role (e.g. `copy <runid>`) always ends the name: that is how a run finds its own sessions to cancel.
  const applicationName = `${process.env.PGAPPNAME ?? APPLICATION_NAME} ${role}`;
  return db === undefined
    ? { application_name: applicationName }
    : { connectionString: db, application_name: applicationName };
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

/** Removes a password from any text that might quote a connection URL. */
export function redact(text: string, db: string | undefined): string {
  let out = text.replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)[^@\s]*@/g, '$1***@');
  const password = db === undefined ? process.env.PGPASSWORD : passwordOf(db) ?? process.env.PGPASSWORD;
  if (password) out = out.split(password).join('***');
  return out;
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
    const reason = redact(error instanceof Error ? error.message : String(error), db);
    throw new PloaderError(
      'CONNECTION_FAILED',
      `could not connect to ${describeConnection(db)}: ${reason} — check --db or the PG* environment variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE)`,
      { server: fields },
    );
  }
}
