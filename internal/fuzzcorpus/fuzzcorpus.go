// Package fuzzcorpus reads the corpus files of Go's native fuzzing
// ("go test fuzz v1", one Go literal per line) so that tests other than the
// fuzz target itself — the JavaScript differential checks — can run the
// same inputs, crashers included.
package fuzzcorpus

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
)

const header = "go test fuzz v1"

// Entry is one corpus file: its values in the order of the target's
// parameters. Supported types are []byte, string and bool, which is all
// crowdrun's targets take besides integers (int64/uint8 and friends are
// returned as int64).
type Entry struct {
	Name   string
	Values []any
}

// ReadDir reads every corpus file of dir (testdata/fuzz/FuzzX), sorted by
// name; a missing directory is no entries.
func ReadDir(dir string) ([]Entry, error) {
	files, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Entry
	for _, f := range files {
		if f.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, f.Name()))
		if err != nil {
			return nil, err
		}
		vs, err := Parse(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, f.Name()), err)
		}
		out = append(out, Entry{Name: f.Name(), Values: vs})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Parse reads one corpus file.
func Parse(b []byte) ([]any, error) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 64<<20)
	if !sc.Scan() || sc.Text() != header {
		return nil, fmt.Errorf("not a corpus file: the first line is not %q", header)
	}
	var out []any
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		v, err := parseValue(string(line))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, sc.Err()
}

func parseValue(s string) (any, error) {
	e, err := parser.ParseExpr(s)
	if err != nil {
		return nil, fmt.Errorf("corpus value %q: %w", s, err)
	}
	call, ok := e.(*ast.CallExpr)
	if !ok || len(call.Args) != 1 {
		return nil, fmt.Errorf("corpus value %q: not T(literal)", s)
	}
	arg := call.Args[0]
	switch typ := s[:call.Lparen-1]; typ { // Pos is 1-based
	case "[]byte", "string":
		lit, ok := arg.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return nil, fmt.Errorf("corpus value %q: not a string literal", s)
		}
		v, err := strconv.Unquote(lit.Value)
		if err != nil {
			return nil, fmt.Errorf("corpus value %q: %w", s, err)
		}
		if typ == "string" {
			return v, nil
		}
		return []byte(v), nil
	case "bool":
		id, ok := arg.(*ast.Ident)
		if !ok || id.Name != "true" && id.Name != "false" {
			return nil, fmt.Errorf("corpus value %q: not a bool", s)
		}
		return id.Name == "true", nil
	case "byte", "uint8", "int", "int8", "int16", "int32", "int64", "uint", "uint16", "uint32", "uint64", "rune":
		neg := false
		if u, ok := arg.(*ast.UnaryExpr); ok && u.Op == token.SUB {
			neg, arg = true, u.X
		}
		lit, ok := arg.(*ast.BasicLit)
		if !ok {
			return nil, fmt.Errorf("corpus value %q: not a literal", s)
		}
		if neg {
			n, err := strconv.ParseInt("-"+lit.Value, 0, 64)
			return n, err
		}
		if lit.Kind == token.CHAR {
			r, _, _, err := strconv.UnquoteChar(lit.Value[1:len(lit.Value)-1], '\'')
			return int64(r), err
		}
		n, err := strconv.ParseInt(lit.Value, 0, 64)
		return n, err
	default:
		return nil, fmt.Errorf("corpus value %q: type %s is not supported", s, typ)
	}
}
