'use strict';
// Runs tests/packages/workload.json through the installed sqlml npm package with one driver.
//   node node_host.js DRIVER DB
// DRIVER: better-sqlite3, photostructure (@photostructure/sqlite), node-sqlite3 (sqlite3).
// The key comes from APP_SQLML_KEY and reaches SQLite only through sqlml.load(db, { key }).
// Prints one JSON object: what unlock answered, seconds to the first prediction, every query's rows.
// Run from the temporary project directory, so that require() finds its node_modules.

const T0 = process.hrtime.bigint();
const { readFileSync } = require('node:fs');
const { join } = require('node:path');
const { createRequire } = require('node:module');

const projectRequire = createRequire(join(process.cwd(), 'package.json'));
const sqlml = projectRequire('sqlml');
const work = JSON.parse(readFileSync(join(__dirname, '..', 'workload.json'), 'utf8'));
const seconds = () => Number(process.hrtime.bigint() - T0) / 1e9;

function syncRunner(db, rowsOf) {
  return {
    run: (sql) => rowsOf(sql),
    close: () => db.close(),
  };
}

function open(driver, path) {
  if (driver === 'better-sqlite3') {
    const Database = projectRequire('better-sqlite3');
    const db = new Database(path);
    return { db, ...syncRunner(db, (sql) => {
      const st = db.prepare(sql);
      return st.reader ? st.raw(true).all() : (st.run(), []);
    }) };
  }
  if (driver === 'photostructure') {
    const { DatabaseSync } = projectRequire('@photostructure/sqlite');
    const db = new DatabaseSync(path, { allowExtension: true });
    return { db, ...syncRunner(db, (sql) => db.prepare(sql).all().map((r) => Object.values(r))) };
  }
  if (driver === 'node-sqlite3') {
    const sqlite3 = projectRequire('sqlite3');
    const db = new sqlite3.Database(path);
    return {
      db,
      run: (sql) =>
        new Promise((res, rej) => db.all(sql, [], (e, rows) => (e ? rej(e) : res(rows.map((r) => Object.values(r)))))),
      close: () => new Promise((res) => db.close(res)),
    };
  }
  throw new Error(`unknown driver ${driver}`);
}

async function main() {
  const [driver, path] = process.argv.slice(2);
  const h = open(driver, path);
  const unlock = await sqlml.load(h.db, { key: process.env.APP_SQLML_KEY });
  for (const sql of work.setup) await h.run(sql);
  const sqliteVersion = (await h.run('SELECT sqlite_version()'))[0][0];
  const first = await h.run(work.first);
  const firstS = seconds();
  const results = {};
  for (const [name, sql] of Object.entries(work.queries)) results[name] = await h.run(sql);
  await h.close();
  console.log(
    JSON.stringify({
      driver,
      loadable_path: sqlml.getLoadablePath(),
      version: sqlml.version,
      sqlite_version: sqliteVersion,
      unlock,
      first,
      first_prediction_s: Math.round(firstS * 1000) / 1000,
      results,
    })
  );
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
