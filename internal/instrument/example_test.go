package instrument_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/crowdrun/crowdrun/internal/instrument"
	"github.com/crowdrun/crowdrun/internal/wasm"
)

func Example() {
	bin, err := os.ReadFile("testdata/fuel.wasm")
	if err != nil {
		panic(err)
	}
	opts := instrument.DefaultOptions()
	opts.StackLimit = 500
	opts.MemoryCapPages = 256 // 16 MiB
	opts.AllowImport = func(module, name string, typ wasm.FuncType) error {
		return fmt.Errorf("no imports here")
	}
	out, err := instrument.Instrument(bin, opts)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(out) > len(bin))

	// Instrumenting twice is refused.
	_, err = instrument.Instrument(out, opts)
	fmt.Println(errors.Is(err, instrument.ErrReserved))
	// Output:
	// true
	// true
}
