# Sourced by scripts/demo.sh and the benchmarks: the Dante configuration
# they run, the shell twin of internal/testenv.DanteConfig. Clients may
# CONNECT and UDP ASSOCIATE anywhere in both families: only namespaces the
# script made are reachable.

# danted_conf FILE LOGFILE INTERNAL EXTERNAL writes a danted.conf (Dante
# 1.4: one keyword per line; socksmethod and the udpreply rule are required).
danted_conf() {
    cat >"$1" <<EOF
logoutput: $2
internal: $3 port = 1080
external: $4
clientmethod: none
socksmethod: none
user.privileged: root
user.unprivileged: nobody
client pass {
  from: 0/0 to: 0/0
  log: error
}
socks pass {
  from: 0/0 to: 0/0
  command: connect udpassociate
  log: error
}
socks pass {
  from: 0/0 to: 0/0
  command: udpreply
  log: error
}
EOF
}
