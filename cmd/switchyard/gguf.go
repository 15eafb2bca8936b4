package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"switchyard/internal/engine"
	"switchyard/internal/engine/gguf"
)

// synthTypes are the matrix types engine.Synth can write (K types need
// rows that are a multiple of 256).
var synthTypes = []string{"f32", "f16", "bf16", "q8_0", "q5_0", "q5_1", "q4_0", "q4_1", "q4_k", "q5_k", "q6_k"}

// synthShapes are the shapes gguf synth offers; tests add tiny ones.
var synthShapes = engine.Shapes

func ggufDesc() string {
	var rows []string
	for _, n := range sortedShapeNames() {
		s := synthShapes[n]
		size := n
		if i := strings.LastIndexByte(n, '-'); i >= 0 {
			size = n[i+1:]
		}
		rows = append(rows, fmt.Sprintf("    --arch %-6s --shape %-6s  (%s, %s)", s.Arch, size, n, s.Name))
	}
	return `
Look inside GGUF files and make test models.

  inspect FILE [--json]   the header, every metadata key with its type and
                          value (long arrays summarised, e.g. [32000 strings])
                          and every tensor's name, type, shape and size
  synth --arch A --shape S --type T -o FILE
                          write a model of a published shape with random
                          weights and a byte-level tokenizer: the output is
                          gibberish, the speed is real (for bench engine)

Shapes (--shape also takes the full name, without --arch):
` + strings.Join(rows, "\n") + `

Types: ` + strings.Join(synthTypes, ", ") + ` (k types need rows that are a
multiple of 256).`
}

func sortedShapeNames() []string {
	var names []string
	for n := range synthShapes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func cmdGGUF(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	verb := ""
	if len(args) > 0 {
		verb, args = args[0], args[1:]
	}
	switch verb {
	case "inspect":
		fs := newFlags("gguf inspect", "gguf inspect FILE [--json]", ggufDesc(), stdout)
		asJSON := fs.Bool("json", false, "print JSON")
		if err := parseInterspersed(fs, args); err != nil {
			return err
		}
		if fs.NArg() != 1 {
			fs.Usage()
			return errUsage
		}
		return inspect(fs.Arg(0), *asJSON, stdout)
	case "synth":
		fs := newFlags("gguf synth", "gguf synth --arch A --shape S --type T -o FILE", ggufDesc(), stdout)
		arch := fs.String("arch", "", "architecture: qwen2, qwen3 or llama")
		shape := fs.String("shape", "", "size within the architecture (0.5b, 135m…), or a full shape name")
		typ := fs.String("type", "q8_0", "matrix type")
		out := fs.String("o", "", "output file")
		if err := parse(fs, args); err != nil {
			return err
		}
		if *shape == "" || *out == "" || fs.NArg() != 0 {
			fs.Usage()
			return errUsage
		}
		name, err := findShape(*arch, *shape)
		if err != nil {
			return err
		}
		if err := engine.SynthShape(synthShapes[name], *typ, *out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s (%s, %s)\n", *out, name, strings.ToUpper(*typ))
		return nil
	}
	fs := newFlags("gguf", "gguf inspect|synth …", ggufDesc(), stdout)
	if err := parse(fs, append([]string{verb}, args...)); err != nil {
		return err
	}
	fs.Usage()
	return errUsage
}

// findShape picks the shape named shape, or the shape of architecture
// arch whose name ends in -shape.
func findShape(arch, shape string) (string, error) {
	shape = strings.ToLower(shape)
	if s, ok := synthShapes[shape]; ok && (arch == "" || s.Arch == arch) {
		return shape, nil
	}
	var hits []string
	for _, n := range sortedShapeNames() {
		if synthShapes[n].Arch == arch && strings.HasSuffix(n, "-"+shape) {
			hits = append(hits, n)
		}
	}
	if len(hits) == 1 {
		return hits[0], nil
	}
	var known []string
	for _, n := range sortedShapeNames() {
		known = append(known, synthShapes[n].Arch+" "+n[strings.LastIndexByte(n, '-')+1:])
	}
	if len(hits) > 1 {
		return "", fmt.Errorf("--arch %s --shape %s matches %s: give the full name", arch, shape, strings.Join(hits, ", "))
	}
	return "", fmt.Errorf("no shape --arch %q --shape %q (known: %s)", arch, shape, strings.Join(known, "; "))
}

type kvJSON struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Len   *int   `json:"len,omitempty"` // arrays
	Value any    `json:"value,omitempty"`
}

type tensorJSON struct {
	Name   string   `json:"name"`
	Type   string   `json:"type"`
	Shape  []uint64 `json:"shape"`
	Offset uint64   `json:"offset"`
	Size   uint64   `json:"size"`
}

// maxArray is the longest array printed in full.
const maxArray = 16

func typeName(kv gguf.KV) string {
	if a, ok := kv.Value.(gguf.Array); ok {
		return "array[" + a.Elem.String() + "]"
	}
	return kv.Type().String()
}

func inspect(path string, asJSON bool, w io.Writer) error {
	f, err := gguf.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if asJSON {
		out := struct {
			Version    uint32       `json:"version"`
			Size       int64        `json:"size"`
			Alignment  uint64       `json:"alignment"`
			DataOffset uint64       `json:"data_offset"`
			Metadata   []kvJSON     `json:"metadata"`
			Tensors    []tensorJSON `json:"tensors"`
		}{Version: f.Version, Size: f.Size(), Alignment: f.Alignment, DataOffset: f.DataOffset,
			Metadata: []kvJSON{}, Tensors: []tensorJSON{}}
		for _, kv := range f.KV {
			j := kvJSON{Key: kv.Key, Type: typeName(kv), Value: kv.Value}
			if a, ok := kv.Value.(gguf.Array); ok {
				n := a.Len()
				j.Len, j.Value = &n, nil
				if n <= maxArray {
					j.Value = a.Values
				}
			}
			out.Metadata = append(out.Metadata, j)
		}
		for _, t := range f.Tensors {
			out.Tensors = append(out.Tensors, tensorJSON{Name: t.Name, Type: t.Type.String(), Shape: t.Shape, Offset: t.Offset, Size: t.Size})
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(w, "%s: GGUF v%d, %s, %d metadata keys, %d tensors, alignment %d\n\n",
		path, f.Version, humanBytes(f.Size()), len(f.KV), len(f.Tensors), f.Alignment)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tTYPE\tVALUE")
	for _, kv := range f.KV {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", kv.Key, typeName(kv), valueText(kv.Value))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENSOR\tTYPE\tSHAPE\tSIZE")
	for _, t := range f.Tensors {
		dims := make([]string, len(t.Shape))
		for i, d := range t.Shape {
			dims[i] = strconv.FormatUint(d, 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t[%s]\t%s\n", t.Name, t.Type, strings.Join(dims, " × "), humanBytes(int64(t.Size)))
	}
	return tw.Flush()
}

// valueText prints a metadata value on one line: strings quoted and cut
// at 80 characters, arrays of more than maxArray elements summarised.
func valueText(v any) string {
	switch x := v.(type) {
	case string:
		return quoteCut(x)
	case gguf.Array:
		n := x.Len()
		if n > maxArray {
			elem := x.Elem.String()
			if x.Elem == gguf.TypeArray {
				elem = "array"
			}
			return fmt.Sprintf("[%d %ss]", n, elem)
		}
		if ss, ok := x.Values.([]string); ok {
			q := make([]string, len(ss))
			for i, s := range ss {
				q[i] = quoteCut(s)
			}
			return "[" + strings.Join(q, ", ") + "]"
		}
		return strings.ReplaceAll(fmt.Sprint(x.Values), " ", ", ")
	}
	return fmt.Sprint(v)
}

func quoteCut(s string) string {
	const max = 80
	if r := []rune(s); len(r) > max {
		return strconv.Quote(string(r[:max])) + fmt.Sprintf("… (%d chars)", len(r))
	}
	return strconv.Quote(s)
}
