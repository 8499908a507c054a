package topology

import (
	"context"
	"fmt"
)

func startExternal(ctx context.Context, spec Spec) (Deployment, error) {
	return nil, fmt.Errorf("topology: external backend: %w", ErrUnsupported)
}
