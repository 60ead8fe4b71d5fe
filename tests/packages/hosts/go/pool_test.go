// The Go package's driver under database/sql's pool (tests/packages/test_go.py runs it in
// GOPATH mode against the released sqlml-go tarball):
//   - the workload (tests/packages/workload.json) through a pool, results written as JSON to
//     $SQLML_GO_OUT for comparison with the other hosts;
//   - many connections held at once, each predicting concurrently: no "no key" error;
//   - the control: a plain go-sqlite3 driver with the extension, unlocked by one
//     db.Exec("SELECT ml_unlock(?)"), leaves the pool's other connections locked.
package pooltest

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"sqlml"
)

const conns = 6

type workload struct {
	Setup   []string          `json:"setup"`
	First   string            `json:"first"`
	Queries map[string]string `json:"queries"`
}

var (
	t0       = time.Now()
	once     sync.Once
	dbPath   string
	setupErr error
)

func key(t *testing.T) string {
	k := os.Getenv("APP_SQLML_KEY")
	if k == "" {
		t.Fatal("APP_SQLML_KEY is not set")
	}
	if os.Getenv("SQLML_KEY") != "" {
		t.Fatal("SQLML_KEY must be unset: the pool must unlock each connection itself")
	}
	return k
}

func rows(db *sql.DB, query string) ([][]interface{}, error) {
	r, err := db.Query(query)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	cols, _ := r.Columns()
	out := [][]interface{}{}
	for r.Next() {
		vals := make([]interface{}, len(cols))
		ptrs := make([]interface{}, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := r.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = string(b)
			}
		}
		out = append(out, vals)
	}
	return out, r.Err()
}

// setup runs the workload through an sqlml pool once and writes the results to $SQLML_GO_OUT.
func setup(t *testing.T) string {
	once.Do(func() {
		dir, err := os.MkdirTemp("", "sqlml-go-")
		if err != nil {
			setupErr = err
			return
		}
		dbPath = filepath.Join(dir, "app.db")
		setupErr = runWorkload(key(t))
	})
	if setupErr != nil {
		t.Fatal(setupErr)
	}
	return dbPath
}

func runWorkload(k string) error {
	raw, err := os.ReadFile(os.Getenv("SQLML_WORKLOAD"))
	if err != nil {
		return err
	}
	var w workload
	if err := json.Unmarshal(raw, &w); err != nil {
		return err
	}
	db, err := sqlml.Open("file:"+dbPath+"?_busy_timeout=10000", sqlml.Options{Key: k})
	if err != nil {
		return err
	}
	defer db.Close()
	for _, s := range w.Setup {
		if _, err := rows(db, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	first, err := rows(db, w.First)
	if err != nil {
		return err
	}
	firstS := time.Since(t0).Seconds()
	results := map[string][][]interface{}{}
	for name, q := range w.Queries {
		if results[name], err = rows(db, q); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	path, err := sqlml.LoadablePath()
	if err != nil {
		return err
	}
	out, _ := json.Marshal(map[string]interface{}{
		"driver": "go", "version": sqlml.Version, "loadable_path": path,
		"first": first, "first_prediction_s": firstS, "results": results,
	})
	return os.WriteFile(os.Getenv("SQLML_GO_OUT"), out, 0o644)
}

// predictOn makes n predictions of each kind on one connection and returns the errors.
func predictOn(ctx context.Context, c *sql.Conn, n int) []error {
	var errs []error
	for j := 0; j < n; j++ {
		var queue, churn string
		var rating float64
		err := c.QueryRowContext(ctx,
			"SELECT ml_predict('router', ?), ml_predict('churn', ?, 'basic', 40.0), ml_predict('recs', ?, 10)",
			"I was charged twice, please refund me", j%72, j%200).Scan(&queue, &churn, &rating)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if queue != "billing" || (churn != "yes" && churn != "no") || rating < 0.5 || rating > 5.5 {
			errs = append(errs, fmt.Errorf("unexpected prediction %q %q %v", queue, churn, rating))
		}
	}
	return errs
}

// holdAndPredict holds `conns` connections of db at once and predicts on all of them concurrently.
func holdAndPredict(t *testing.T, db *sql.DB, n int) []error {
	ctx := context.Background()
	held := make([]*sql.Conn, conns)
	for i := range held {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held[i] = c
	}
	if open := db.Stats().OpenConnections; open != conns {
		t.Fatalf("%d connections open, want %d", open, conns)
	}
	var mu sync.Mutex
	var all []error
	var wg sync.WaitGroup
	for _, c := range held {
		wg.Add(1)
		go func(c *sql.Conn) {
			defer wg.Done()
			errs := predictOn(ctx, c, n)
			mu.Lock()
			all = append(all, errs...)
			mu.Unlock()
		}(c)
	}
	wg.Wait()
	return all
}

func TestEveryPooledConnectionIsUnlocked(t *testing.T) {
	path := setup(t)
	db, err := sqlml.Open("file:"+path+"?_busy_timeout=10000", sqlml.Options{Key: key(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	if errs := holdAndPredict(t, db, 40); len(errs) > 0 {
		t.Fatalf("%d errors, the first: %v", len(errs), errs[0])
	}
	// And unpinned: goroutines sharing the pool as an application would.
	var wg sync.WaitGroup
	failures := make(chan error, 400)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for j := 0; j < 50; j++ {
				var queue string
				if err := db.QueryRow("SELECT ml_predict('router', ?)", fmt.Sprintf("the app crashes on screen %d", g*50+j)).Scan(&queue); err != nil {
					failures <- err
				} else if queue != "bugs" {
					failures <- fmt.Errorf("predicted %q", queue)
				}
			}
		}(g)
	}
	wg.Wait()
	close(failures)
	for err := range failures {
		t.Fatal(err)
	}
	t.Logf("pool: %d connections opened, all unlocked", db.Stats().OpenConnections)
}

func TestRegisteredDriverName(t *testing.T) {
	path := setup(t)
	if err := sqlml.Register("sqlml-test", sqlml.Options{Key: key(t)}); err != nil {
		t.Fatal(err)
	}
	if err := sqlml.Register("sqlml-test", sqlml.Options{}); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("a second Register under one name: %v", err)
	}
	db, err := sql.Open("sqlml-test", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var queue string
	if err := db.QueryRow("SELECT ml_predict('router', 'refund my double charge')").Scan(&queue); err != nil || queue != "billing" {
		t.Fatalf("%q %v", queue, err)
	}
}

func TestWrongKeyFailsAtOpen(t *testing.T) {
	path := setup(t)
	_, err := sqlml.Open(path, sqlml.Options{Key: "not the passphrase"})
	if err == nil || !strings.Contains(err.Error(), "wrong passphrase") {
		t.Fatalf("want a wrong passphrase error at Open, got %v", err)
	}
}

// The failure the driver exists for, shown with the same library and database.
func TestControlPlainDriverLeavesConnectionsLocked(t *testing.T) {
	path := setup(t)
	ext, err := sqlml.LoadablePath()
	if err != nil {
		t.Fatal(err)
	}
	sql.Register("plain-go-sqlite3-with-sqlml", &sqlite3.SQLiteDriver{Extensions: []string{ext}})
	db, err := sql.Open("plain-go-sqlite3-with-sqlml", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	if _, err := db.Exec("SELECT ml_unlock(?)", key(t)); err != nil {
		t.Fatal(err)
	}
	errs := holdAndPredict(t, db, 2)
	noKey := 0
	for _, e := range errs {
		if strings.Contains(e.Error(), "no key for this database") {
			noKey++
		}
	}
	if noKey == 0 {
		t.Fatalf("the control saw no 'no key' error (errors: %v)", errs)
	}
	t.Logf("control: %d of %d predictions failed with 'no key for this database'", noKey, conns*2)
}
