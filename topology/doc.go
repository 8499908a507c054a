// Package topology owns the Redis deployments that cacheproof tests against:
// starting them, reaching them and breaking them on purpose.
//
// A Deployment is one running Redis shape (standalone, replica, sentinel or
// cluster) behind one of three backends:
//
//   - process: every node is a redis-server child process of this tool, on a
//     free 127.0.0.1 port in its own temporary folder. Children are tied to the
//     tool with the Linux parent-death signal, so no redis-server outlives the
//     tool, not even when the tool itself is killed with SIGKILL.
//   - container: every node is a container started through testcontainers-go.
//   - external: a deployment someone else runs; controls that would change or
//     stop it are refused unless Spec.AllowDestructive is set.
//
// A Deployment is split by what its callers need, each taking the smallest
// part: the pool manager connects to what an EndpointSource gives, the
// sampler reads an InfoSource, the chaos package turns a Controller's controls
// (Stop, Kill, Start, Pause, PauseFor, Resume, Do, Info) into faults, and
// only the one who started the deployment holds its Closer.
package topology
