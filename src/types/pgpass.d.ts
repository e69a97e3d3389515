// The pgpass module (the one node-postgres uses) ships no types.
declare module 'pgpass' {
  interface ConnectionInfo {
    host?: string;
    port?: number;
    database?: string;
    user?: string;
  }
  function pgpass(info: ConnectionInfo, callback: (password: string | undefined) => void): void;
  export default pgpass;
}
