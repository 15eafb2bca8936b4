package gguf

import "math"

// Get returns the raw metadata value of key.
func (f *File) Get(key string) (any, bool) {
	i, ok := f.kvIdx[key]
	if !ok {
		return nil, false
	}
	return f.KV[i].Value, true
}

// String returns a string value.
func (f *File) String(key string) (string, bool) {
	v, _ := f.Get(key)
	s, ok := v.(string)
	return s, ok
}

// Bool returns a bool value.
func (f *File) Bool(key string) (bool, bool) {
	v, _ := f.Get(key)
	b, ok := v.(bool)
	return b, ok
}

// Int64 returns any integer value that fits in an int64 (converters are
// not consistent about which integer type they write).
func (f *File) Int64(key string) (int64, bool) {
	v, _ := f.Get(key)
	switch x := v.(type) {
	case uint8:
		return int64(x), true
	case int8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case int16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case int32:
		return int64(x), true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	case int64:
		return x, true
	}
	return 0, false
}

// Uint32 returns an integer value that fits in a uint32.
func (f *File) Uint32(key string) (uint32, bool) {
	v, ok := f.Int64(key)
	if !ok || v < 0 || v > math.MaxUint32 {
		return 0, false
	}
	return uint32(v), true
}

// Uint64 returns a non-negative integer value.
func (f *File) Uint64(key string) (uint64, bool) {
	if v, _ := f.Get(key); v != nil {
		if x, ok := v.(uint64); ok {
			return x, true
		}
	}
	v, ok := f.Int64(key)
	if !ok || v < 0 {
		return 0, false
	}
	return uint64(v), true
}

// Float32 returns a float value (float32, or float64 narrowed).
func (f *File) Float32(key string) (float32, bool) {
	v, _ := f.Get(key)
	switch x := v.(type) {
	case float32:
		return x, true
	case float64:
		return float32(x), true
	}
	return 0, false
}

// Array returns an array value.
func (f *File) Array(key string) (Array, bool) {
	v, _ := f.Get(key)
	a, ok := v.(Array)
	return a, ok
}

// Strings returns a string array.
func (f *File) Strings(key string) ([]string, bool) {
	a, _ := f.Array(key)
	s, ok := a.Values.([]string)
	return s, ok
}

// Float32s returns a float32 array.
func (f *File) Float32s(key string) ([]float32, bool) {
	a, _ := f.Array(key)
	s, ok := a.Values.([]float32)
	return s, ok
}

// Int32s returns an integer array converted to int32 (int32 arrays as
// they are; other integer arrays when every element fits).
func (f *File) Int32s(key string) ([]int32, bool) {
	a, ok := f.Array(key)
	if !ok {
		return nil, false
	}
	if s, ok := a.Values.([]int32); ok {
		return s, true
	}
	out := make([]int32, 0, a.Len())
	conv := func(v int64) bool {
		if v < math.MinInt32 || v > math.MaxInt32 {
			return false
		}
		out = append(out, int32(v))
		return true
	}
	switch s := a.Values.(type) {
	case []uint8:
		for _, v := range s {
			conv(int64(v))
		}
	case []int8:
		for _, v := range s {
			conv(int64(v))
		}
	case []uint16:
		for _, v := range s {
			conv(int64(v))
		}
	case []int16:
		for _, v := range s {
			conv(int64(v))
		}
	case []uint32:
		for _, v := range s {
			if !conv(int64(v)) {
				return nil, false
			}
		}
	case []int64:
		for _, v := range s {
			if !conv(v) {
				return nil, false
			}
		}
	case []uint64:
		for _, v := range s {
			if v > math.MaxInt32 {
				return nil, false
			}
			conv(int64(v))
		}
	default:
		return nil, false
	}
	return out, true
}

// Architecture returns general.architecture.
func (f *File) Architecture() string {
	s, _ := f.String("general.architecture")
	return s
}
