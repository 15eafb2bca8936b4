//go:build !unix

package gguf

import (
	"io"
	"os"
)

// mapFile reads the whole file where memory mapping is not wired up.
func mapFile(fh *os.File) ([]byte, func() error, error) {
	b, err := io.ReadAll(fh)
	if err != nil {
		return nil, nil, err
	}
	return b, func() error { return nil }, nil
}
