//go:build tools

// Package tools only anchors the module graph; tests/k8s/build.sh builds the commands with
// `go build` (a command cannot be imported).
package tools
