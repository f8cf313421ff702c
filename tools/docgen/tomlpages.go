package main

import (
	"fmt"
	"strconv"

	"github.com/ocfkit/ocfkit/agents/anycastprobe"
	"github.com/ocfkit/ocfkit/agents/dnsfailover"
)

// anycastProbeTOML is anycast-probe.toml(5).
var anycastProbeTOML = &tomlPage{
	Program: "anycast-probe",
	Config:  anycastprobe.DefaultConfig,
	Example: "dist/examples/anycast-probe.toml",
	Parse: func(path string, data []byte) error {
		_, err := anycastprobe.ParseConfig(path, data)
		return err
	},
	Description: []string{
		"anycast-probe(8) run reads a TOML file that names services: a set of anycast addresses (or host routes) " +
			"and the checks that must pass for this host to announce them. While a service is healthy its addresses " +
			"are on its interface (or its routes in the main table), marked with the file's protocol number, for the " +
			"routing daemon (bird, ospfd, FRR) to announce; when it is not, they are removed. Each service is checked " +
			"on its own; every check of a round runs at once, each bounded by the service's timeout.",
		rootOnlyText("anycast-probe"),
		"Unknown keys, and check keys that do not belong to the check's type, are errors that name the line. " +
			durationText + " `anycast-probe check -c FILE` probes every service once without holding anything; " +
			"SIGHUP makes the daemon read the file again, restarting only the services that changed.",
	},
	Tables: []tomlTable{
		{Title: "TOP-LEVEL KEYS", Struct: anycastprobe.Config{}, Tables: []string{"service"}, Keys: []tomlKey{
			{"socket", "PATH", "Absolute path (at most 100 bytes) of the unix socket `anycast-probe status` asks. " +
				"Default: " + anycastprobe.DefaultSocket + "."},
			{"protocol", "N", "The kernel protocol number marking the addresses (IFA_PROTO) and routes anycast-probe adds, " +
				"5 to 255; at start it removes what carries the mark but is in no service of the file. Default: " +
				strconv.Itoa(anycastprobe.DefaultProtocol) + "."},
			{"metrics_listen", "IP:PORT", "Serve Prometheus metrics (GET /metrics) on this address: per service up, " +
				"transitions, probes by result, a probe duration histogram and the stage of the last failure. " +
				"Off by default; a change takes effect on restart, not on SIGHUP."},
		}},
		{Title: "SERVICES: [service.NAME]", Struct: anycastprobe.Service{}, Keys: []tomlKey{
			{"interface", "IFACE", "The interface that holds the addresses, or the routes go through. Default: " + anycastprobe.DefaultIface + "."},
			{"addresses", "[ADDRESS, ...]", "The host addresses held while the service is healthy: IPv4 or IPv6 " +
				"unicast addresses, without prefix or with /32 or /128. An address belongs to one service only."},
			{"routes", "[ADDRESS, ...]", "Instead of addresses: host routes to these addresses via the interface. " +
				"A service holds addresses or routes, not both."},
			{"mode", "all|any", "all: every check must pass (the default); any: one passing check is enough."},
			{"rise", "N", "How many healthy rounds in a row bring the service up, 1 to 100. Default: 1."},
			{"fall", "N", "How many failed rounds in a row take it down, 1 to 100. Default: 1."},
			{"interval", "DURATION", "The gap between rounds, " + anycastprobe.IntervalRange.String() + ". Default: 1s."},
			{"fast_interval", "DURATION", "The gap while a change is pending (rise or fall not reached yet), " +
				"at most interval. Default: interval."},
			{"timeout", "DURATION", "Bound of each check, " + anycastprobe.TimeoutRange.String() + ". Default: 1s."},
			{"jitter", "DURATION", "Waits a random time up to this before the first round, so that services and " +
				"hosts do not probe in step, " + anycastprobe.JitterRange.String() + ". Default: 0."},
			{"on_up", "[PROGRAM, ARG, ...]", "A command run when the service comes up: an absolute program path and " +
				"its arguments, no shell, bounded by 30s."},
			{"on_down", "[PROGRAM, ARG, ...]", "A command run when it goes down, as on_up."},
			{"check", "", "The service's checks, each an [[service.NAME.check]] table; at least one, at most 64."},
		}},
		{Title: "CHECKS: [[service.NAME.check]]", Struct: anycastprobe.CheckConfig{}, Keys: []tomlKey{
			{"type", "dns|tcp|exec|radius|syslog|proxy|socks", "The check's type. Required."},
			{"server", "ADDRESS[:PORT]", "dns: the resolver asked, recursion desired. Default: 127.0.0.1 (port 53). " +
				"radius, syslog, proxy, socks: the server checked, HOST:PORT. Required for those."},
			{"query", "NAME", "dns: the name asked. Default: the root."},
			{"qtype", "TYPE", "dns: the query type (A, AAAA, SOA...). Default: NS for the root, A otherwise."},
			{"edns", "N", "dns: add an EDNS OPT record with this UDP size, 512 to 65535; 0 (the default) adds none."},
			{"rcode", "RCODE", "dns: the rcode the answer must have (NOERROR, NXDOMAIN...). Default: NOERROR."},
			{"answer", "true|false", "dns: whether the answer must hold a record of the query type. " +
				"Default: true for NOERROR, false for any other rcode."},
			{"value", "TEXT", "dns: the text (address, CNAME, TXT...) one answer record must have."},
			{"address", "HOST:PORT", "tcp: where to connect. Required."},
			{"send", "TEXT", "tcp, socks: what to send once connected; \\r, \\n, \\t and \\\\ are CR, LF, tab and backslash."},
			{"expect", "TEXT", "tcp, socks: what the reply must hold, with the escapes of send (socks: default, the echo of send)."},
			{"command", "[PROGRAM, ARG, ...]", "exec: the command run (an absolute program path, no shell); exit status 0 " +
				"is healthy. Its whole process group is killed at the timeout."},
			{"secret_file", "PATH", "radius: the shared secret, read from this file (absolute path; a regular file only " +
				"root or the daemon's user can write). Required. Secrets are never taken from the configuration, argv or the environment."},
			{"accounting", "true|false", "radius: ask the accounting port, expecting an Accounting-Response. Default: false (Status-Server, Access-Accept)."},
			{"user", "NAME", "radius: send an Access-Request for this test user instead of Status-Server (with password_file); " +
				"socks: the RFC 1929 user name."},
			{"password_file", "PATH", "radius, socks: the user's password, read from this file, as secret_file (at most 255 bytes)."},
			{"reply_message", "TEXT", "radius: text the reply's Reply-Message must hold."},
			{"retry", "DURATION", "radius: the first resend of an unanswered request, doubling afterwards, 10ms to 1m. Default: 1s."},
			{"format", "rfc5424|rfc3164", "syslog: the framing of the probe message. Default: rfc5424."},
			{"tcp", "true|false", "dns: ask over TCP instead of UDP; syslog: send over TCP. Default: false."},
			{"octet_counting", "true|false", "syslog, over TCP: frame with RFC 6587 octet counting. Default: false (LF)."},
			{"relay", "HOST:PORT", "syslog: where the daemon relays the message; the probe listens there for its token. " +
				"Exactly one of relay and file."},
			{"relay_tcp", "true|false", "syslog: the relay is TCP. Default: false (UDP)."},
			{"file", "PATH", "syslog: instead of relay, the log file (absolute path) the token must appear in."},
			{"target", "URL or HOST:PORT", "proxy: the URL asked through the proxy (required); socks: the HOST:PORT to CONNECT to " +
				"(without it, a socks check does the greeting and authentication only)."},
			{"connect", "true|false", "proxy: use CONNECT instead of an absolute-form GET (needed for https targets). Default: false."},
			{"status", "N", "proxy: the status the answer must have. Default: 200. A 502, 503 or 504 from the proxy is stage upstream."},
			{"body", "TEXT", "proxy: text the body must hold."},
			{"udp", "true|false", "socks: a UDP ASSOCIATE round trip of send to target instead of CONNECT. Default: false."},
		}},
	},
	Files: [][2]string{
		{anycastprobe.DefaultConfig, "The default configuration file; anycast-probe --config names another."},
		{anycastprobe.DefaultSocket, "The default status socket."},
	},
	SeeAlso: []string{"anycast-probe(8)", "bird(8)", "ospfd(8)"},
}

// dnsFailoverTOML is dns-failover.toml(5).
var dnsFailoverTOML = &tomlPage{
	Program: "dns-failover",
	Config:  dnsfailover.DefaultConfig,
	Example: "dist/examples/dns-failover.toml",
	Parse: func(path string, data []byte) error {
		_, err := dnsfailover.ParseConfig(path, data)
		return err
	},
	Description: []string{
		"dns-failover(8) reads a TOML file that names round-robin records and their members. Every round it checks " +
			"each member and, with dynamic updates (RFC 2136, signed with TSIG), removes from the primaries the " +
			"members that fail (after fall failures in a row) and adds back those that answer again (after rise " +
			"successes), never taking a record below min_records.",
		rootOnlyText("dns-failover"),
		"Unknown keys are errors that name the line. " + durationText,
	},
	Tables: []tomlTable{
		{Title: "TOP-LEVEL KEYS", Struct: dnsfailover.Config{}, Tables: []string{"record"}, Keys: []tomlKey{
			{"primaries", "[ADDRESS[:PORT], ...]", "The primary servers every update goes to, by IP address " +
				"(port 53 by default); 1 to 32. Required."},
			{"zone", "ZONE", "The zone of the records that set none."},
			{"tsig_key", "PATH", "Absolute path of a BIND-format key file (tsig-keygen(8)) signing the updates; it must be " +
				"a regular file only root can have written. Default: unsigned updates."},
			{"tsig_key_name", "NAME", "The key of tsig_key to use. Default: the first key of the file."},
			{"allow_hmac_md5", "true|false", "Accept an hmac-md5 key. Default: false."},
			{"state_file", "PATH", "Absolute path of the rise and fall state kept between rounds and runs of once. " +
				"Default: " + dnsfailover.DefaultStateFile + "."},
			{"interval", "DURATION", "The gap between rounds. Default: 1s."},
			{"fast_interval", "DURATION", "The gap while a member is between up and down (rise or fall not reached), " +
				"at most interval. Default: interval."},
			{"timeout", "DURATION", "Bound of each check. Default: 1s."},
			{"rise", "N", fmt.Sprintf("Successes in a row that bring a member back, 1 to 100. Default: %d.", dnsfailover.DefaultRise)},
			{"fall", "N", fmt.Sprintf("Failures in a row that remove it, 1 to 100. Default: %d.", dnsfailover.DefaultFall)},
			{"ttl", "SECONDS", fmt.Sprintf("The TTL of added records, at most 604800. Default: %d.", dnsfailover.DefaultTTL)},
			{"max_removals", "N", "At most this many removals per round over all records; 0 (the default) is no bound."},
			{"notify", "[PROGRAM, ARG, ...]", "A command run for every change and refusal (an absolute program path, no " +
				"shell), with DNS_FAILOVER_EVENT, DNS_FAILOVER_NAME, DNS_FAILOVER_ADDRESS and DNS_FAILOVER_MESSAGE " +
				"in its environment and the message on its standard input."},
			{"watch", "true|false", "The default of the checks' watch, for the checks over TCP (send-expect, tls, http, " +
				"https); dns and exec checks are never watched. Default: false."},
		}},
		{Title: "RECORDS: [[record]]", Struct: dnsfailover.Record{}, Tables: []string{"check", "member"}, Keys: []tomlKey{
			{"name", "NAME", "The record's owner name, in its zone. Required. Its members make it an A or AAAA record."},
			{"zone", "ZONE", "The zone updated. Default: the top-level zone."},
			{"ttl", "SECONDS", "The TTL of its added records. Default: the top-level ttl."},
			{"min_records", "N", "Failing members are kept so that at least this many remain, 0 to the number of " +
				"members. Default: 1."},
		}},
		{Title: "MEMBERS: [[record.member]]", Struct: dnsfailover.Member{}, Tables: []string{"check", "restart"}, Keys: []tomlKey{
			{"address", "ADDRESS", "The member's IPv4 or IPv6 address; the members of a record are of one family. Required."},
		}},
		{Title: "CHECKS: [record.check], [record.member.check]", Struct: dnsfailover.Check{}, Keys: []tomlKey{
			{"type", "TYPE", "send-expect (the default), tls, http, https, dns or exec. [record.check] is the " +
				"check of the members that have none of their own."},
			{"port", "PORT", "The port checked on the member, a number or a name of /etc/services. Default: 80 for " +
				"http, 443 for https, 53 for dns; required for send-expect and tls."},
			{"send", "TEXT", "send-expect, tls: what to send once connected."},
			{"expect", "TEXT", "send-expect, tls: what the reply must hold; http, https: text the body must hold; " +
				"dns: text an answer record must hold."},
			{"host", "NAME", "http, https: the Host header; tls, https: the server name verified. Default: the member's address."},
			{"path", "PATH", "http, https: the path asked. Default: /."},
			{"status", "N", "http, https: the status the reply must have. Default: 200."},
			{"query", "NAME", "dns: the name asked of the member (over UDP; NOERROR with an answer). Required."},
			{"qtype", "TYPE", "dns: the query type. Default: A."},
			{"command", "[PROGRAM, ARG, ...]", "exec: the command run (an absolute program path, no shell) with " +
				"MEMBER_ADDRESS and MEMBER_PORT in its environment; exit status 0 is healthy."},
			{"insecure", "true|false", "tls, https: skip the certificate verification. Default: false."},
			{"watch", "true|false", "send-expect, tls, http, https: after each check that passes, dns-failover run holds " +
				"one idle TCP connection to the member's port (it sends nothing, and reads and discards what the server " +
				"sends, such as a banner, up to 64 KiB: past that it closes the connection and opens none before the next " +
				"round). When the member closes or resets it (its process dies or is killed or restarted, its host shuts " +
				"down cleanly), the member is checked at once instead of at the next round, with the same rise and fall " +
				"(fall above 1 still needs fall failed checks, fast_interval apart) and within what is left of the round's " +
				"max_removals; a member is checked early at most once per interval. A member that closes its watch yet passes " +
				"that check (a server that closes idle connections, at once or after a while, or a quick restart) is not watched " +
				"for an interval, then twice as long after each such false alarm, up to 64 intervals; a failed check, or a watch " +
				"that lasted 64 intervals, starts that anew. A host that vanishes without a word (power cut, cable) closes " +
				"nothing: the regular checks find it. The connection counts as a client for the server (a worker of Apache's " +
				"prefork, a slot of a connection limit: do not watch a server that serves one client at a time, the watch " +
				"would block its checks). " +
				"dns and exec checks cannot be watched. once never watches. Default: the top-level watch."},
		}},
		{Title: "RESTARTS: [record.member.restart]", Struct: dnsfailover.Restart{}, Keys: []tomlKey{
			{"type", "systemd|ocf|exec", "The one restart tried before a failing member is removed. Required."},
			{"unit", "UNIT", "systemd: the unit restarted."},
			{"agent", "PROVIDER:TYPE", "ocf: the OCF resource agent restarted (stop, then start)."},
			{"instance", "NAME", "ocf: OCF_RESOURCE_INSTANCE."},
			{"params", "{ name = \"value\", ... }", "ocf: the instance parameters, passed as OCF_RESKEY_name."},
			{"command", "[PROGRAM, ARG, ...]", "exec: the command run (an absolute program path, no shell)."},
			{"timeout", "DURATION", "Bound of the restart. Default: 30s."},
			{"backoff", "DURATION", "The least time between two restarts of the member, up to 24h. Default: 1m."},
		}},
	},
	Files: [][2]string{
		{dnsfailover.DefaultConfig, "The default configuration file; dns-failover --config (or $" + dnsfailover.ConfigEnv + ") names another."},
		{dnsfailover.DefaultStateFile, "The default state file."},
	},
	SeeAlso: []string{"dns-failover(8)", "nsupdate(1)", "tsig-keygen(8)"},
}
