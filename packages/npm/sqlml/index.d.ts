/** A synchronous driver: better-sqlite3, @photostructure/sqlite or node:sqlite's DatabaseSync. */
export interface SyncDatabase {
  loadExtension(path: string, entryPoint?: string): unknown;
  enableLoadExtension?(allow: boolean): unknown;
  prepare(sql: string): { get(...params: unknown[]): unknown };
}

/** node-sqlite3's Database (callback API). */
export interface CallbackDatabase {
  loadExtension(path: string, callback?: (err: Error | null) => void): unknown;
  get(sql: string, params: unknown[], callback: (err: Error | null, row: any) => void): unknown;
  serialize(callback?: () => void): void;
  parallelize(callback?: () => void): void;
}

export interface LoadOptions {
  /** The passphrase: this connection is unlocked with ml_unlock(key) as a bound parameter. */
  key?: string;
}

/** What ml_unlock answered: 'unlocked', or 'key created' on a database without a key. */
export type UnlockResult = 'unlocked' | 'key created';

/** The full path of the sqlml loadable extension for this platform (from sqlml-linux-x64...). */
export function getLoadablePath(): string;

/** Loads sqlml into a node-sqlite3 database; resolves once loaded (and unlocked, with a key). */
export function load(db: CallbackDatabase, options?: LoadOptions): Promise<UnlockResult | undefined>;
/** Loads sqlml into a synchronous database; with a key, unlocks this connection. */
export function load(db: SyncDatabase, options?: LoadOptions): UnlockResult | undefined;

/** This package's version (the same as the extension's ml_version()). */
export const version: string;
