/**
 * Connection strings as libpq (psql) reads them, and the PG* variables for what they leave out. Pure:
 * text and an environment in, connection parameters out, or a usage error that names the problem and
 * never holds the password. Three forms, as `psql -d` takes them:
 * - a URL: `postgres[ql]://[user[:password]@][host][:port][/dbname][?param=value&...]`, percent-decoded;
 * - key/value pairs: `host=db.example.com dbname=app password='a b\'c'` (single quotes, \ escapes);
 * - a bare word: the database name.
 * https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING
 */
import { PloaderError } from '../errors.ts';

/** The libpq parameters ploader honours (others are refused rather than silently ignored). */
export const CONNECTION_PARAMETERS = [
  'host', 'port', 'dbname', 'user', 'password', 'sslmode', 'sslrootcert', 'sslcert', 'sslkey',
  'application_name', 'fallback_application_name', 'connect_timeout', 'options',
] as const;
export type ConnectionParameter = (typeof CONNECTION_PARAMETERS)[number];
export type ConnectionParameters = Partial<Record<ConnectionParameter, string>>;

export const SSL_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** The PG* variable of each parameter, as libpq reads them. */
const ENVIRONMENT: Record<ConnectionParameter, string | undefined> = {
  host: 'PGHOST', port: 'PGPORT', dbname: 'PGDATABASE', user: 'PGUSER', password: 'PGPASSWORD', sslmode: 'PGSSLMODE',
  sslrootcert: 'PGSSLROOTCERT', sslcert: 'PGSSLCERT', sslkey: 'PGSSLKEY', application_name: 'PGAPPNAME',
  fallback_application_name: undefined, connect_timeout: 'PGCONNECT_TIMEOUT', options: 'PGOPTIONS',
};

export interface ResolvedConnection {
  host: string;
  port: number;
  database: string;
  user: string;
  /** Given in the string or PGPASSWORD; otherwise a pgpass file is asked when the server wants one. */
  password: string | undefined;
  sslmode: SslMode;
  sslrootcert: string | undefined;
  sslcert: string | undefined;
  sslkey: string | undefined;
  applicationName: string;
  connectTimeoutSeconds: number | undefined;
  options: string | undefined;
}

function invalid(where: string, problem: string): PloaderError {
  return new PloaderError('INVALID_OPTION', `${where}: ${problem}`);
}

/** Parses `db` (any of the three forms) into parameters; `where` names it in errors (`options.db`). */
export function parseConnectionString(db: string, where = 'options.db'): ConnectionParameters {
  const context = `${where} ${JSON.stringify(redactConnectionString(db))}`;
  if (/^postgres(ql)?:\/\//i.test(db)) return parseUrl(db, context);
  if (db.includes('=')) return parseKeyValue(db, context);
  return db === '' ? {} : { dbname: db };
}

function parseUrl(db: string, context: string): ConnectionParameters {
  const rest = db.slice(db.indexOf('//') + 2);
  const params: ConnectionParameters = {};
  // The last @ ends the user part: an unencoded @ in a password still reads as libpq would.
  const at = rest.lastIndexOf('@');
  const userinfo = at >= 0 ? rest.slice(0, at) : undefined;
  const afterUser = at >= 0 ? rest.slice(at + 1) : rest;
  if (userinfo !== undefined) {
    const unencoded = ['/', '#', '?'].find((c) => userinfo.includes(c));
    if (unencoded) {
      throw invalid(context, `the user or password holds an unencoded "${unencoded}": percent-encode it as ${encodeURIComponent(unencoded)}`);
    }
    const colon = userinfo.indexOf(':');
    setDecoded(params, 'user', colon >= 0 ? userinfo.slice(0, colon) : userinfo, context);
    if (colon >= 0) setDecoded(params, 'password', userinfo.slice(colon + 1), context);
  }
  if (afterUser.includes('#')) throw invalid(context, 'it holds an unencoded "#": percent-encode it as %23');
  const query = afterUser.indexOf('?');
  const beforeQuery = query >= 0 ? afterUser.slice(0, query) : afterUser;
  const slash = beforeQuery.indexOf('/');
  const hostPort = slash >= 0 ? beforeQuery.slice(0, slash) : beforeQuery;
  if (slash >= 0) setDecoded(params, 'dbname', beforeQuery.slice(slash + 1), context);
  if (hostPort.includes(',')) throw invalid(context, 'several hosts are not supported: name one');
  // [::1]:5432 — brackets keep an IPv6 address's colons apart from the port's.
  const match = /^(\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(hostPort);
  const host = match?.[1]?.replace(/^\[(.*)\]$/, '$1');
  if (host) setDecoded(params, 'host', host, context);
  if (match?.[2] !== undefined && match[2] !== '') setDecoded(params, 'port', match[2], context);
  if (query >= 0) {
    for (const pair of afterUser.slice(query + 1).split('&').filter(Boolean)) {
      const eq = pair.indexOf('=');
      if (eq < 0) throw invalid(context, `the query parameter "${pair}" has no value (write name=value)`);
      const key = decode(pair.slice(0, eq), context);
      const value = decode(pair.slice(eq + 1), context);
      // libpq takes JDBC's ssl=true as sslmode=require.
      if (key === 'ssl' && value === 'true') params.sslmode ??= 'require';
      else params[parameterName(key, context)] = value;
    }
  }
  return checkValues(params, context);
}

function parseKeyValue(db: string, context: string): ConnectionParameters {
  const params: ConnectionParameters = {};
  let at = 0;
  const skipSpace = () => {
    while (at < db.length && /\s/.test(db[at])) at++;
  };
  for (skipSpace(); at < db.length; skipSpace()) {
    const key = /^[A-Za-z_]+/.exec(db.slice(at))?.[0];
    if (key === undefined) throw invalid(context, `expected name=value at character ${at + 1}`);
    at += key.length;
    skipSpace();
    if (db[at] !== '=') throw invalid(context, `missing "=" after "${key}"`);
    at++;
    skipSpace();
    let value = '';
    if (db[at] === "'") {
      for (at++; ; at++) {
        if (at >= db.length) throw invalid(context, `the quoted value of "${key}" is not closed with '`);
        if (db[at] === '\\' && at + 1 < db.length) value += db[++at];
        else if (db[at] === "'") break;
        else value += db[at];
      }
      at++;
    } else {
      for (; at < db.length && !/\s/.test(db[at]); at++) value += db[at] === '\\' && at + 1 < db.length ? db[++at] : db[at];
    }
    params[parameterName(key, context)] = value;
  }
  return checkValues(params, context);
}

function parameterName(key: string, context: string): ConnectionParameter {
  if ((CONNECTION_PARAMETERS as readonly string[]).includes(key)) return key as ConnectionParameter;
  throw invalid(context, `unknown or unsupported connection parameter "${key}" (ploader takes ${CONNECTION_PARAMETERS.join(', ')})`);
}

function decode(text: string, context: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw invalid(context, 'it holds a "%" that does not start a percent-encoded byte: write a literal % as %25');
  }
}

function setDecoded(params: ConnectionParameters, key: ConnectionParameter, text: string, context: string): void {
  const value = decode(text, context);
  if (value !== '') params[key] = value;
}

function checkValues(params: ConnectionParameters, context: string): ConnectionParameters {
  if (params.port !== undefined && !isPort(params.port)) throw invalid(context, `the port must be a number from 1 to 65535, got "${params.port}"`);
  if (params.sslmode !== undefined && !(SSL_MODES as readonly string[]).includes(params.sslmode)) {
    throw invalid(context, `sslmode must be one of ${SSL_MODES.join(', ')}, got "${params.sslmode}"`);
  }
  if (params.connect_timeout !== undefined && !/^\d+$/.test(params.connect_timeout)) {
    throw invalid(context, `connect_timeout must be a whole number of seconds, got "${params.connect_timeout}"`);
  }
  return params;
}

function isPort(text: string): boolean {
  return /^\d+$/.test(text) && Number(text) >= 1 && Number(text) <= 65535;
}

/**
 * The string's parameters, then the PG* variables for what it leaves out, then libpq's defaults (but
 * host: localhost over TCP, where psql would use its Unix socket directory; a host starting with / is
 * a socket directory here too).
 */
export function resolveConnection(db: string | undefined, env: Record<string, string | undefined>, osUser: string): ResolvedConnection {
  const given = db === undefined ? {} : parseConnectionString(db);
  const fromEnv: ConnectionParameters = {};
  for (const key of CONNECTION_PARAMETERS) {
    const variable = ENVIRONMENT[key];
    const value = variable === undefined ? undefined : env[variable];
    if (value !== undefined && value !== '') fromEnv[key] = value;
  }
  checkEnvironment(fromEnv);
  const param = (key: ConnectionParameter) => given[key] ?? fromEnv[key];
  const user = param('user') ?? osUser;
  return {
    host: param('host') ?? 'localhost',
    port: Number(param('port') ?? 5432),
    database: param('dbname') ?? user,
    user,
    password: param('password'),
    sslmode: (param('sslmode') ?? 'prefer') as SslMode,
    sslrootcert: param('sslrootcert'),
    sslcert: param('sslcert'),
    sslkey: param('sslkey'),
    applicationName: given.application_name ?? fromEnv.application_name ?? given.fallback_application_name ?? 'ploader',
    connectTimeoutSeconds: param('connect_timeout') === undefined ? undefined : Number(param('connect_timeout')),
    options: param('options'),
  };
}

function checkEnvironment(fromEnv: ConnectionParameters): void {
  if (fromEnv.port !== undefined && !isPort(fromEnv.port)) throw invalid('PGPORT', `must be a number from 1 to 65535, got "${fromEnv.port}"`);
  if (fromEnv.sslmode !== undefined && !(SSL_MODES as readonly string[]).includes(fromEnv.sslmode)) {
    throw invalid('PGSSLMODE', `must be one of ${SSL_MODES.join(', ')}, got "${fromEnv.sslmode}"`);
  }
  if (fromEnv.connect_timeout !== undefined && !/^\d+$/.test(fromEnv.connect_timeout)) {
    throw invalid('PGCONNECT_TIMEOUT', `must be a whole number of seconds, got "${fromEnv.connect_timeout}"`);
  }
}

/** The string with its password replaced by *** (URL user part, `password=` pairs and query parameters). */
export function redactConnectionString(text: string): string {
  return text
    .replace(/(postgres(?:ql)?:\/\/[^:/@\s]*:)\S*@/gi, '$1***@')
    .replace(/(password\s*=\s*)('(?:[^'\\]|\\.)*'?|[^\s&]+)/gi, '$1***');
}
