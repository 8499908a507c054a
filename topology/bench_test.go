package topology

import (
	"context"
	"testing"
)

// BenchmarkStartStandalone measures what every run and test pays to get a
// ready standalone node: config, fork from the launcher thread, PING, Close.
func BenchmarkStartStandalone(b *testing.B) {
	if _, err := FindRedisServer(""); err != nil {
		b.Skip(err)
	}
	ctx := context.Background()
	for b.Loop() {
		d, err := Start(ctx, Spec{Dir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		if err := d.Close(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDo measures one control command round trip through Do.
func BenchmarkDo(b *testing.B) {
	if _, err := FindRedisServer(""); err != nil {
		b.Skip(err)
	}
	ctx := context.Background()
	d, err := Start(ctx, Spec{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close(ctx)
	for b.Loop() {
		if _, err := d.Do(ctx, "primary-0", "PING"); err != nil {
			b.Fatal(err)
		}
	}
}
