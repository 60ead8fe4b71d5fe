package sqlml

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sync"
)

// embedded is the extension for this platform, set by library_<os>_<arch>.go, which
// scripts/package.sh writes beside the library into the released package. Empty in a source
// checkout: there, Options.Extension or SQLML_EXT names the library.
var embedded []byte

var (
	placeOnce sync.Once
	placed    string
	placeErr  error
)

// embeddedPath writes the embedded library once per process to
// <user cache>/sqlml/<version>-<hash>/libsqlml0.so (a private temporary directory when there
// is no cache directory) and returns that path. A file already there is used only when its
// SHA-256 matches the embedded bytes.
func embeddedPath() (string, error) {
	if len(embedded) == 0 {
		return "", ErrNoLibrary
	}
	placeOnce.Do(func() {
		sum := sha256.Sum256(embedded)
		if base, err := os.UserCacheDir(); err == nil {
			dir := filepath.Join(base, "sqlml", Version+"-"+hex.EncodeToString(sum[:8]))
			if placed, placeErr = place(dir, sum); placeErr == nil {
				return
			}
		}
		dir, err := os.MkdirTemp("", "sqlml-")
		if err != nil {
			placeErr = err
			return
		}
		placed, placeErr = place(dir, sum)
	})
	return placed, placeErr
}

func place(dir string, sum [32]byte) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "libsqlml0.so")
	if have, err := os.ReadFile(path); err == nil && sha256.Sum256(have) == sum {
		return path, nil
	}
	tmp, err := os.CreateTemp(dir, ".libsqlml0-*.so")
	if err != nil {
		return "", err
	}
	_, werr := tmp.Write(embedded)
	cerr := tmp.Close()
	if werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(tmp.Name(), 0o755)
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), path) // atomic: a concurrent process sees the old or the new file
	}
	if werr != nil {
		os.Remove(tmp.Name())
		return "", werr
	}
	return path, nil
}
