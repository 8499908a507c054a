package topology

import (
	"context"
	"fmt"
)

func startContainer(ctx context.Context, spec Spec) (Deployment, error) {
	return nil, fmt.Errorf("topology: container backend: %w", ErrUnsupported)
}
