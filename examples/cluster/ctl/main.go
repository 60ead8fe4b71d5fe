// sqlml-ctl: a small client for the sqlml dqlite cluster of examples/cluster, on go-dqlite's
// client and driver packages (Debian: golang-github-canonical-go-dqlite-dev, built in GOPATH
// mode; see run.sh).
//
//	sqlml-ctl freeports N                         N free TCP ports on 127.0.0.1, one a line
//	sqlml-ctl leader  -c ADDRS                    the leader's address
//	sqlml-ctl join    -c ADDRS ID ADDRESS         add a node as a voter (ADD, then ASSIGN)
//	sqlml-ctl cluster -c ADDRS                    members: id|address|role
//	sqlml-ctl dump    ADDRESS DB OUT              that node's own copy of DB into OUT and OUT-wal
//	sqlml-ctl sql     -c ADDRS -db DB [flags] SQL...
//
// sql runs each argument as one statement, in order, on one connection to the leader, and
// prints result rows as the sqlite3 shell's list mode does (columns joined by '|', NULL
// empty). A statement is sent as a dqlite QUERY when it starts with SELECT, WITH, VALUES or
// PRAGMA and as an EXEC otherwise; the prefixes "query:" and "exec:" choose explicitly.
// -retry D retries the whole list on a new connection until it succeeds or D has passed and
// then prints "ok after N ms" on stderr (for reads after a failover); -time prints each
// statement's duration on stderr.
package main

import (
	"context"
	"database/sql/driver"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/canonical/go-dqlite/client"
	dqlite "github.com/canonical/go-dqlite/driver"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	cmd, args := os.Args[1], os.Args[2:]
	switch cmd {
	case "freeports":
		err = freePorts(args)
	case "leader":
		err = leader(args)
	case "join":
		err = join(args)
	case "cluster":
		err = cluster(args)
	case "dump":
		err = dump(args)
	case "sql":
		err = runSQL(args)
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "sqlml-ctl %s: %v\n", cmd, err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: sqlml-ctl freeports|leader|join|cluster|dump|sql ... (see the source's header)")
	os.Exit(2)
}

// store is an in-memory node store of the comma-separated addresses.
func store(addrs string) client.NodeStore {
	s := client.NewInmemNodeStore()
	var nodes []client.NodeInfo
	for _, a := range strings.Split(addrs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			nodes = append(nodes, client.NodeInfo{Address: a})
		}
	}
	_ = s.Set(context.Background(), nodes)
	return s
}

func freePorts(args []string) error {
	if len(args) != 1 {
		return errors.New("usage: freeports N")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 1 || n > 64 {
		return errors.New("N must be 1..64")
	}
	// Hold every listener until all are chosen, so the ports differ.
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		ls = append(ls, l)
		fmt.Println(l.Addr().(*net.TCPAddr).Port)
	}
	return nil
}

// findLeader connects to the leader, retrying quickly until timeout.
func findLeader(ctx context.Context, addrs string) (*client.Client, error) {
	var last error
	for {
		attempt, cancel := context.WithTimeout(ctx, 2*time.Second)
		cli, err := client.FindLeader(attempt, store(addrs))
		cancel()
		if err == nil {
			return cli, nil
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no leader among %s: %v", addrs, last)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func clusterFlags(name string, args []string) (*flag.FlagSet, *string, *time.Duration) {
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	addrs := fs.String("c", "", "comma-separated node addresses")
	timeout := fs.Duration("timeout", 20*time.Second, "give up after this long")
	_ = fs.Parse(args)
	if *addrs == "" {
		fmt.Fprintf(os.Stderr, "sqlml-ctl %s: -c ADDRS is required\n", name)
		os.Exit(2)
	}
	return fs, addrs, timeout
}

// withLeader parses the cluster flags of subcommand name, finds the leader and calls f with
// it (and the subcommand's flag set, for positional arguments) within the timeout.
func withLeader(name string, args []string, f func(context.Context, *client.Client, *flag.FlagSet) error) error {
	fs, addrs, timeout := clusterFlags(name, args)
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	cli, err := findLeader(ctx, *addrs)
	if err != nil {
		return err
	}
	defer cli.Close()
	return f(ctx, cli, fs)
}

func leader(args []string) error {
	return withLeader("leader", args, func(ctx context.Context, cli *client.Client, _ *flag.FlagSet) error {
		info, err := cli.Leader(ctx)
		if err != nil {
			return err
		}
		if info == nil {
			return errors.New("no leader")
		}
		fmt.Println(info.Address)
		return nil
	})
}

func join(args []string) error {
	return withLeader("join", args, func(ctx context.Context, cli *client.Client, fs *flag.FlagSet) error {
		if fs.NArg() != 2 {
			return errors.New("usage: join -c ADDRS ID ADDRESS")
		}
		id, err := strconv.ParseUint(fs.Arg(0), 10, 64)
		if err != nil || id == 0 {
			return fmt.Errorf("bad node id %q", fs.Arg(0))
		}
		// Add makes the node a spare (ADD), then a voter (ASSIGN), which the leader grants
		// once the node has caught up with its log.
		return cli.Add(ctx, client.NodeInfo{ID: id, Address: fs.Arg(1), Role: client.Voter})
	})
}

func cluster(args []string) error {
	return withLeader("cluster", args, func(ctx context.Context, cli *client.Client, _ *flag.FlagSet) error {
		nodes, err := cli.Cluster(ctx)
		if err != nil {
			return err
		}
		for _, n := range nodes {
			fmt.Printf("%d|%s|%s\n", n.ID, n.Address, n.Role)
		}
		return nil
	})
}

// dump asks one node (leader or not) for its own copy of the database: dqlite answers DUMP
// from the node's local state.
func dump(args []string) error {
	if len(args) != 3 {
		return errors.New("usage: dump ADDRESS DB OUT")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cli, err := client.New(ctx, args[0])
	if err != nil {
		return err
	}
	defer cli.Close()
	files, err := cli.Dump(ctx, args[1])
	if err != nil {
		return err
	}
	out := args[2]
	for _, f := range files {
		path := out
		if strings.HasSuffix(f.Name, "-wal") {
			path = out + "-wal"
		} else if f.Name != args[1] {
			return fmt.Errorf("unexpected file %q in the dump", f.Name)
		}
		if err := os.WriteFile(path, f.Data, 0o600); err != nil {
			return err
		}
	}
	_ = os.Remove(out + "-shm")
	_, err = os.Stat(filepath.Clean(out))
	return err
}

func runSQL(args []string) error {
	fs := flag.NewFlagSet("sql", flag.ExitOnError)
	addrs := fs.String("c", "", "comma-separated node addresses")
	db := fs.String("db", "app.db", "database name")
	retry := fs.Duration("retry", 0, "retry the whole list until it succeeds or this long has passed")
	timeout := fs.Duration("timeout", 60*time.Second, "limit for each statement")
	timing := fs.Bool("time", false, "print each statement's duration on stderr")
	_ = fs.Parse(args)
	if *addrs == "" || fs.NArg() == 0 {
		return errors.New("usage: sql -c ADDRS -db DB [flags] SQL...")
	}
	drv, err := dqlite.New(store(*addrs),
		dqlite.WithConnectionTimeout(5*time.Second),
		dqlite.WithAttemptTimeout(2*time.Second),
		dqlite.WithConnectionBackoffFactor(10*time.Millisecond),
		dqlite.WithConnectionBackoffCap(100*time.Millisecond))
	if err != nil {
		return err
	}
	start := time.Now()
	for {
		out, err := runOnce(drv, *db, fs.Args(), *timeout, *timing)
		if err == nil {
			os.Stdout.WriteString(out)
			if *retry > 0 {
				fmt.Fprintf(os.Stderr, "ok after %d ms\n", time.Since(start).Milliseconds())
			}
			return nil
		}
		if *retry == 0 || time.Since(start) > *retry {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func runOnce(drv *dqlite.Driver, db string, stmts []string, timeout time.Duration, timing bool) (string, error) {
	connector, err := drv.OpenConnector(db)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	conn, err := connector.Connect(ctx)
	cancel()
	if err != nil {
		return "", err
	}
	defer conn.Close()
	var out strings.Builder
	for _, stmt := range stmts {
		query := isQuery(stmt)
		if s, ok := cut(stmt, "query:"); ok {
			stmt, query = s, true
		} else if s, ok := cut(stmt, "exec:"); ok {
			stmt, query = s, false
		}
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		t0 := time.Now()
		if query {
			err = queryRows(ctx, conn.(driver.QueryerContext), stmt, &out)
		} else {
			_, err = conn.(driver.ExecerContext).ExecContext(ctx, stmt, nil)
		}
		cancel()
		if timing {
			fmt.Fprintf(os.Stderr, "time %d ms: %s\n", time.Since(t0).Milliseconds(), short(stmt))
		}
		if err != nil {
			return "", fmt.Errorf("%s: %v", short(stmt), err)
		}
	}
	return out.String(), nil
}

func queryRows(ctx context.Context, q driver.QueryerContext, stmt string, out *strings.Builder) error {
	rows, err := q.QueryContext(ctx, stmt, nil)
	if err != nil {
		return err
	}
	defer rows.Close()
	values := make([]driver.Value, len(rows.Columns()))
	for {
		if err := rows.Next(values); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		for i, v := range values {
			if i > 0 {
				out.WriteByte('|')
			}
			out.WriteString(format(v))
		}
		out.WriteByte('\n')
	}
}

func format(v driver.Value) string {
	switch x := v.(type) {
	case nil:
		return ""
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case []byte:
		return string(x)
	case string:
		return x
	case bool:
		if x {
			return "1"
		}
		return "0"
	case time.Time:
		return x.Format(time.RFC3339Nano)
	default:
		return fmt.Sprint(x)
	}
}

func isQuery(stmt string) bool {
	f := strings.Fields(stmt)
	if len(f) == 0 {
		return false
	}
	switch strings.ToUpper(f[0]) {
	case "SELECT", "WITH", "VALUES", "PRAGMA":
		return true
	}
	return false
}

func cut(s, prefix string) (string, bool) {
	t := strings.TrimLeft(s, " \t\n")
	if strings.HasPrefix(t, prefix) {
		return t[len(prefix):], true
	}
	return s, false
}

func short(stmt string) string {
	s := strings.Join(strings.Fields(stmt), " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
