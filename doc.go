// Package cacheproof is the root of the cacheproof module: a load-testing and
// chaos-validation harness for Redis cache layers. The command lives in
// cmd/cacheproof; each top-level folder owns one concern (see README.md).
package cacheproof
