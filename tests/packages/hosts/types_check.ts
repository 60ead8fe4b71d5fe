// Compiled by tests/packages/test_node.py with tsc --strict: sqlml's declarations accept the real
// drivers' databases and give the documented result types; the @ts-expect-error lines must fail.
import { load, getLoadablePath, version } from 'sqlml';
import type { CallbackDatabase, LoadOptions, SyncDatabase, UnlockResult } from 'sqlml';
import { DatabaseSync } from '@photostructure/sqlite';

const photo = new DatabaseSync(':memory:', { allowExtension: true });
const r1: UnlockResult | undefined = load(photo, { key: 'k' });

declare const sync: SyncDatabase;
declare const callback: CallbackDatabase;
const r2: UnlockResult | undefined = load(sync);
const r3: Promise<UnlockResult | undefined> = load(callback, { key: 'k' });
const options: LoadOptions = { key: 'k' };
const path: string = getLoadablePath();
const v: string = version;

// @ts-expect-error the key is a string
load(sync, { key: 42 });
// @ts-expect-error a synchronous load returns no Promise
const wrong: Promise<unknown> = load(sync);
// @ts-expect-error not a database
load({ prepare: 1 });

export { r1, r2, r3, options, path, v, wrong };
