// Command gomodzip writes a Go module as a module proxy serves it, using Go's
// own module zip code (golang.org/x/mod/zip): the layout `make dist` publishes
// and `make dist-check` installs from with GOPROXY=file://...
//
//	gomodzip -dir dist/go -module github.com/sigma-auth/sigma-auth-go -version v0.1.0 -out dist/goproxy
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/zip"
)

func main() {
	dir := flag.String("dir", "", "the module's root directory (holding go.mod)")
	path := flag.String("module", "", "the module path")
	version := flag.String("version", "", "the version, e.g. v0.1.0")
	out := flag.String("out", "", "the proxy's root directory")
	flag.Parse()
	if err := run(*dir, *path, *version, *out); err != nil {
		fmt.Fprintln(os.Stderr, "gomodzip:", err)
		os.Exit(1)
	}
}

func run(dir, path, version, out string) error {
	m := module.Version{Path: path, Version: version}
	if err := module.Check(m.Path, m.Version); err != nil {
		return err
	}
	escaped, err := module.EscapePath(m.Path)
	if err != nil {
		return err
	}
	versions := filepath.Join(out, escaped, "@v")
	if err := os.MkdirAll(versions, 0o755); err != nil {
		return err
	}
	archive, err := os.Create(filepath.Join(versions, version+".zip"))
	if err != nil {
		return err
	}
	if err := zip.CreateFromDir(archive, m, dir); err != nil {
		archive.Close()
		return err
	}
	if err := archive.Close(); err != nil {
		return err
	}
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return err
	}
	info, _ := json.Marshal(map[string]string{"Version": version, "Time": time.Now().UTC().Format(time.RFC3339)})
	for name, data := range map[string][]byte{version + ".mod": gomod, version + ".info": info, "list": []byte(version + "\n")} {
		if err := os.WriteFile(filepath.Join(versions, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
