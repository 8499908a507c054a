// Package redistext reads and writes the text a Redis server reads and
// reports, for the packages that talk to Redis but must not import each
// other (pool, the cache manager under test, and topology, which runs the
// deployments): INFO replies, memory sizes as redis.conf and CONFIG SET read
// them, and the maxmemory-policy names Redis accepts.
package redistext
