package topology

import "strconv"

// Node names are topology's: stable for a deployment's life, whatever role
// failovers give the node later. These functions are the one place they are
// spelled; the backends name their nodes with them, and scenario validation
// checks a fault's node against PlannedNodes.
const (
	// PrimaryName is the first primary of the standalone, replica and
	// sentinel shapes.
	PrimaryName = "primary-0"
	// SentinelCount is how many sentinels the sentinel shape runs.
	SentinelCount = 3
	// ClusterPrimaries is how many primaries the cluster shape runs, each
	// with one replica.
	ClusterPrimaries = 3
)

// ReplicaName is the i-th replica of a primary (from 1).
func ReplicaName(i int) string { return "replica-" + strconv.Itoa(i) }

// SentinelName is the i-th sentinel (from 0).
func SentinelName(i int) string { return "sentinel-" + strconv.Itoa(i) }

// ClusterNodeName is the i-th cluster node (from 0): the primaries first,
// then their replicas.
func ClusterNodeName(i int) string { return "node-" + strconv.Itoa(i) }

// PlannedNodes lists the nodes a deployment of shape with replicas replicas
// per primary has when it starts, with their roles, as Start names them
// (replicas as Spec's defaults resolve them: replica and sentinel at least
// 1, cluster always 1). An unknown shape has none.
func PlannedNodes(shape Shape, replicas int) []Node {
	var out []Node
	switch shape {
	case ShapeStandalone, ShapeReplica, ShapeSentinel:
		out = append(out, Node{Name: PrimaryName, Role: RolePrimary})
		if shape == ShapeStandalone {
			break
		}
		for i := 1; i <= defaultReplicas(shape, replicas); i++ {
			out = append(out, Node{Name: ReplicaName(i), Role: RoleReplica})
		}
		if shape == ShapeSentinel {
			for i := range SentinelCount {
				out = append(out, Node{Name: SentinelName(i), Role: RoleSentinel})
			}
		}
	case ShapeCluster:
		for i := range ClusterPrimaries * (1 + defaultReplicas(shape, replicas)) {
			role := RolePrimary
			if i >= ClusterPrimaries {
				role = RoleReplica
			}
			out = append(out, Node{Name: ClusterNodeName(i), Role: role})
		}
	}
	return out
}

// defaultReplicas is the number of replicas per primary a shape runs when
// asked for replicas: none on standalone, exactly 1 on a cluster, at least 1
// (the default for 0) on replica and sentinel.
func defaultReplicas(shape Shape, replicas int) int {
	switch shape {
	case ShapeStandalone:
		return 0
	case ShapeCluster:
		return 1
	}
	return max(replicas, 1)
}
