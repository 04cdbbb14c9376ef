package explorer

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, srv *httptest.Server, path string, header ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	return res
}

func body(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The page and everything it loads come from Whisper itself: no address on
// another host (a CDN) anywhere in the page, its script or its styles, and
// every asset it names is served with its type.
func TestExplorerNeedsNoInternet(t *testing.T) {
	mux := http.NewServeMux()
	Register(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	res := get(t, srv, "/")
	page := body(t, res)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / = %d %s, want the explorer page", res.StatusCode, res.Header.Get("Content-Type"))
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 6 {
		t.Fatalf("the page names %d assets, want GraphiQL, React, ReactDOM, graphql-ws, the styles and the explorer script:\n%s", len(refs), page)
	}
	types := map[string]string{".js": "text/javascript", ".css": "text/css"}
	for _, m := range refs {
		ref := m[1]
		if !strings.HasPrefix(ref, "/explorer/") {
			t.Errorf("the page loads %q, want an asset served by Whisper under /explorer/", ref)
			continue
		}
		res := get(t, srv, ref)
		text := body(t, res)
		want := types[ref[strings.LastIndex(ref, "."):]]
		if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), want) || len(text) == 0 {
			t.Errorf("GET %s = %d %q (%d bytes), want 200 %s", ref, res.StatusCode, res.Header.Get("Content-Type"), len(text), want)
		}
		if strings.HasSuffix(ref, ".css") && regexp.MustCompile(`url\(\s*["']?(https?:)?//`).MatchString(text) {
			t.Errorf("%s loads from another host", ref)
		}
		if ref == "/explorer/explorer.js" && regexp.MustCompile(`https?://`).MatchString(text) {
			t.Errorf("the explorer script names another host")
		}
		// A second load is revalidated, not downloaded again.
		if tag := res.Header.Get("ETag"); tag == "" {
			t.Errorf("GET %s has no ETag", ref)
		} else if again := get(t, srv, ref, "If-None-Match", tag); again.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with its ETag = %d, want 304", ref, again.StatusCode)
		}
	}
	// The first screen says how to sign in and where the token goes.
	for _, want := range []string{"login", `{"Authorization": "Bearer &lt;accessToken&gt;"}`, "connection_init"} {
		if !strings.Contains(page, want) {
			t.Errorf("the first screen does not say %q", want)
		}
	}
	// Licences are served beside the vendored files; folders are not listed.
	for _, lic := range []string{"LICENSE.graphiql", "LICENSE.react", "LICENSE.react-dom", "LICENSE.graphql-ws", "VERSIONS.md"} {
		if res := get(t, srv, "/explorer/vendor/"+lic); res.StatusCode != http.StatusOK {
			t.Errorf("GET /explorer/vendor/%s = %d, want 200", lic, res.StatusCode)
		}
	}
	for _, path := range []string{"/explorer/", "/explorer/vendor/", "/explorer/nope.js"} {
		if res := get(t, srv, path); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, res.StatusCode)
		}
	}
}
