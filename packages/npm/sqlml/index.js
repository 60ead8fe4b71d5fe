'use strict';
// sqlml for Node.js: finds the loadable extension in the platform package (sqlml-linux-x64...),
// loads it into a better-sqlite3, @photostructure/sqlite / node:sqlite or node-sqlite3
// database, and unlocks that connection with a key passed as a bound parameter.

const { dirname, join } = require('node:path');
const { existsSync } = require('node:fs');

// platform-arch -> [package, file]. Only linux-x64 (glibc >= 2.17) is built today.
const PLATFORMS = {
  'linux-x64': ['sqlml-linux-x64', 'libsqlml0.so'],
};

function platformPackage() {
  const key = `${process.platform}-${process.arch}`;
  const entry = PLATFORMS[key];
  if (!entry) {
    throw new Error(
      `sqlml: no prebuilt library for ${key} (built: ${Object.keys(PLATFORMS).join(', ')}); ` +
        'build it with cargo (cargo build --release -p sqlml-ext) and load that file instead'
    );
  }
  return entry;
}

/** The full path of the sqlml loadable extension for this platform. */
function getLoadablePath() {
  const [pkg, file] = platformPackage();
  let dir;
  try {
    dir = dirname(require.resolve(`${pkg}/package.json`));
  } catch {
    throw new Error(
      `sqlml: the platform package ${pkg} is not installed; it is an optional dependency of sqlml ` +
        `(install it with: npm install ${pkg}, and do not pass --omit=optional or --no-optional)`
    );
  }
  const path = join(dir, 'lib', file);
  if (!existsSync(path)) {
    throw new Error(`sqlml: ${pkg} holds no ${file} (at ${path}); reinstall it`);
  }
  return path;
}

// node-sqlite3's Database runs callbacks; the others are synchronous.
function isCallbackDatabase(db) {
  return typeof db.serialize === 'function' && typeof db.parallelize === 'function';
}

function checkKey(key) {
  if (typeof key !== 'string' || key.length === 0) {
    throw new TypeError('sqlml: key must be a non-empty string');
  }
}

function loadSync(db, key) {
  const path = getLoadablePath();
  // node:sqlite and @photostructure/sqlite: extension loading is off per connection until
  // enabled (the database must also be opened with { allowExtension: true }); switch it
  // back off after loading so SQL cannot call load_extension().
  const toggle = typeof db.enableLoadExtension === 'function';
  let enabled = false;
  try {
    if (toggle) {
      db.enableLoadExtension(true);
      enabled = true;
    }
    db.loadExtension(path);
  } catch (e) {
    if (toggle && e instanceof Error && /allowExtension|disabled|not allowed|not authorized/i.test(e.message)) {
      e.message += ' (sqlml: open the database with { allowExtension: true } to load extensions)';
    }
    throw e;
  } finally {
    if (enabled) db.enableLoadExtension(false);
  }
  if (key === undefined || key === null) return undefined;
  checkKey(key);
  const row = db.prepare('SELECT ml_unlock(?) AS r').get(key);
  return row.r;
}

function loadCallback(db, key) {
  if (key !== undefined && key !== null) checkKey(key);
  const path = getLoadablePath();
  return new Promise((resolve, reject) => {
    db.loadExtension(path, (err) => {
      if (err) return reject(err);
      if (key === undefined || key === null) return resolve(undefined);
      db.get('SELECT ml_unlock(?) AS r', [key], (err2, row) => (err2 ? reject(err2) : resolve(row.r)));
    });
  });
}

/**
 * Loads sqlml into `db`; with `{ key }`, also unlocks this connection (ml_unlock with a bound
 * parameter). Synchronous drivers (better-sqlite3, @photostructure/sqlite, node:sqlite) return
 * ml_unlock's answer ('unlocked' or 'key created') or undefined; node-sqlite3 gets a Promise of it.
 */
function load(db, options) {
  const key = options ? options.key : undefined;
  if (!db || typeof db.loadExtension !== 'function') {
    throw new TypeError(
      'sqlml: load(db) needs a database with loadExtension(): better-sqlite3, node-sqlite3, ' +
        '@photostructure/sqlite or node:sqlite (opened with { allowExtension: true })'
    );
  }
  return isCallbackDatabase(db) ? loadCallback(db, key) : loadSync(db, key);
}

module.exports = { getLoadablePath, load, version: require('./package.json').version };
