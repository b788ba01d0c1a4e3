// Package flaky serves a coordinator's handler with faults, for the tests
// of the workers that talk to it (native and JavaScript).
package flaky

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// FirstModuleFetchFails serves h on loopback, except that the first
// module download (GET /v1/modules/…) fails with 503, as it does when the
// coordinator is going away. It returns the server's URL and a count of
// module downloads so far; the server closes when t ends.
func FirstModuleFetchFails(t testing.TB, h http.Handler) (url string, fetches func() int) {
	var mu sync.Mutex
	n := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/modules/") {
			mu.Lock()
			n++
			first := n == 1
			mu.Unlock()
			if first {
				http.Error(w, "the coordinator is shutting down", http.StatusServiceUnavailable)
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { srv.CloseClientConnections(); srv.Close() })
	return srv.URL, func() int {
		mu.Lock()
		defer mu.Unlock()
		return n
	}
}
