/*
 * sqlml-node: a dqlite node whose every SQLite connection has sqlml.
 *
 *   sqlml-node ID ADDRESS DIR [EXTENSION]
 *
 * ID       the node's Raft id (1 bootstraps a new cluster; the others wait to be added)
 * ADDRESS  host:port the node listens on and that its peers dial (127.0.0.1:PORT here)
 * DIR      the node's data directory (Raft log and snapshots); created if missing
 * EXTENSION  path of libsqlml0.so (else the environment variable SQLML_EXT)
 *
 * Environment: SQLML_KEY (the passphrase every connection uses), SQLML_EXT, and
 * SQLML_LATENCY_MS (the expected one-way network latency: dqlite derives the Raft heartbeat
 * from it as 1.5 x and the election timeout as 15 x; default 50, i.e. a 750 ms election
 * timeout).
 *
 * The node prints "ready ID ADDRESS" on stdout once it accepts connections, and stops
 * cleanly on SIGTERM or SIGINT. Build: cc -O2 -o sqlml-node node.c -ldqlite -lsqlite3 -ldl
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <dqlite.h>
#include <sqlite3.h>

typedef int (*entry_point)(sqlite3 *, char **, const sqlite3_api_routines *);

static int fail(const char *what, const char *detail)
{
	fprintf(stderr, "sqlml-node: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	return 1;
}

/* Registers sqlml with SQLite for every connection opened from now on, dqlite's included:
 * dqlite opens its connections inside the node, so an auto-extension is the only way in. */
static int register_sqlml(const char *path)
{
	void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		return fail("cannot load the extension", dlerror());
	}
	entry_point init = (entry_point)dlsym(lib, "sqlite3_sqlml_init");
	if (init == NULL) {
		return fail("no sqlite3_sqlml_init in the extension", dlerror());
	}
	int rc = sqlite3_auto_extension((void (*)(void))init);
	if (rc != SQLITE_OK) {
		return fail("sqlite3_auto_extension failed", sqlite3_errstr(rc));
	}
	/* Open one throwaway connection now, so a broken extension (or an SQLite too old for it)
	 * fails here with its message instead of on the first client request. */
	sqlite3 *probe = NULL;
	rc = sqlite3_open(":memory:", &probe);
	if (rc != SQLITE_OK) {
		fprintf(stderr, "sqlml-node: sqlml did not load: %s\n",
			probe ? sqlite3_errmsg(probe) : sqlite3_errstr(rc));
		sqlite3_close(probe);
		return 1;
	}
	sqlite3_close(probe);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: %s ID ADDRESS DIR [EXTENSION]\n", argv[0]);
		return 2;
	}
	char *end = NULL;
	unsigned long long id = strtoull(argv[1], &end, 10);
	if (*argv[1] == '\0' || *end != '\0' || id == 0) {
		return fail("ID must be a positive integer", argv[1]);
	}
	const char *address = argv[2];
	const char *dir = argv[3];
	const char *ext = argc == 5 ? argv[4] : getenv("SQLML_EXT");
	if (ext == NULL || *ext == '\0') {
		return fail("no extension: pass its path or set SQLML_EXT", NULL);
	}
	unsigned latency_ms = 50;
	const char *latency = getenv("SQLML_LATENCY_MS");
	if (latency != NULL && *latency != '\0') {
		unsigned long v = strtoul(latency, &end, 10);
		if (*end != '\0' || v == 0 || v > 10000) {
			return fail("SQLML_LATENCY_MS must be 1..10000", latency);
		}
		latency_ms = (unsigned)v;
	}

	/* Raft writes to peers' sockets; a peer that died makes such a write raise SIGPIPE,
	 * whose default action would kill this node along with the dead one. */
	signal(SIGPIPE, SIG_IGN);

	/* Block the stop signals before dqlite starts its thread, so that thread inherits the
	 * mask and only sigwait below sees them. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);

	if (register_sqlml(ext) != 0) {
		return 1;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		return fail("cannot create the data directory", strerror(errno));
	}

	dqlite_node *node = NULL;
	int rv = dqlite_node_create(id, address, dir, &node);
	if (rv != 0) {
		fail("dqlite_node_create failed", node ? dqlite_node_errmsg(node) : NULL);
		goto out;
	}
	if ((rv = dqlite_node_set_bind_address(node, address)) != 0) {
		fail("cannot listen", dqlite_node_errmsg(node));
		goto out;
	}
	if ((rv = dqlite_node_set_network_latency_ms(node, latency_ms)) != 0) {
		fail("dqlite_node_set_network_latency_ms failed", dqlite_node_errmsg(node));
		goto out;
	}
	if ((rv = dqlite_node_start(node)) != 0) {
		fail("dqlite_node_start failed", dqlite_node_errmsg(node));
		goto out;
	}
	printf("ready %llu %s\n", id, address);
	fflush(stdout);

	int sig = 0;
	sigwait(&stop, &sig);
	rv = dqlite_node_stop(node);
	if (rv != 0) {
		fail("dqlite_node_stop failed", dqlite_node_errmsg(node));
	}
out:
	if (node != NULL) {
		dqlite_node_destroy(node);
	}
	return rv == 0 ? 0 : 1;
}
