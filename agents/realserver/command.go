package realserver

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ocfkit/ocfkit/agents/ocf"
	"github.com/ocfkit/ocfkit/metadata"
)

// cliInstance is the instance name of the command-line interface: its
// state is shared with the OCF instances on the node.
const cliInstance = "cli"

// Exit statuses of status.
const (
	statusUp      = 0
	statusDrifted = 1
	statusDown    = 3
)

// cliCommands returns up, down and status.
func cliCommands() []*cli.Command {
	flags := func() []cli.Flag {
		return []cli.Flag{
			&cli.StringFlag{Name: "vipaddrs", Usage: "the vipaddrs `FILE` (default " + defaultVipaddrs + ")"},
			&cli.StringFlag{Name: "addresses", Usage: "`ADDRESSES` (or subnets) besides the file, separated by commas"},
			&cli.StringFlag{Name: "interface", Usage: "the `INTERFACE` the VIPs go on (default lo)"},
			&cli.StringFlag{Name: "arp-interfaces", Usage: "`INTERFACES` whose arp_ignore and arp_announce are set (default all)"},
			&cli.IntFlag{Name: "timeout", Value: 20, Usage: "time limit in `SECONDS`"},
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
			Usage: "exit 0 when every VIP and sysctl is in place, 1 when one drifted, 3 when down",
			Flags: append(flags(), &cli.IntFlag{Name: "depth", Usage: "10 also checks that no interface would answer ARP for a VIP"}),
			Action: func(c *cli.Context) error {
				return cliAction(c, Monitor, func(err error) int {
					switch ocf.CodeOf(err) {
					case ocf.Success:
						return statusUp
					case ocf.NotRunning:
						return statusDown
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
		Log: ocf.CommandLog(c), Depth: c.Int("depth"), Timeout: time.Duration(c.Int("timeout")) * time.Second}
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
