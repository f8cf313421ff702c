// Package cluster holds the suites that run ocfkit's agents under a real
// Corosync + Pacemaker started by the tests themselves (see package
// harness): the stock agents as a proof of the harness, the group of Dante's
// failover guide (ocf:heartbeat:IPaddr2 + ocf:dante:sockd) on one node and
// failing over between two, and an ocf:ocfkit:vipcheck clone driving a
// location rule.
//
// Run as root: go test -v ./tests/cluster/... (about 2.5 minutes).
package cluster
