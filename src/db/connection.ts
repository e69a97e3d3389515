/**
 * Connections as psql makes them (conninfo.ts reads the string and the PG* variables), then the
 * password as libpq looks it up: the string, PGPASSWORD, then the pgpass file (~/.pgpass or
 * PGPASSFILE, through the `pgpass` module node-postgres itself uses), asked only when the server
 * wants one. node-postgres gets every parameter spelled out and never a connection string, so it
 * neither re-reads the environment nor overrides the password lookup (nor warns about either).
 * Passwords never appear in anything ploader prints: `describeConnection` names a server without one.
 */
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import pgpass from 'pgpass';
import { PloaderError, serverFields } from '../errors.ts';
import { SQLSTATE } from './sqlstate.ts';
import { redactConnectionString, resolveConnection, type ResolvedConnection } from './conninfo.ts';

/** PostgreSQL keeps NAMEDATALEN - 1 bytes of application_name and cuts the rest. */
export const MAX_APPLICATION_NAME_BYTES = 63;

/** Idle time before the first TCP keepalive probe: libpq's keepalives_idle is the OS default (2 h); a load cannot wait that long. */
const KEEPALIVE_IDLE_MS = 30_000;

export function resolveConnectionOf(db: string | undefined): ResolvedConnection {
  return resolveConnection(db, process.env, userInfo().username);
}

/**
 * `<application name> <role>`, where the role (e.g. `copy <runId>`) always ends it whole: that suffix
 * is how a run finds its own sessions (copy/run-identity.ts). The name part is cut to fit 63 bytes,
 * and kept to printable ASCII, which the server stores as given (it escapes other bytes, which would
 * lengthen the name past the limit).
 */
export function applicationName(name: string, role: string): string {
  const printable = name.replace(/[^\x20-\x7e]/g, '?');
  const room = Math.max(0, MAX_APPLICATION_NAME_BYTES - role.length - 1);
  return `${printable.slice(0, room)} ${role}`.slice(-MAX_APPLICATION_NAME_BYTES).trimStart();
}

function clientConfig(resolved: ResolvedConnection, role: string, ssl: pg.ClientConfig['ssl']): pg.ClientConfig {
  return {
    host: resolved.host,
    port: resolved.port,
    database: resolved.database,
    user: resolved.user,
    password: passwordFor(resolved),
    ssl,
    application_name: applicationName(resolved.applicationName, role),
    options: resolved.options,
    connectionTimeoutMillis: resolved.connectTimeoutSeconds === undefined ? undefined : resolved.connectTimeoutSeconds * 1000,
    // A server host that vanishes (power, network) is noticed by TCP within a minute or two, not hours.
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_IDLE_MS,
  };
}

/**
 * psql's sslmode on node-postgres: `require` encrypts without checking the certificate (as libpq, unless
 * a root certificate is given: then as verify-ca), `verify-ca` checks the chain, `verify-full` the chain
 * and the host name; `prefer` (the default) and `allow` try one way, then the other (see `connect`).
 * Without sslrootcert, certificates are checked against Node's CA store (libpq's sslrootcert=system).
 */
function sslConfig(resolved: ResolvedConnection): ConnectionOptions {
  const files = {
    ...(resolved.sslrootcert ? { ca: readFileSync(resolved.sslrootcert, 'utf8') } : {}),
    ...(resolved.sslcert ? { cert: readFileSync(resolved.sslcert, 'utf8') } : {}),
    ...(resolved.sslkey ? { key: readFileSync(resolved.sslkey, 'utf8') } : {}),
  };
  const mode = resolved.sslmode === 'require' && resolved.sslrootcert ? 'verify-ca' : resolved.sslmode;
  if (mode === 'verify-full') return { ...files, rejectUnauthorized: true };
  if (mode === 'verify-ca') return { ...files, rejectUnauthorized: true, checkServerIdentity: () => undefined };
  return { ...files, rejectUnauthorized: false };
}

function firstSslAttempt(resolved: ResolvedConnection): pg.ClientConfig['ssl'] {
  return resolved.sslmode === 'disable' || resolved.sslmode === 'allow' ? false : sslConfig(resolved);
}

/** The second attempt of `prefer` (the server has no SSL) and `allow` (the server demands SSL). */
function fallbackSsl(resolved: ResolvedConnection, error: unknown): pg.ClientConfig['ssl'] | undefined {
  if (resolved.sslmode === 'prefer' && error instanceof Error && /does not support SSL/i.test(error.message)) return false;
  if (resolved.sslmode === 'allow' && serverFields(error)?.sqlstate === SQLSTATE.INVALID_AUTHORIZATION) return sslConfig(resolved);
  return undefined;
}

type PasswordLookup = () => Promise<string>;

function passwordFor(resolved: ResolvedConnection): PasswordLookup {
  return async () => {
    if (resolved.password !== undefined) return resolved.password;
    const { host, port, database, user } = resolved;
    const fromFile = await new Promise<string | undefined>((resolve) => pgpass({ host, port, database, user }, resolve));
    if (fromFile !== undefined) return fromFile;
    throw new Error('no password supplied, and the server asks for one: put it in --db, PGPASSWORD or a pgpass file (~/.pgpass, or the file PGPASSFILE names)');
  };
}

/** `user@host:port/database` with no password, for messages. */
export function describeConnection(db: string | undefined): string {
  try {
    const { user, host, port, database } = resolveConnectionOf(db);
    return `${user}@${host}:${port}/${database}`;
  } catch {
    return 'the server named by --db (not a valid connection string)';
  }
}

/**
 * Removes passwords from text that might quote a connection string: URL userinfo and `password=`
 * settings. Messages name servers with `describeConnection`, which never holds one.
 */
export function redact(text: string): string {
  return redactConnectionString(text);
}

/** Opens a connection; any failure becomes a CONNECTION_FAILED error that names the server but never the password. */
export async function connect(db: string | undefined, role: string): Promise<pg.Client> {
  const resolved = resolveConnectionOf(db); // a malformed string is a usage error, thrown as is
  try {
    return await open(clientConfig(resolved, role, firstSslAttempt(resolved)));
  } catch (first) {
    const ssl = fallbackSsl(resolved, first);
    try {
      if (ssl === undefined) throw first;
      return await open(clientConfig(resolved, role, ssl));
    } catch (error) {
      const reason = redact(error instanceof Error ? error.message : String(error));
      throw new PloaderError(
        'CONNECTION_FAILED',
        `could not connect to ${describeConnection(db)}: ${reason} — check --db or the PG* environment variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE)`,
        { server: serverFields(error) },
      );
    }
  }
}

async function open(config: pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client(config);
  // An idle client whose server goes away emits 'error'; the next query reports it instead of crashing the process.
  client.on('error', () => {});
  try {
    await client.connect();
    return client;
  } catch (error) {
    await client.end().catch(() => {});
    throw error;
  }
}
