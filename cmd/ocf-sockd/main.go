// Command ocf-sockd is the OCF resource agent ocf:dante:sockd for the Dante
// SOCKS server, and a SOCKS5 health check for relayd, keepalived,
// ldirectord and Nagios (ocf-sockd check).
package main

import "github.com/ocfkit/ocfkit/agents/sockd"

func main() { sockd.Agent().Main() }
