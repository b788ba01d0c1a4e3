// Command gokernel is the Go-compiled benchmark kernel (GOOS=wasip1
// GOARCH=wasm): a map- and slice-heavy computation. It generates N
// pseudo-random "edges" between string-named nodes, counts them in maps,
// builds adjacency slices, runs a breadth-first search from 16 evenly spaced
// nodes, and sorts the nodes by degree. It prints counts and an FNV
// checksum that never depends on map iteration order. Default N = 100000.
//
// This is its own module so the crowdrun module's go build/vet ignore it.
package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
)

type rng uint64

func (s *rng) next() uint64 {
	*s += 0x9E3779B97F4A7C15
	z := uint64(*s)
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

type fnv uint64

func (h *fnv) add(b []byte) {
	for _, c := range b {
		*h ^= fnv(c)
		*h *= 0x100000001B3
	}
}

func main() {
	n := 100000
	if len(os.Args) > 1 {
		v, err := strconv.Atoi(os.Args[1])
		if err != nil || v <= 0 {
			fmt.Fprintf(os.Stderr, "usage: %s [SIZE]  (SIZE a positive integer, default %d)\n", os.Args[0], n)
			os.Exit(64)
		}
		n = v
	}
	nodes := n/8 + 1
	s := rng(77)

	// node names and an index map
	names := make([]string, nodes)
	index := make(map[string]int, nodes)
	for i := range names {
		names[i] = "n" + strconv.FormatUint(s.next()%uint64(nodes*4), 36)
	}
	for i, name := range names {
		if _, ok := index[name]; !ok {
			index[name] = i
		}
	}

	// edges, counted in a map keyed by a struct
	type edge struct{ a, b int }
	count := make(map[edge]int)
	for i := 0; i < n; i++ {
		r := s.next()
		a := index[names[int(r%uint64(nodes))]]
		b := index[names[int((r>>32)%uint64(nodes))]]
		if a > b {
			a, b = b, a
		}
		count[edge{a, b}]++
	}

	// adjacency slices, sorted so that BFS order is deterministic
	adj := make([][]int32, nodes)
	for e := range count {
		adj[e.a] = append(adj[e.a], int32(e.b))
		if e.a != e.b {
			adj[e.b] = append(adj[e.b], int32(e.a))
		}
	}
	for i := range adj {
		sort.Slice(adj[i], func(x, y int) bool { return adj[i][x] < adj[i][y] })
	}

	// BFS from 16 evenly spaced sources
	var h fnv = 0xCBF29CE484222325
	dist := make([]int32, nodes)
	queue := make([]int32, 0, nodes)
	reachedTotal, distTotal := 0, 0
	for src := 0; src < nodes; src += nodes/16 + 1 {
		for i := range dist {
			dist[i] = -1
		}
		queue = queue[:0]
		queue = append(queue, int32(src))
		dist[src] = 0
		for q := 0; q < len(queue); q++ {
			u := queue[q]
			for _, v := range adj[u] {
				if dist[v] < 0 {
					dist[v] = dist[u] + 1
					queue = append(queue, v)
				}
			}
		}
		reachedTotal += len(queue)
		for _, v := range queue {
			distTotal += int(dist[v])
		}
		h.add([]byte(strconv.Itoa(len(queue))))
	}

	// nodes by degree (then name), multiplicities summed through the map
	type deg struct {
		name string
		d    int
	}
	degs := make([]deg, 0, len(index))
	for name, i := range index {
		d := 0
		for _, v := range adj[i] {
			a, b := i, int(v)
			if a > b {
				a, b = b, a
			}
			d += count[edge{a, b}]
		}
		degs = append(degs, deg{name, d})
	}
	sort.Slice(degs, func(x, y int) bool {
		if degs[x].d != degs[y].d {
			return degs[x].d > degs[y].d
		}
		return degs[x].name < degs[y].name
	})
	for _, d := range degs {
		h.add([]byte(d.name))
		h.add([]byte(strconv.Itoa(d.d)))
	}
	fmt.Printf("gokernel n=%d nodes=%d distinct=%d edges=%d reached=%d dist=%d top=%s:%d checksum=%016x\n",
		n, nodes, len(index), len(count), reachedTotal, distTotal, degs[0].name, degs[0].d, uint64(h))
}
