// Package explorer serves Whisper's GraphQL explorer: GraphiQL at / with its
// assets (GraphiQL, React, graphql-ws, each pinned and with its licence)
// embedded in the binary and served under /explorer/, so the explorer works
// with no internet. Its first screen shows how to sign in and where the
// access token goes; a subscription the server refuses ends at once with an
// UNAUTHENTICATED error instead of reconnecting in silence.
package explorer

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed assets
var assets embed.FS

// Register mounts the explorer on mux: the page at GET / and its assets at
// GET /explorer/. The page talks to the GraphQL endpoint at /graphql on the
// same host (HTTP POST, and websockets for subscriptions).
func Register(mux *http.ServeMux) {
	files, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	mux.Handle("GET /{$}", page(files))
	mux.Handle("GET /explorer/", http.StripPrefix("/explorer", assetServer(files)))
}

// page serves index.html: never cached, so an upgraded server's page (and
// the assets it names) is what a browser loads.
func page(files fs.FS) http.Handler {
	index, err := fs.ReadFile(files, "index.html")
	if err != nil {
		panic(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(index)
	})
}

// assetServer serves the embedded files with an ETag (their content's
// hash; embedded files carry no modification time), so a browser revalidates
// them cheaply and an upgraded server's files are never taken from a stale
// cache. Folders are not listed.
func assetServer(files fs.FS) http.Handler {
	tags := map[string]string{}
	err := fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(files, path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		tags["/"+path] = `"` + hex.EncodeToString(sum[:16]) + `"`
		return nil
	})
	if err != nil {
		panic(err)
	}
	static := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tag, ok := tags[r.URL.Path]
		if !ok || strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("ETag", tag)
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		static.ServeHTTP(w, r)
	})
}
