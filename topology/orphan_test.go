package topology

func runOrphanHelper() bool { return false }
