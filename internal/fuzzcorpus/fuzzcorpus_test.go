package fuzzcorpus

import (
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	got, err := Parse([]byte("go test fuzz v1\n[]byte(\"\\x00asm\\\"\")\nbool(true)\nstring(\"a\\nb\")\nbyte('\\x03')\nuint8(7)\nint64(-2)\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []any{[]byte("\x00asm\""), true, "a\nb", int64(3), int64(7), int64(-2)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse = %#v, want %#v", got, want)
	}
	for _, bad := range []string{"go test fuzz v2\nbool(true)\n", "go test fuzz v1\nfloat64(1)\n", "go test fuzz v1\n[]byte(x)\n", "go test fuzz v1\nbool(maybe)\n"} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}
