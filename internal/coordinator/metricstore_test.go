package coordinator

import (
	"context"
	"go/ast"
	"go/parser"
	"go/token"
	"slices"
	"testing"

	"github.com/crowdrun/crowdrun/internal/store"
)

// interfaceMethods lists the methods an interface of store.go declares
// itself (not those of the interfaces it embeds).
func interfaceMethods(t *testing.T, f *ast.File, name string) []string {
	t.Helper()
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != name {
			return true
		}
		for _, m := range ts.Type.(*ast.InterfaceType).Methods.List {
			if len(m.Names) > 0 {
				out = append(out, m.Names[0].Name)
			}
		}
		return false
	})
	if len(out) == 0 {
		t.Fatalf("no interface %s in store.go", name)
	}
	return out
}

// Every method of the store seam is timed: meteredStore declares it itself
// (embedding would pass it through untimed) and storeOps names it, so its
// latency series exists from the start.
func TestMeteredStoreCoversTheSeam(t *testing.T) {
	fset := token.NewFileSet()
	sf, err := parser.ParseFile(fset, "../store/store.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := append(interfaceMethods(t, sf, "Blobs"), interfaceMethods(t, sf, "Store")...)
	want = slices.DeleteFunc(want, func(m string) bool { return m == "Close" }) // the coordinator never closes the store
	mf, err := parser.ParseFile(fset, "metricstore.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	declared := map[string]bool{}
	for _, d := range mf.Decls {
		fd, ok := d.(*ast.FuncDecl)
		if !ok || fd.Recv == nil {
			continue
		}
		if st, ok := fd.Recv.List[0].Type.(*ast.StarExpr); ok && st.X.(*ast.Ident).Name == "meteredStore" {
			declared[fd.Name.Name] = true
		}
	}
	for _, m := range want {
		if !declared[m] {
			t.Errorf("store.Store.%s is not timed: declare it on meteredStore (metricstore.go)", m)
		}
		if !slices.Contains(storeOps, m) {
			t.Errorf("store.Store.%s is missing from storeOps", m)
		}
	}
	for _, op := range storeOps {
		if !slices.Contains(want, op) {
			t.Errorf("storeOps names %s, which store.Store does not have", op)
		}
	}
}

// notifierStore is a store that is also a Notifier, as the PostgreSQL
// driver is: only the types matter here.
type notifierStore struct{ store.Store }

func (notifierStore) ListenWork(context.Context, func(bool)) error { return nil }

// A Notifier store stays one through the metrics (the coordinator listens
// for other coordinators' work through it); another does not become one.
func TestMeteredStoreKeepsNotifier(t *testing.T) {
	m := newMetrics()
	if _, ok := newMeteredStore(notifierStore{}, m).(store.Notifier); !ok {
		t.Fatal("a Notifier store lost ListenWork")
	}
	if _, ok := newMeteredStore(struct{ store.Store }{}, m).(store.Notifier); ok {
		t.Fatal("a store that is no Notifier became one")
	}
}

func TestWorkerKind(t *testing.T) {
	for runtime, want := range map[string]string{
		"go/wazero": kindNative, "js/node v20.19.2": kindNode, "js/browser Chromium/131": kindBrowser, "js": kindBrowser,
		"": kindOther, "python": kindOther, "go": kindOther, "js/nodeish": kindOther, "js/browserx": kindOther,
	} {
		if got := workerKind(runtime); got != want {
			t.Errorf("workerKind(%q) = %s, want %s", runtime, got, want)
		}
	}
}

// nopStore answers ReplicaCountQueued at once: what is left of a call is
// the metering.
type nopStore struct{ store.Store }

func (nopStore) ReplicaCountQueued(context.Context) (int, error) { return 0, nil }

// BenchmarkMeteredStoreCall is what timing a store call adds to it (compare
// BenchmarkStoreCallUnmetered).
func BenchmarkMeteredStoreCall(b *testing.B) {
	s := newMeteredStore(nopStore{}, newMetrics())
	ctx := context.Background()
	for b.Loop() {
		s.ReplicaCountQueued(ctx)
	}
}

func BenchmarkStoreCallUnmetered(b *testing.B) {
	var s store.Store = nopStore{}
	ctx := context.Background()
	for b.Loop() {
		s.ReplicaCountQueued(ctx)
	}
}
