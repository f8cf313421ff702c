package helptest

import (
	"slices"
	"testing"
)

const help = `NAME:
   prog - does things

COMMANDS:
   check, c  check once
   run       run

GLOBAL OPTIONS:
   --config FILE, -c FILE  configuration FILE
   --debug                 log more

OPTIONS:
   --target value, -t value  a target (accepts multiple inputs)
   --target value, -t value  repeated
`

func TestCommandsAndOptions(t *testing.T) {
	if got := Commands(help); !slices.Equal(got, []string{"check", "run"}) {
		t.Errorf("Commands = %q", got)
	}
	if got := Options(help, "OPTIONS:"); !slices.Equal(got, []string{"--target", "-t"}) {
		t.Errorf("Options(OPTIONS:) = %q", got)
	}
	if got := Options(help, "GLOBAL OPTIONS:", "OPTIONS:"); !slices.Equal(got, []string{"--config", "-c", "--debug", "--target", "-t"}) {
		t.Errorf("Options(both) = %q", got)
	}
}
