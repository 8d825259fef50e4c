package demo

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
)

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// displayValue shows a field's JSON value for people: a string without its quotes, anything else as
// its JSON text.
func displayValue(raw json.RawMessage) string {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s
	}
	return string(raw)
}

// isInteger reports whether a field holds an integer, as counters do.
func isInteger(raw json.RawMessage) bool {
	_, err := strconv.ParseInt(string(raw), 10, 64)
	return err == nil
}
