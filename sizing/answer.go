package sizing

import (
	"context"

	"github.com/cacheproof/cacheproof/result"
	"github.com/cacheproof/cacheproof/scenarios"
)

// Answer is `cacheproof size`'s finished result: Compute's curves and
// what-ifs with the header a report needs, the tool that made it and the
// scenario as the command line set it (its --set values), so the command
// only wires flags to Options and the result to its files.
func Answer(ctx context.Context, s *scenarios.Scenario, o Options, tool result.ToolInfo) (*result.Sizing, error) {
	z, _, err := Compute(ctx, s, o)
	if err != nil {
		return nil, err
	}
	z.Tool = tool
	z.Scenario = s.Info()
	return z, nil
}
