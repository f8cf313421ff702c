package realserver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ocfkit/ocfkit/agents/ocf"
	"github.com/ocfkit/ocfkit/internal/duration"
	"github.com/ocfkit/ocfkit/metadata"
)

// cliInstance is the instance name of the command-line interface: its
// state is shared with the OCF instances on the node. It holds characters
// no XML ID, and so no Pacemaker resource id, can hold ('<', ' ', '>'):
// a resource named "cli" is not the command line.
const cliInstance = "<command line>"

// Exit statuses of status; up and down exit with the OCF codes, and 2
// for a usage error too.
const (
	statusUp      = 0
	statusDrifted = 1
	statusUsage   = 2
	statusDown    = 3
	statusUnknown = 4
)

// cliTimeouts is the range of --timeout.
var cliTimeouts = duration.Range{Unit: time.Second, Min: time.Second, Max: time.Hour}

// errCannotTell is wrapped by monitor errors that say nothing about the
// instance: the state could not be read (status as a user who may not).
var errCannotTell = errors.New("cannot tell")

// cliCommands returns up, down and status.
func cliCommands() []*cli.Command {
	flags := func() []cli.Flag {
		return []cli.Flag{
			&cli.StringFlag{Name: "vipaddrs", Usage: "the vipaddrs `FILE` (default " + defaultVipaddrs + ")"},
			&cli.StringFlag{Name: "addresses", Usage: "`ADDRESSES` (or subnets) besides the file, separated by commas"},
			&cli.StringFlag{Name: "interface", Usage: "the `INTERFACE` the VIPs go on (default lo)"},
			&cli.StringFlag{Name: "arp-interfaces", Usage: "`INTERFACES` whose arp_ignore and arp_announce are set (default all)"},
			&cli.StringFlag{Name: "timeout", Value: "20", Usage: "time limit: `SECONDS`, or a duration such as 1m30s (" + cliTimeouts.String() + ")"},
		}
	}
	return []*cli.Command{
		{
			Name:  "up",
			Usage: "add the VIPs to the loopback and set arp_ignore=1 and arp_announce=2 (the OCF start)",
			Flags: flags(),
			Action: func(c *cli.Context) error {
				return cliAction(c, Start, func(err error) int { return int(ocf.CodeOf(err)) })
			},
		},
		{
			Name:  "down",
			Usage: "remove the VIPs this program added and restore the sysctls it changed (the OCF stop)",
			Flags: flags(),
			Action: func(c *cli.Context) error {
				return cliAction(c, Stop, func(err error) int { return int(ocf.CodeOf(err)) })
			},
		},
		{
			// Pacemaker's "status" (monitor's old name, with
			// OCF_RESOURCE_INSTANCE set) stays the OCF action; on a
			// command line agents/ocf serves this command instead.
			Name:  "status",
			Usage: "exit 0 when every VIP and sysctl is in place, 1 when one drifted, 3 when down, 4 when it cannot tell (the state is unreadable)",
			Flags: append(flags(), &cli.IntFlag{Name: "depth", Usage: "0, or 10 to also check that no interface would answer ARP for a VIP"}),
			Action: func(c *cli.Context) error {
				return cliAction(c, Monitor, func(err error) int {
					switch ocf.CodeOf(err) {
					case ocf.Success:
						return statusUp
					case ocf.NotRunning:
						return statusDown
					}
					if errors.Is(err, errCannotTell) {
						return statusUnknown
					}
					return statusDrifted
				})
			},
		},
	}
}

// cliAction runs an OCF handler with the flags as its parameters and
// exits with code(err).
func cliAction(c *cli.Context, h ocf.Handler, code func(error) int) error {
	if c.NArg() > 0 {
		return fmt.Errorf("%s takes no arguments, got %q", c.Command.Name, c.Args().Slice())
	}
	// Every flag is checked before anything is touched.
	timeout, err := cliTimeouts.Parse(c.String("timeout"))
	if err != nil {
		return cli.Exit(fmt.Sprintf("%s: --timeout: %v", c.Command.Name, err), statusUsage)
	}
	if d := c.Int("depth"); d != 0 && d != 10 {
		return cli.Exit(fmt.Sprintf("%s: --depth %d: the depth is 0 or 10", c.Command.Name, d), statusUsage)
	}
	if c.Command.Name != "up" {
		for _, f := range []string{"vipaddrs", "addresses", "interface", "arp-interfaces"} {
			if c.IsSet(f) {
				fmt.Fprintf(c.App.ErrWriter, "%s: --%s is ignored: %s acts on what up registered (with nothing registered, on the addresses the flags name that carry the agent's mark)\n", c.Command.Name, f, c.Command.Name)
			}
		}
	}
	meta, err := metadata.Load("realserver")
	if err != nil {
		return cli.Exit(err.Error(), 1)
	}
	params := map[string]string{
		"OCF_RESKEY_vipaddrs":       c.String("vipaddrs"),
		"OCF_RESKEY_addresses":      c.String("addresses"),
		"OCF_RESKEY_interface":      c.String("interface"),
		"OCF_RESKEY_arp_interfaces": c.String("arp-interfaces"),
	}
	env := func(key string) (string, bool) {
		if v, ok := params[key]; ok {
			return v, v != ""
		}
		return os.LookupEnv(key)
	}
	req := &ocf.Request{Action: c.Command.Name, Instance: cliInstance, Params: ocf.NewParams(meta, env),
		Log: ocf.CommandLog(c), Depth: c.Int("depth"), Timeout: timeout}
	ctx, cancel := context.WithTimeout(c.Context, req.Timeout)
	defer cancel()
	err = h(ctx, req)
	n := code(err)
	if n == 0 {
		if c.Command.Name == "status" {
			fmt.Fprintln(c.App.Writer, "up")
		}
		return nil
	}
	return cli.Exit(fmt.Sprintf("%s: %v", c.Command.Name, err), n)
}
