cat > /usr/local/sbin/carp-hook-up <<'EOF2'
#!/bin/sh
exec /usr/sbin/carp-hook -c /etc/carp-hook.toml ucarp up "$@"
EOF2
cat > /usr/local/sbin/carp-hook-down <<'EOF2'
#!/bin/sh
exec /usr/sbin/carp-hook -c /etc/carp-hook.toml ucarp down "$@"
EOF2
chmod 755 /usr/local/sbin/carp-hook-up /usr/local/sbin/carp-hook-down

ucarp -i eth0 -s 10.0.0.11 -v 42 -p secret -a 10.0.0.50 -b 1 -k 0 -P -z \
      -x dante -u /usr/local/sbin/carp-hook-up -d /usr/local/sbin/carp-hook-down
