/**
 * Connection strings as psql reads them: URLs, key/value pairs and bare database names; then the PG*
 * variables and defaults; and usage errors that say what is wrong without the password.
 */
import { describe, expect, it } from 'vitest';
import { parseConnectionString, redactConnectionString, resolveConnection } from '../../../src/db/conninfo.ts';
import { applicationName, MAX_APPLICATION_NAME_BYTES } from '../../../src/db/connection.ts';
import { PloaderError } from '../../../src/errors.ts';

describe('parseConnectionString', () => {
  it.each([
    ['postgres://u:p@h:5433/d', { user: 'u', password: 'p', host: 'h', port: '5433', dbname: 'd' }],
    ['postgresql://h/d', { host: 'h', dbname: 'd' }],
    ['postgres://', {}],
    ['postgres://u@/d', { user: 'u', dbname: 'd' }],
    ['postgres://us%40er:p%23s%2Fs%3Aw%25@h/d%20b', { user: 'us@er', password: 'p#s/s:w%', host: 'h', dbname: 'd b' }],
    ['postgres://u:p@ss@h/d', { user: 'u', password: 'p@ss', host: 'h', dbname: 'd' }],
    ['postgres://[::1]:6000/d', { host: '::1', port: '6000', dbname: 'd' }],
    ['postgres://h/d?sslmode=verify-full&application_name=night%20job&connect_timeout=5', { host: 'h', dbname: 'd', sslmode: 'verify-full', application_name: 'night job', connect_timeout: '5' }],
    ['postgres:///d?host=/var/run/postgresql&port=5433', { host: '/var/run/postgresql', port: '5433', dbname: 'd' }],
    ['postgres://h/d?ssl=true', { host: 'h', dbname: 'd', sslmode: 'require' }],
    ["host=h port=5433 dbname=d user=u password='a b\\'c\\\\'", { host: 'h', port: '5433', dbname: 'd', user: 'u', password: "a b'c\\" }],
    ['host = h  dbname=d password=a\\ b', { host: 'h', dbname: 'd', password: 'a b' }],
    ["dbname='' host=h", { dbname: '', host: 'h' }],
    ['app', { dbname: 'app' }],
  ])('%s', (text, expected) => {
    expect(parseConnectionString(text)).toEqual(expected);
  });

  const SECRET = 'Secr3t';
  it.each([
    [`postgres://u:${SECRET}#x@h/d`, 'the user or password holds an unencoded "#": percent-encode it as %23'],
    [`postgres://u:${SECRET}/x@h/d`, 'the user or password holds an unencoded "/": percent-encode it as %2F'],
    [`postgres://u:${SECRET}@h:port/d`, 'the port must be a number from 1 to 65535, got "port"'],
    [`postgres://u:${SECRET}@h:99999/d`, 'the port must be a number from 1 to 65535, got "99999"'],
    [`postgres://u:${SECRET}@h/d#frag`, 'it holds an unencoded "#": percent-encode it as %23'],
    [`postgres://u:${SECRET}@h1,h2/d`, 'several hosts are not supported: name one'],
    [`postgres://u:${SECRET}@h/d?sslmode=sometimes`, 'sslmode must be one of disable, allow, prefer, require, verify-ca, verify-full, got "sometimes"'],
    [`postgres://u:${SECRET}@h/d?sslmode`, 'the query parameter "sslmode" has no value (write name=value)'],
    [`postgres://u:${SECRET}@h/d?keepalives=1`, 'unknown or unsupported connection parameter "keepalives"'],
    [`postgres://u:${SECRET}%zz@h/d`, 'it holds a "%" that does not start a percent-encoded byte: write a literal % as %25'],
    [`host=h password='${SECRET}`, 'the quoted value of "password" is not closed with \''],
    [`host=h password=${SECRET} port`, 'missing "=" after "port"'],
  ])('%s is a usage error naming the problem, not the password', (text, problem) => {
    let error: unknown;
    try {
      parseConnectionString(text);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(PloaderError);
    expect((error as PloaderError).code).toBe('INVALID_OPTION');
    expect((error as PloaderError).message).toMatch(/^options\.db "/);
    expect((error as PloaderError).message).toContain(problem);
    expect((error as PloaderError).message).not.toContain(SECRET);
  });
});

describe('resolveConnection', () => {
  const env = { PGHOST: 'envhost', PGPORT: '6543', PGUSER: 'envuser', PGDATABASE: 'envdb', PGPASSWORD: 'envpw', PGSSLMODE: 'require', PGAPPNAME: 'envapp', PGOPTIONS: '-c work_mem=64MB' };

  it('takes what the string leaves out from the PG* variables', () => {
    expect(resolveConnection('postgres://u@h/d', env, 'os')).toMatchObject({ host: 'h', port: 6543, user: 'u', database: 'd', password: 'envpw', sslmode: 'require', applicationName: 'envapp', options: '-c work_mem=64MB' });
  });

  it('falls back to libpq defaults: the OS user, a database named after the user, sslmode prefer', () => {
    expect(resolveConnection(undefined, {}, 'os')).toMatchObject({ host: 'localhost', port: 5432, user: 'os', database: 'os', password: undefined, sslmode: 'prefer', applicationName: 'ploader' });
    expect(resolveConnection('user=me', {}, 'os')).toMatchObject({ user: 'me', database: 'me' });
  });

  it('application_name in the string wins over PGAPPNAME, which wins over fallback_application_name', () => {
    expect(resolveConnection('application_name=mine', env, 'os').applicationName).toBe('mine');
    expect(resolveConnection('fallback_application_name=fb', env, 'os').applicationName).toBe('envapp');
    expect(resolveConnection('fallback_application_name=fb', {}, 'os').applicationName).toBe('fb');
  });

  it.each([
    [{ PGPORT: 'x' }, 'PGPORT: must be a number from 1 to 65535, got "x"'],
    [{ PGSSLMODE: 'on' }, 'PGSSLMODE: must be one of disable, allow, prefer, require, verify-ca, verify-full, got "on"'],
    [{ PGCONNECT_TIMEOUT: '1.5' }, 'PGCONNECT_TIMEOUT: must be a whole number of seconds, got "1.5"'],
  ])('a malformed variable %o is a usage error naming it', (badEnv, message) => {
    expect(() => resolveConnection(undefined, badEnv, 'os')).toThrow(message);
  });
});

describe('applicationName', () => {
  const role = 'copy 0123abcd';
  it.each([
    ['ploader', `ploader ${role}`],
    ['x'.repeat(100), `${'x'.repeat(MAX_APPLICATION_NAME_BYTES - role.length - 1)} ${role}`],
    ['nächtlich', `n?chtlich ${role}`],
    ['é'.repeat(60), `${'?'.repeat(MAX_APPLICATION_NAME_BYTES - role.length - 1)} ${role}`],
  ])('%s: the role and run id stay whole within 63 bytes', (name, expected) => {
    const full = applicationName(name, role);
    expect(full).toBe(expected);
    expect(Buffer.byteLength(full)).toBeLessThanOrEqual(MAX_APPLICATION_NAME_BYTES);
    expect(full.endsWith(` ${role}`)).toBe(true);
  });
});

describe('redactConnectionString', () => {
  it.each([
    ['postgres://u:secret@h/d', 'postgres://u:***@h/d'],
    ['postgres://u:se@cr/et@h/d', 'postgres://u:***@h/d'],
    ["host=h password='se cr\\'et' dbname=d", 'host=h password=*** dbname=d'],
    ['host=h password=secret', 'host=h password=***'],
    ['postgres://h/d?password=secret&sslmode=require', 'postgres://h/d?password=***&sslmode=require'],
    ['postgres://app:app@h/app', 'postgres://app:***@h/app'],
  ])('%s', (text, expected) => {
    expect(redactConnectionString(text)).toBe(expected);
  });
});
